/* The daemon's peer-fetch plan (daemon/relays.h): the daemon serves a stream to
 * RELAYS_DIRECT workers, every other fetcher goes to a worker holding or fetching it
 * with fewer than RELAYS_FANOUT fetchers, shallowest first; failed or departed
 * servers are not planned; tcp servers get only fetchers whose key the daemon knows. */
#include <stdio.h>
#include <string.h>

#include "relays.h"
#include "test.h"

#define SHA_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define SHA_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define KEY_S "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"   /* a server's peer key */
#define KEY_U "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID"   /* a client's key */

/* Workers 1..n: ipc peer endpoints, no keys. */
static struct relays *ipc_workers(int n)
{
	struct relays *r = relays_new();
	CHECK(r != NULL);
	for (int i = 1; i <= n; i++) {
		char name[16], ep[64];
		snprintf(name, sizeof name, "w%d", i);
		snprintf(ep, sizeof ep, "ipc:///tmp/p/w%d", i);
		relays_ready(r, i, name, name, strlen(name), ep, "", "");
	}
	return r;
}

static void test_relays__one_direct_then_a_tree(void)
{
	enum { N = 64 };
	struct relays *r = ipc_workers(N);
	struct relay_plan plan;
	int served[N + 1] = { 0 }, direct = 0;
	for (int i = 1; i <= N; i++) {
		if (relays_route(r, SHA_A, i, &plan)) {
			CHECK(plan.server >= 1 && plan.server < i); /* an earlier fetcher */
			CHECK(!strncmp(plan.endpoint, "ipc://", 6) && !*plan.key && !*plan.admit);
			served[plan.server]++;
		} else {
			direct++;
		}
	}
	CHECK_MSG(direct == RELAYS_DIRECT, "the daemon served %d of %d", direct, N);
	for (int i = 1; i <= N; i++)
		CHECK_MSG(served[i] <= RELAYS_FANOUT, "w%d serves %d", i, served[i]);
	size_t nodes;
	relays_stat(r, SHA_A, &nodes, &direct);
	CHECK(nodes == N && direct == RELAYS_DIRECT);
	/* another stream has its own tree */
	CHECK(relays_route(r, SHA_B, 7, &plan) == 0);
	CHECK(relays_route(r, SHA_B, 8, &plan) == 1 && plan.server == 7);
	relays_free(r);
}

static void test_relays__shallowest_first(void)
{
	struct relays *r = ipc_workers(1 + RELAYS_FANOUT + 1);
	struct relay_plan plan;
	CHECK(relays_route(r, SHA_A, 1, &plan) == 0);
	for (int i = 2; i <= 1 + RELAYS_FANOUT; i++)
		CHECK(relays_route(r, SHA_A, i, &plan) == 1 && plan.server == 1);
	/* the root is full: the next goes one level down, to the first of its children */
	CHECK(relays_route(r, SHA_A, 2 + RELAYS_FANOUT, &plan) == 1 && plan.server == 2);
	relays_free(r);
}

static void test_relays__failed_and_gone_are_not_planned(void)
{
	struct relays *r = ipc_workers(4);
	struct relay_plan plan;
	CHECK(relays_route(r, SHA_A, 1, &plan) == 0);
	CHECK(relays_route(r, SHA_A, 2, &plan) == 1 && plan.server == 1);
	relays_failed(r, SHA_A, 2, "w1");
	CHECK(relays_route(r, SHA_A, 3, &plan) == 1 && plan.server == 2);
	relays_gone(r, 2);
	/* w1 failed, w2 left, w3 is in w2's place: w4 goes to w3 */
	CHECK(relays_route(r, SHA_A, 4, &plan) == 1 && plan.server == 3);
	/* a fetcher that is already a node (fetching again) is served by the daemon */
	CHECK(relays_route(r, SHA_A, 3, &plan) == 0);
	relays_free(r);
}

static void test_relays__tcp_servers_need_a_known_key(void)
{
	struct relays *r = relays_new();
	struct relay_plan plan;
	relays_ready(r, 1, "s", "s", 1, "tcp://127.0.0.1:4000", KEY_S, KEY_U);
	relays_ready(r, 2, "nokey", "n", 1, "ipc:///tmp/p/n", "", ""); /* on ipc: no key */
	relays_ready(r, 3, "keyed", "k", 1, "tcp://127.0.0.1:4001", KEY_S, KEY_U);
	relays_ready(r, 4, "plain", "p", 1, "", "", KEY_U);     /* announced no endpoint */
	CHECK(relays_route(r, SHA_A, 1, &plan) == 0);
	CHECK(relays_route(r, SHA_A, 2, &plan) == 0);           /* the daemon serves it */
	CHECK(relays_route(r, SHA_A, 3, &plan) == 1 && plan.server == 1);
	CHECK(!strcmp(plan.key, KEY_S) && !strcmp(plan.admit, KEY_U));
	CHECK(plan.ident_size == 1 && plan.ident[0] == 's');
	/* a worker that announced no endpoint may not follow redirects */
	CHECK(relays_route(r, SHA_A, 4, &plan) == 0);
	size_t nodes;
	int direct;
	relays_stat(r, SHA_A, &nodes, &direct);
	CHECK(nodes == 3 && direct == 3);
	relays_free(r);
}

static void test_relays__forgets_the_oldest_stream(void)
{
	struct relays *r = ipc_workers(2);
	struct relay_plan plan;
	char sha[SHA256_HEX_SIZE];
	CHECK(relays_route(r, SHA_A, 1, &plan) == 0);
	for (int i = 0; i < RELAYS_STREAMS; i++) {
		snprintf(sha, sizeof sha, "%064x", i);
		relays_route(r, sha, 1, &plan);
	}
	size_t nodes;
	int direct;
	relays_stat(r, SHA_A, &nodes, &direct);
	CHECK(nodes == 0 && direct == 0);
	CHECK(relays_route(r, SHA_A, 2, &plan) == 0); /* a new tree */
	relays_free(r);
}

int main(int argc, char **argv)
{
	return test_main(argc, argv, (struct test_case[]){
		TEST(test_relays__one_direct_then_a_tree),
		TEST(test_relays__shallowest_first),
		TEST(test_relays__failed_and_gone_are_not_planned),
		TEST(test_relays__tcp_servers_need_a_known_key),
		TEST(test_relays__forgets_the_oldest_stream),
		{ 0 },
	});
}
