/*
 * test_sampler — the sampler against distributions computed here by hand.
 *
 * The chi-square tests draw N coins from the counter RNG under a fixed key, so they
 * are deterministic: a pass is a pass forever, and a real bias (a wrong filter, an
 * off-by-one in the inverse CDF) moves the statistic far past the p = 0.001
 * threshold at N = 200000.
 */
#include "test.h"

#include <stdint.h>

#include "rng.h"
#include "sampler.h"

#define V 8
#define DRAWS 200000

/* A fixed, uneven distribution with a tie (ids 1 and 4) and one unlikely token. */
static const float logits8[V] = { 1.0f, 2.0f, 0.5f, -1.0f, 2.0f, 0.0f, 2.2f, -3.0f };

struct scratch {
	float probs[V];
	struct sampler_rank ranks[V];
	struct sampler_scratch s;
};

static void scratch_init(struct scratch *sc)
{
	sc->s = (struct sampler_scratch){ sc->probs, sc->ranks };
}

/*
 * The filtered distribution written out independently, in double: softmax(z / T),
 * rank by probability (ties: lower id first), keep the first top_k, then the shortest
 * prefix whose mass reaches top_p, renormalise.
 */
static void hand_distribution(const float *z, int n, float temperature, int top_k, float top_p,
	double *out)
{
	double p[64], mx = -INFINITY, sum = 0;
	int order[64];
	for (int i = 0; i < n; i++)
		mx = fmax(mx, (double)z[i] / temperature);
	for (int i = 0; i < n; i++)
		sum += p[i] = exp((double)z[i] / temperature - mx);
	for (int i = 0; i < n; i++) {
		p[i] /= sum;
		order[i] = i;
	}
	for (int i = 1; i < n; i++) /* insertion sort: descending p, ascending id */
		for (int j = i; j > 0 && (p[order[j]] > p[order[j - 1]] ||
			(p[order[j]] == p[order[j - 1]] && order[j] < order[j - 1])); j--) {
			int t = order[j];
			order[j] = order[j - 1];
			order[j - 1] = t;
		}
	int k = top_k > 0 && top_k < n ? top_k : n;
	double mass = 0;
	int kept = 0;
	while (kept < k) {
		mass += p[order[kept++]];
		if (top_p < 1.0f && mass >= top_p)
			break;
	}
	for (int i = 0; i < n; i++)
		out[i] = 0;
	for (int i = 0; i < kept; i++)
		out[order[i]] = p[order[i]] / mass;
}

static double log_softmax_at(const float *z, int n, int i)
{
	double mx = -INFINITY, sum = 0;
	for (int j = 0; j < n; j++)
		mx = fmax(mx, z[j]);
	for (int j = 0; j < n; j++)
		sum += exp((double)z[j] - mx);
	return (double)z[i] - mx - log(sum);
}

/* Chi-square critical values at p = 0.001 for 1..7 degrees of freedom. */
static const double chi2_crit_001[] = { 0, 10.828, 13.816, 16.266, 18.467, 20.515, 22.458, 24.322 };

/* Counts of DRAWS tokens drawn with coins from key `key`. */
static void draw_counts(const struct sampler_params *sp, uint64_t key, long count[V])
{
	struct scratch sc;
	scratch_init(&sc);
	for (int i = 0; i < V; i++)
		count[i] = 0;
	for (uint32_t i = 0; i < DRAWS; i++) {
		struct sample_out o;
		sampler_pick(logits8, V, sp, rng_uniform4(key, i, 0, 0, 0), &sc.s, &o);
		CHECK_MSG(o.token >= 0 && o.token < V, "draw %u: token %d", i, o.token);
		count[o.token]++;
	}
}

/* Pearson's statistic of counts against `want` over its nonzero cells; *df = cells - 1. */
static double chi_square(const long count[V], const float want[V], int *df)
{
	double chi2 = 0;
	int cells = 0;
	for (int i = 0; i < V; i++) {
		if (want[i] <= 0)
			continue;
		double e = (double)want[i] * DRAWS;
		chi2 += (count[i] - e) * (count[i] - e) / e;
		cells++;
	}
	*df = cells - 1;
	return chi2;
}

static const struct {
	const char *name;
	struct sampler_params p;
} cases[] = {
	{ "T=0.7", { 0.7f, 0, 1.0f } },
	{ "T=1", { 1.0f, 0, 1.0f } },
	{ "T=1.5", { 1.5f, 0, 1.0f } },
	{ "top-k 3", { 1.0f, 3, 1.0f } },
	{ "top-p 0.8", { 1.0f, 0, 0.8f } },
	{ "T=0.7 top-k 3", { 0.7f, 3, 1.0f } },
	{ "T=1.5 top-p 0.8", { 1.5f, 0, 0.8f } },
	{ "T=1.5 top-k 5 top-p 0.9", { 1.5f, 5, 0.9f } },
	{ "T=0.7 top-k 4 top-p 0.7", { 0.7f, 4, 0.7f } },
	{ "top-k 2 (tie at the cut)", { 1.0f, 2, 1.0f } },
};

static void test_sampler__greedy_picks_argmax_lowest_id_on_ties(void)
{
	struct scratch sc;
	scratch_init(&sc);
	struct sampler_params g = { 0.0f, 0, 1.0f };
	struct sample_out o;
	const float tie[V] = { -1.0f, 3.0f, 0.0f, 3.0f, 2.0f, 3.0f, -5.0f, 1.0f };
	for (float coin = 0.0f; coin < 1.0f; coin += 0.125f) {
		sampler_pick(tie, V, &g, coin, &sc.s, &o);
		CHECK(o.token == 1);
		CHECK_NEAR(o.logprob, log_softmax_at(tie, V, 1), 1e-6);
		CHECK(o.sample_logprob == 0.0f);
	}
	sampler_pick(logits8, V, &g, 0.5f, &sc.s, &o);
	CHECK(o.token == 6);
	/* the maximum at the last id and at id 0 */
	const float last[V] = { 0, 0, 0, 0, 0, 0, 0, 0.001f };
	sampler_pick(last, V, &g, 0.9f, &sc.s, &o);
	CHECK(o.token == 7);
	const float flat[V] = { 0 };
	sampler_pick(flat, V, &g, 0.9f, &sc.s, &o);
	CHECK(o.token == 0);
	/* top-k and top-p are irrelevant to greedy */
	struct sampler_params gk = { 0.0f, 3, 0.5f };
	sampler_pick(tie, V, &gk, 0.99f, &sc.s, &o);
	CHECK(o.token == 1);
	float probs[V];
	sampler_distribution(tie, V, &g, &sc.s, probs);
	for (int i = 0; i < V; i++)
		CHECK(probs[i] == (i == 1 ? 1.0f : 0.0f));
}

static void test_sampler__distribution_matches_hand_computed(void)
{
	struct scratch sc;
	scratch_init(&sc);
	for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
		const struct sampler_params *p = &cases[c].p;
		float got[V];
		double want[V], sum = 0;
		sampler_distribution(logits8, V, p, &sc.s, got);
		hand_distribution(logits8, V, p->temperature, p->top_k, p->top_p, want);
		for (int i = 0; i < V; i++) {
			CHECK_MSG(fabs(got[i] - want[i]) <= 1e-6, "%s: p[%d] = %.9g, want %.9g", cases[c].name,
				i, got[i], want[i]);
			CHECK_MSG((got[i] == 0) == (want[i] == 0), "%s: id %d kept in one and not the other",
				cases[c].name, i);
			sum += got[i];
		}
		CHECK_NEAR(sum, 1.0, 1e-6);
	}
}

/* Small cases whose answers are written down, not computed. */
static void test_sampler__distribution_known_values(void)
{
	struct scratch sc;
	scratch_init(&sc);
	float got[4];
	/* probabilities 0.4, 0.2, 0.2, 0.2 (ids 1..3 tie) */
	const float z[4] = { logf(0.4f), logf(0.2f), logf(0.2f), logf(0.2f) };
	/* top-k 2: the tie at the cut keeps the lower id */
	sampler_distribution(z, 4, &(struct sampler_params){ 1.0f, 2, 1.0f }, &sc.s, got);
	CHECK_NEAR(got[0], 2.0 / 3, 1e-6);
	CHECK_NEAR(got[1], 1.0 / 3, 1e-6);
	CHECK(got[2] == 0 && got[3] == 0);
	/* top-p 0.75: 0.4 + 0.2 = 0.6 < 0.75, + 0.2 = 0.8 reaches it: three kept */
	sampler_distribution(z, 4, &(struct sampler_params){ 1.0f, 0, 0.75f }, &sc.s, got);
	CHECK_NEAR(got[0], 0.5, 1e-6);
	CHECK_NEAR(got[1], 0.25, 1e-6);
	CHECK_NEAR(got[2], 0.25, 1e-6);
	CHECK(got[3] == 0);
	/* top-p below the largest probability keeps exactly one token */
	sampler_distribution(z, 4, &(struct sampler_params){ 1.0f, 0, 0.3f }, &sc.s, got);
	CHECK(got[0] == 1.0f && got[1] == 0 && got[2] == 0 && got[3] == 0);
	/* temperature 0.5 squares the probabilities: 0.16, 0.04 x3 over 0.28 */
	sampler_distribution(z, 4, &(struct sampler_params){ 0.5f, 0, 1.0f }, &sc.s, got);
	CHECK_NEAR(got[0], 0.16 / 0.28, 1e-6);
	CHECK_NEAR(got[3], 0.04 / 0.28, 1e-6);
	/* top-k >= V and top-p 1 change nothing */
	float all[4];
	sampler_distribution(z, 4, &(struct sampler_params){ 1.0f, 9, 1.0f }, &sc.s, all);
	for (int i = 0; i < 4; i++)
		CHECK_NEAR(all[i], i == 0 ? 0.4 : 0.2, 1e-6);
}

/* The inverse CDF runs over kept tokens in id order: coin 0 and coin -> 1 are its ends. */
static void test_sampler__coin_ends_pick_first_and_last_kept(void)
{
	struct scratch sc;
	scratch_init(&sc);
	struct sample_out o;
	const float top = 0x1.fffffep-1f; /* largest float below 1 */
	sampler_pick(logits8, V, &cases[1].p, 0.0f, &sc.s, &o);
	CHECK(o.token == 0);
	sampler_pick(logits8, V, &cases[1].p, top, &sc.s, &o);
	CHECK(o.token == 7);
	/* top-k 3 keeps ids 1, 4, 6 */
	sampler_pick(logits8, V, &cases[3].p, 0.0f, &sc.s, &o);
	CHECK(o.token == 1);
	sampler_pick(logits8, V, &cases[3].p, top, &sc.s, &o);
	CHECK(o.token == 6);
	/* top-k 1 is greedy, with sampling log-prob log 1 = 0 */
	sampler_pick(logits8, V, &(struct sampler_params){ 1.3f, 1, 1.0f }, 0.7f, &sc.s, &o);
	CHECK(o.token == 6 && o.sample_logprob == 0.0f);
	CHECK_NEAR(o.logprob, log_softmax_at(logits8, V, 6), 1e-6);
}

/*
 * logprob is log softmax of the untempered logits; sample_logprob is the log of the
 * filtered distribution at the token. Coins at the middle of each kept token's CDF
 * interval reach every kept token of every case.
 */
static void test_sampler__logprobs_untempered_and_filtered(void)
{
	struct scratch sc;
	scratch_init(&sc);
	for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
		double want[V], cdf = 0;
		hand_distribution(logits8, V, cases[c].p.temperature, cases[c].p.top_k, cases[c].p.top_p, want);
		for (int i = 0; i < V; i++) {
			if (want[i] == 0)
				continue;
			struct sample_out o;
			sampler_pick(logits8, V, &cases[c].p, (float)(cdf + want[i] / 2), &sc.s, &o);
			cdf += want[i];
			CHECK_MSG(o.token == i, "%s: coin in id %d's interval gave %d", cases[c].name, i, o.token);
			CHECK_NEAR(o.logprob, log_softmax_at(logits8, V, i), 1e-6);
			CHECK_NEAR(o.sample_logprob, log(want[i]), 1e-5);
		}
	}
}

static void test_sampler__empirical_frequencies_chi_square(void)
{
	struct scratch sc;
	scratch_init(&sc);
	uint64_t key = rng_key_str(2024, "test_sampler");
	for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
		float want[V];
		sampler_distribution(logits8, V, &cases[c].p, &sc.s, want);
		long count[V];
		draw_counts(&cases[c].p, rng_key_u64(key, c), count);
		for (int i = 0; i < V; i++)
			CHECK_MSG(want[i] > 0 || count[i] == 0, "%s: id %d drawn %ld times but filtered out",
				cases[c].name, i, count[i]);
		int df;
		double chi2 = chi_square(count, want, &df);
		CHECK(df >= 1 && df <= 7);
		printf("  %-28s chi2 %7.3f  df %d  crit(p=0.001) %.3f\n", cases[c].name, chi2, df,
			chi2_crit_001[df]);
		CHECK_MSG(chi2 < chi2_crit_001[df], "%s: chi2 %.3f >= %.3f (df %d)", cases[c].name, chi2,
			chi2_crit_001[df], df);
	}
}

/* The test has power: a distribution off by 1% of mass in one cell fails it. */
static void test_sampler__chi_square_detects_a_small_bias(void)
{
	struct scratch sc;
	scratch_init(&sc);
	float want[V];
	sampler_distribution(logits8, V, &cases[1].p, &sc.s, want);
	want[6] -= 0.01f; /* the mode */
	want[0] += 0.01f;
	long count[V];
	draw_counts(&cases[1].p, rng_key_str(2024, "power"), count);
	int df;
	double chi2 = chi_square(count, want, &df);
	CHECK_MSG(chi2 > chi2_crit_001[df], "chi2 %.3f did not detect a 1%% shift", chi2);
}

int main(int argc, char **argv)
{
	return test_main(argc, argv, (struct test_case[]){
		TEST(test_sampler__greedy_picks_argmax_lowest_id_on_ties),
		TEST(test_sampler__distribution_matches_hand_computed),
		TEST(test_sampler__distribution_known_values),
		TEST(test_sampler__coin_ends_pick_first_and_last_kept),
		TEST(test_sampler__logprobs_untempered_and_filtered),
		TEST(test_sampler__empirical_frequencies_chi_square),
		TEST(test_sampler__chi_square_detects_a_small_bias),
		{ 0 },
	});
}
