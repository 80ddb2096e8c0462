#!/usr/bin/python3
"""
make_ref.py — the PyTorch reference that tests/ref/test_ref.c compares r1flow's
model core against, tensor by tensor (llm.c's test_gpt2 approach).

    /usr/bin/python3 make_ref.py OUTDIR     write OUTDIR/{config.json,
                                            model.safetensors, ref.safetensors}
                                            and OUTDIR/<variant>/ the same for
                                            each of VARIANTS (logits and CE only)
    /usr/bin/python3 make_ref.py --selfcheck
                                            check this script against itself:
                                            autograd gradcheck, a loop-based
                                            second forward, the GRPO formula of
                                            core/loss.h and AdamW by hand

The model (llama_ref.py, shared with make_gen_ref.py) is a from-scratch Llama with
the semantics of Hugging Face's LlamaForCausalLM (RMSNorm in the compute dtype, RoPE
with rotate_half, grouped-query attention, SwiGLU, untied head). Parameters are drawn in fp32 and written to
model.safetensors; every reference value is then computed in float64 from exactly
those fp32 numbers (and from the fp32-rounded batch side data and constants), so the
only difference left for the C side is its own fp32 arithmetic.

VARIANTS are the other architectures and options at the same small size: Llama with
llama3 rope scaling and an explicit head_dim (NH·HD > hidden), Llama with linear
rope scaling and a tied head, Qwen2 (q/k/v biases), Qwen3 (q/k norms, head_dim,
tied, its weights written as BF16: the reference uses the bf16-rounded values, so
the file's dtype is the only difference), Mistral with NH·HD < hidden. Their
ref.safetensors hold everything above but the clip and AdamW entries.

ref.safetensors holds (all F32 unless noted; scalars are shape [1] tensors):
  tokens, targets (I32, (B,T)); lengths (I32, (B)); mask (B,T)
  logits (B,T,V)               valid at t < lengths[b] only
  token_lp (B,T)               log p(targets) valid at t < lengths[b] - 1
  ce_weights (B,T)             LOSS_AGG_TOKEN_MEAN weights of mask
  ce_loss, ce_nll, ce_entropy, ce_tokens
  ce_grad.<param>              d ce_loss / d param
  adv, old_lp, ref_lp (B,T)    GRPO side data
  grpo_weights (B,T)           LOSS_AGG_SEQ_MEAN weights of mask
  grpo_eps_low, grpo_eps_high, grpo_beta
  grpo_loss, grpo_kl, grpo_clip_frac, grpo_entropy, grpo_nll, grpo_tokens
  grpo_grad.<param>
  clip_max_norm, grad_norm     clip_grad_norm_ of the stored (fp32) grpo grads
  adam_lr, adam_beta1, adam_beta2, adam_eps, adam_weight_decay
  adamw_m.<param>, adamw_v.<param>, adamw.<param>
                               torch.optim.AdamW state and params after step 1
  adamw2.<param>               params after a second step with the same gradient
The AdamW reference starts from the stored fp32 params and the stored fp32 GRPO
gradients, so the C side can test clipping and AdamW by loading exactly those.
"""

import json
import math
import os
import struct
import sys

import numpy as np
import torch

from llama_ref import forward, init_params, param_specs, write_config, write_safetensors

CONFIG = dict(vocab=300, dim=64, n_layers=2, n_heads=4, n_kv_heads=2, ffn=160,
              max_seq=32, rope_theta=10000.0, norm_eps=1e-5)
BOS, EOS, PAD = 256, 257, 258
LENGTHS = [16, 11, 5]
T = 16
PROMPT = 2          # positions t < PROMPT are masked out ("prompt" tokens)
ADV = [1.3, -0.7, 0.4]
LP_NOISE = 0.3
GRPO = dict(eps_low=0.2, eps_high=0.28, beta=0.04)
ADAM = dict(lr=1e-2, beta1=0.9, beta2=0.95, eps=1e-8, weight_decay=0.1)
CLIP_FRACTION = 0.5   # max_norm = this * grad norm, so clipping happens
BOUNDARY_MARGIN = 1e-3  # no ratio this close to a clip edge (fp32 could flip it)
SEED = 1234

VARIANTS = {
    "llama3_head_dim": dict(CONFIG, head_dim=24, rope_scaling=dict(
        rope_type="llama3", factor=8.0, low_freq_factor=1.0, high_freq_factor=4.0,
        original_max_position_embeddings=64)),   # wavelengths 6..10^4: all three regimes
    "linear_tied": dict(CONFIG, tied=True, rope_scaling=dict(type="linear", factor=4.0)),
    "qwen2": dict(CONFIG, arch="qwen2"),
    "qwen3_bf16": dict(CONFIG, arch="qwen3", head_dim=32, tied=True, bf16=True),
    "mistral": dict(CONFIG, arch="mistral", head_dim=8),
}


def f32(x):
    """The float64 value of x rounded to fp32: what the C side sees."""
    return float(np.float32(x))


# ---------------------------------------------------------------- losses

def token_stats(logits, targets):
    lsm = torch.log_softmax(logits, dim=-1)
    lp = lsm.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    ent = -(lsm.exp() * lsm).sum(-1)
    return lp, ent


def weights_token_mean(mask):
    return mask / mask.sum()


def weights_seq_mean(mask):
    per_seq = mask.sum(-1, keepdim=True)
    n_seqs = (per_seq > 0).sum()
    return torch.where(per_seq > 0, mask / (n_seqs * per_seq.clamp(min=1)), torch.zeros_like(mask))


def ce_loss(logits, targets, w):
    lp, ent = token_stats(logits, targets)
    counted = w != 0
    n = counted.sum()
    loss = (w * -lp).sum()
    return loss, dict(nll=(-lp)[counted].sum() / n, entropy=ent[counted].sum() / n, tokens=n)


def grpo_terms(lp, old_lp, ref_lp, adv, eps_low, eps_high, beta):
    """Per-token GRPO term of core/loss.h and its pieces."""
    ratio = torch.exp(lp - old_lp)
    unclipped = ratio * adv
    clipped = torch.clamp(ratio, 1 - eps_low, 1 + eps_high) * adv
    x = ref_lp - lp
    kl = torch.exp(x) - x - 1
    term = -torch.minimum(unclipped, clipped) + beta * kl
    clip_active = clipped < unclipped
    return term, kl, ratio, clip_active


def grpo_loss(logits, targets, w, adv, old_lp, ref_lp, eps_low, eps_high, beta):
    lp, ent = token_stats(logits, targets)
    term, kl, _, clip_active = grpo_terms(lp, old_lp, ref_lp, adv, eps_low, eps_high, beta)
    counted = w != 0
    n = counted.sum()
    loss = (w * term).sum()
    return loss, dict(kl=kl[counted].sum() / n, clip_frac=clip_active[counted].sum() / n,
                      entropy=ent[counted].sum() / n, nll=(-lp)[counted].sum() / n, tokens=n)


# ---------------------------------------------------------------- batch

def make_batch(cfg, gen):
    B = len(LENGTHS)
    V = cfg["vocab"]
    tokens = torch.full((B, T), PAD, dtype=torch.int64)
    for b, n in enumerate(LENGTHS):
        tokens[b, 0] = BOS
        tokens[b, 1:n] = torch.randint(0, V, (n - 1,), generator=gen)
        tokens[b, n - 1] = EOS if b == 0 else tokens[b, n - 1]
    tokens[1, 3] = tokens[0, 5]   # a repeated id: embedding grads must accumulate
    tokens[2, 2] = tokens[0, 5]
    targets = torch.full((B, T), PAD, dtype=torch.int64)
    mask = torch.zeros(B, T, dtype=torch.float64)
    for b, n in enumerate(LENGTHS):
        targets[b, : n - 1] = tokens[b, 1:n]
        mask[b, PROMPT: n - 1] = 1.0
    return tokens, targets, mask


# ---------------------------------------------------------------- reference

def grads_of(loss, P64):
    names = list(P64)
    gs = torch.autograd.grad(loss, [P64[n] for n in names], retain_graph=True)
    return dict(zip(names, gs))


def adamw_reference(P32, G32, names, max_norm, a):
    """clip_grad_norm_ then two torch.optim.AdamW steps with the same gradient."""
    ps = {n: P32[n].to(torch.float64).clone().requires_grad_(True) for n in names}
    for n in names:
        ps[n].grad = G32[n].to(torch.float64).clone()
    norm = torch.nn.utils.clip_grad_norm_([ps[n] for n in names], max_norm)
    decay = [ps[n] for n in names if ps[n].dim() == 2]
    no_decay = [ps[n] for n in names if ps[n].dim() != 2]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": a["weight_decay"]},
         {"params": no_decay, "weight_decay": 0.0}],
        lr=a["lr"], betas=(a["beta1"], a["beta2"]), eps=a["eps"])
    opt.step()
    step1 = {n: ps[n].detach().clone() for n in names}
    m = {n: opt.state[ps[n]]["exp_avg"].clone() for n in names}
    v = {n: opt.state[ps[n]]["exp_avg_sq"].clone() for n in names}
    opt.step()
    step2 = {n: ps[n].detach().clone() for n in names}
    return float(norm), step1, m, v, step2


def grpo_reference(logits, lp, targets, mask, gen, P64):
    """The GRPO loss, stats and gradients of logits at side data drawn from gen:
    old and reference log-probs are lp plus noise, redrawn until no ratio is within
    BOUNDARY_MARGIN of a clip edge, and clipping is active for some tokens only."""
    B, T = targets.shape
    g = {k: f32(v) for k, v in GRPO.items()}
    adv = torch.tensor(ADV, dtype=torch.float64).unsqueeze(1).expand(B, T).contiguous()
    adv = adv.to(torch.float32).to(torch.float64)
    lp_d = lp.detach()
    for attempt in range(100):
        noise_old = LP_NOISE * torch.randn(B, T, generator=gen, dtype=torch.float64)
        noise_ref = LP_NOISE * torch.randn(B, T, generator=gen, dtype=torch.float64)
        old_lp = (lp_d + noise_old).to(torch.float32).to(torch.float64)
        ref_lp = (lp_d + noise_ref).to(torch.float32).to(torch.float64)
        ratio = torch.exp(lp_d - old_lp)
        counted = mask != 0
        edge = torch.minimum((ratio - (1 - g["eps_low"])).abs(), (ratio - (1 + g["eps_high"])).abs())
        if edge[counted].min() > BOUNDARY_MARGIN:
            break
    else:
        raise SystemExit("make_ref: could not draw GRPO noise away from the clip edges")
    grpo_w32 = weights_seq_mean(mask).to(torch.float32)
    loss_grpo, st_grpo = grpo_loss(logits, targets, grpo_w32.to(torch.float64), adv, old_lp, ref_lp,
                                   g["eps_low"], g["eps_high"], g["beta"])
    grpo_grads = grads_of(loss_grpo, P64)
    if not 0 < float(st_grpo["clip_frac"]) < 1:
        raise SystemExit("make_ref: clipping never or always active; change the seed")
    return dict(g=g, adv=adv, old_lp=old_lp, ref_lp=ref_lp, w32=grpo_w32, loss=loss_grpo,
                st=st_grpo, grads=grpo_grads)


def grpo_outputs(gr, names):
    """ref.safetensors entries of a grpo_reference result."""
    def F(t):
        return t.detach().to(torch.float32).numpy()

    def S(x):
        return np.array([float(x)], dtype=np.float32)

    g, st = gr["g"], gr["st"]
    out = [
        ("adv", F(gr["adv"])), ("old_lp", F(gr["old_lp"])), ("ref_lp", F(gr["ref_lp"])),
        ("grpo_weights", F(gr["w32"])),
        ("grpo_eps_low", S(g["eps_low"])), ("grpo_eps_high", S(g["eps_high"])),
        ("grpo_beta", S(g["beta"])),
        ("grpo_loss", S(gr["loss"])), ("grpo_kl", S(st["kl"])),
        ("grpo_clip_frac", S(st["clip_frac"])), ("grpo_entropy", S(st["entropy"])),
        ("grpo_nll", S(st["nll"])), ("grpo_tokens", S(st["tokens"])),
    ]
    return out + [("grpo_grad." + n, F(gr["grads"][n])) for n in names]


def make_variant(outdir, cfg):
    """config.json, model.safetensors and ref.safetensors (batch, logits, CE) of cfg."""
    gen = torch.Generator().manual_seed(SEED)
    P32 = init_params(cfg, gen)
    if cfg.get("bf16"):
        P32 = {n: t.to(torch.bfloat16).to(torch.float32) for n, t in P32.items()}
    names = [n for n, _ in param_specs(cfg)]
    tokens, targets, mask = make_batch(cfg, gen)
    P64 = {n: P32[n].to(torch.float64).requires_grad_(True) for n in names}
    logits = forward(cfg, P64, tokens)
    lp, _ = token_stats(logits, targets)
    ce_w32 = weights_token_mean(mask).to(torch.float32)
    loss_ce, st_ce = ce_loss(logits, targets, ce_w32.to(torch.float64))
    ce_grads = grads_of(loss_ce, P64)
    gr = grpo_reference(logits, lp, targets, mask, gen, P64)
    os.makedirs(outdir, exist_ok=True)
    write_config(os.path.join(outdir, "config.json"),
                 dict(cfg, torch_dtype="bfloat16" if cfg.get("bf16") else "float32"))
    write_safetensors(os.path.join(outdir, "model.safetensors"),
                      [(n, P32[n].to(torch.bfloat16) if cfg.get("bf16") else P32[n].numpy())
                       for n in names], {"format": "pt"})

    def F(t):
        return t.detach().to(torch.float32).numpy()

    def S(x):
        return np.array([float(x)], dtype=np.float32)

    out = [
        ("tokens", tokens.to(torch.int32).numpy()),
        ("lengths", np.array(LENGTHS, dtype=np.int32)),
        ("targets", targets.to(torch.int32).numpy()),
        ("mask", F(mask)),
        ("logits", F(logits)),
        ("token_lp", F(lp)),
        ("ce_weights", F(ce_w32)),
        ("ce_loss", S(loss_ce)), ("ce_nll", S(st_ce["nll"])),
        ("ce_entropy", S(st_ce["entropy"])), ("ce_tokens", S(st_ce["tokens"])),
    ]
    out += [("ce_grad." + n, F(ce_grads[n])) for n in names]
    out += grpo_outputs(gr, names)
    write_safetensors(os.path.join(outdir, "ref.safetensors"), out, {"generator": "make_ref.py"})
    print("make_ref: wrote %s (ce_loss %.6f, grpo_loss %.6f, clip_frac %.3f)"
          % (outdir, float(loss_ce), float(gr["loss"]), float(gr["st"]["clip_frac"])))


def make_reference(outdir):
    torch.manual_seed(SEED)
    gen = torch.Generator().manual_seed(SEED)
    cfg = CONFIG
    P32 = init_params(cfg, gen)
    names = [n for n, _ in param_specs(cfg)]
    tokens, targets, mask = make_batch(cfg, gen)
    B = tokens.shape[0]

    P64 = {n: P32[n].to(torch.float64).requires_grad_(True) for n in names}
    logits = forward(cfg, P64, tokens)
    lp, _ = token_stats(logits, targets)

    # CE, token mean
    ce_w = weights_token_mean(mask)
    ce_w32 = ce_w.to(torch.float32)
    loss_ce, st_ce = ce_loss(logits, targets, ce_w32.to(torch.float64))
    ce_grads = grads_of(loss_ce, P64)

    # GRPO, sequence mean; side data rounded to fp32 before use
    gr = grpo_reference(logits, lp, targets, mask, gen, P64)
    g, adv, old_lp, ref_lp = gr["g"], gr["adv"], gr["old_lp"], gr["ref_lp"]
    grpo_w32, loss_grpo, st_grpo, grpo_grads = gr["w32"], gr["loss"], gr["st"], gr["grads"]

    # clip + AdamW from the fp32-rounded GRPO gradients
    G32 = {n: grpo_grads[n].to(torch.float32) for n in names}
    full_norm = math.sqrt(sum(float((G32[n].double() ** 2).sum()) for n in names))
    max_norm = f32(CLIP_FRACTION * full_norm)
    a = {k: f32(v) for k, v in ADAM.items()}
    norm, step1, m, v, step2 = adamw_reference(P32, G32, names, max_norm, a)

    os.makedirs(outdir, exist_ok=True)
    write_config(os.path.join(outdir, "config.json"), cfg)
    write_safetensors(os.path.join(outdir, "model.safetensors"),
                      [(n, P32[n].numpy()) for n in names], {"format": "pt"})

    def F(t):
        return t.detach().to(torch.float32).numpy()

    def S(x):
        return np.array([float(x)], dtype=np.float32)

    out = [
        ("tokens", tokens.to(torch.int32).numpy()),
        ("lengths", np.array(LENGTHS, dtype=np.int32)),
        ("targets", targets.to(torch.int32).numpy()),
        ("mask", F(mask)),
        ("logits", F(logits)),
        ("token_lp", F(lp)),
        ("ce_weights", F(ce_w32)),
        ("ce_loss", S(loss_ce)), ("ce_nll", S(st_ce["nll"])),
        ("ce_entropy", S(st_ce["entropy"])), ("ce_tokens", S(st_ce["tokens"])),
    ]
    out += [("ce_grad." + n, F(ce_grads[n])) for n in names]
    out += grpo_outputs(gr, names)
    out += [
        ("clip_max_norm", S(max_norm)), ("grad_norm", S(norm)),
        ("adam_lr", S(a["lr"])), ("adam_beta1", S(a["beta1"])), ("adam_beta2", S(a["beta2"])),
        ("adam_eps", S(a["eps"])), ("adam_weight_decay", S(a["weight_decay"])),
    ]
    out += [("adamw_m." + n, F(m[n])) for n in names]
    out += [("adamw_v." + n, F(v[n])) for n in names]
    out += [("adamw." + n, F(step1[n])) for n in names]
    out += [("adamw2." + n, F(step2[n])) for n in names]
    write_safetensors(os.path.join(outdir, "ref.safetensors"), out, {"generator": "make_ref.py"})
    print("make_ref: wrote %s (ce_loss %.6f, grpo_loss %.6f, clip_frac %.3f, grad_norm %.6f)"
          % (outdir, float(loss_ce), float(loss_grpo), float(st_grpo["clip_frac"]), norm))


# ---------------------------------------------------------------- self-check

def forward_loops(cfg, P, tokens):
    """A second, deliberately different forward in numpy: explicit loops over heads
    and positions, RoPE as rotation of the pairs (j, j + HD/2), GQA by index."""
    P = {n: t.detach().numpy().astype(np.float64) for n, t in P.items()}
    B, T = tokens.shape
    C, NH, NKV = cfg["dim"], cfg["n_heads"], cfg["n_kv_heads"]
    HD = C // NH
    eps = cfg["norm_eps"]

    def norm(x, w):
        return x / np.sqrt(np.mean(x * x) + eps) * w

    # inv_freq rounded to fp32 as HF does (rope_cos_sin); a float64 inv_freq
    # would move the logits by ~1e-8, far below any tolerance but not below 1e-10
    inv_freq = [float(f) for f in 1.0 / (cfg["rope_theta"] ** (
        torch.arange(0, HD, 2, dtype=torch.int64).float() / HD))]

    def rope(vec, pos):
        out = vec.copy()
        for j in range(HD // 2):
            th = pos * inv_freq[j]
            c, s = math.cos(th), math.sin(th)
            a, b = vec[j], vec[j + HD // 2]
            out[j] = a * c - b * s
            out[j + HD // 2] = b * c + a * s
        return out

    logits = np.zeros((B, T, cfg["vocab"]))
    for bi in range(B):
        xs = [P["model.embed_tokens.weight"][tokens[bi, t]].copy() for t in range(T)]
        for i in range(cfg["n_layers"]):
            p = "model.layers.%d." % i
            hs = [norm(x, P[p + "input_layernorm.weight"]) for x in xs]
            qs = [P[p + "self_attn.q_proj.weight"] @ h for h in hs]
            ks = [P[p + "self_attn.k_proj.weight"] @ h for h in hs]
            vs = [P[p + "self_attn.v_proj.weight"] @ h for h in hs]
            new = []
            for t in range(T):
                y = np.zeros(NH * HD)
                for hh in range(NH):
                    kv = hh // (NH // NKV)
                    q = rope(qs[t][hh * HD:(hh + 1) * HD], t)
                    sc = np.array([rope(ks[u][kv * HD:(kv + 1) * HD], u) @ q / math.sqrt(HD)
                                   for u in range(t + 1)])
                    pr = np.exp(sc - sc.max())
                    pr /= pr.sum()
                    for u in range(t + 1):
                        y[hh * HD:(hh + 1) * HD] += pr[u] * vs[u][kv * HD:(kv + 1) * HD]
                x2 = xs[t] + P[p + "self_attn.o_proj.weight"] @ y
                h2 = norm(x2, P[p + "post_attention_layernorm.weight"])
                gg = P[p + "mlp.gate_proj.weight"] @ h2
                uu = P[p + "mlp.up_proj.weight"] @ h2
                new.append(x2 + P[p + "mlp.down_proj.weight"] @ (gg / (1 + np.exp(-gg)) * uu))
            xs = new
        for t in range(T):
            logits[bi, t] = P["lm_head.weight"] @ norm(xs[t], P["model.norm.weight"])
    return logits


def selfcheck():
    ok = True

    def report(what, good, detail=""):
        nonlocal ok
        ok &= bool(good)
        print("%-52s %s %s" % (what, "ok" if good else "FAIL", detail))

    # 1. the vectorised forward equals the loop forward on the real config
    gen = torch.Generator().manual_seed(SEED)
    P32 = init_params(CONFIG, gen)
    tokens, targets, mask = make_batch(CONFIG, gen)
    P64 = {n: t.to(torch.float64) for n, t in P32.items()}
    a = forward(CONFIG, P64, tokens).numpy()
    b = forward_loops(CONFIG, P64, tokens.numpy())
    d = np.abs(a - b).max()
    report("forward == loop forward (float64)", d < 1e-10, "max diff %.2e" % d)
    # causality: logits at t < len do not depend on padding
    tok2 = tokens.clone()
    for bi, n in enumerate(LENGTHS):
        tok2[bi, n:] = (tok2[bi, n:] + 7) % CONFIG["vocab"]
    c = forward(CONFIG, P64, tok2).numpy()
    d = max(np.abs(a[bi, :n] - c[bi, :n]).max() for bi, n in enumerate(LENGTHS))
    report("logits at t < len ignore padding", d == 0, "max diff %.2e" % d)
    # logits spread: not near uniform
    lp = torch.log_softmax(torch.tensor(a), -1)
    report("logits not near uniform", float(lp.exp().max(-1).values.mean()) > 5.0 / CONFIG["vocab"],
           "mean max prob %.3f" % float(lp.exp().max(-1).values.mean()))

    # 2. gradcheck of both losses on a tiny config
    tiny = dict(vocab=11, dim=8, n_layers=2, n_heads=4, n_kv_heads=2, ffn=12,
                max_seq=8, rope_theta=10000.0, norm_eps=1e-5)
    g2 = torch.Generator().manual_seed(7)
    Pt = {n: t.to(torch.float64) for n, t in init_params(tiny, g2).items()}
    names = list(Pt)
    Bt, Tt = 2, 5
    tk = torch.randint(0, tiny["vocab"], (Bt, Tt), generator=g2)
    tg = torch.randint(0, tiny["vocab"], (Bt, Tt), generator=g2)
    mk = torch.tensor([[0, 1, 1, 1, 0], [0, 1, 1, 0, 0]], dtype=torch.float64)
    adv = torch.tensor([[0.9] * Tt, [-1.1] * Tt], dtype=torch.float64)
    with torch.no_grad():
        lp0, _ = token_stats(forward(tiny, Pt, tk), tg)
    # noise keeps every ratio well inside or well outside the clip range
    old = lp0 + torch.tensor([[0.0, 0.05, -0.5, 0.6, 0.0], [0.0, -0.04, 0.7, 0.0, 0.0]], dtype=torch.float64)
    ref = lp0 + 0.3 * torch.randn(Bt, Tt, generator=g2, dtype=torch.float64)

    def ce_fn(*ps):
        return ce_loss(forward(tiny, dict(zip(names, ps)), tk), tg, weights_token_mean(mk))[0]

    def grpo_fn(*ps):
        return grpo_loss(forward(tiny, dict(zip(names, ps)), tk), tg, weights_seq_mean(mk),
                         adv, old, ref, 0.2, 0.28, 0.04)[0]

    inputs = tuple(Pt[n].clone().requires_grad_(True) for n in names)
    report("gradcheck cross-entropy (tiny, float64)",
           torch.autograd.gradcheck(ce_fn, inputs, eps=1e-6, atol=1e-7, rtol=1e-5))
    report("gradcheck GRPO (tiny, float64)",
           torch.autograd.gradcheck(grpo_fn, inputs, eps=1e-6, atol=1e-7, rtol=1e-5))

    # 3. GRPO per-token term against core/loss.h's formula written out by hand, and its
    #    derivative w.r.t. logπ, token by token
    rng = np.random.RandomState(3)
    el, eh, beta = 0.2, 0.28, 0.04
    worst_v, worst_d, n_clip = 0.0, 0.0, 0
    for _ in range(2000):
        lpv = -abs(rng.randn()) * 3
        oldv = lpv + rng.randn() * 0.4
        refv = lpv + rng.randn() * 0.4
        A = rng.randn()
        rho = math.exp(lpv - oldv)
        if min(abs(rho - (1 - el)), abs(rho - (1 + eh))) < 1e-6:
            continue
        x = refv - lpv
        want = -min(rho * A, min(max(rho, 1 - el), 1 + eh) * A) + beta * (math.exp(x) - x - 1)
        clip_on = min(max(rho, 1 - el), 1 + eh) * A < rho * A
        n_clip += clip_on
        dwant = (0.0 if clip_on else -A * rho) + beta * (1 - math.exp(x))
        t_lp = torch.tensor(lpv, dtype=torch.float64, requires_grad=True)
        term, kl, _, act = grpo_terms(t_lp, torch.tensor(oldv, dtype=torch.float64),
                                      torch.tensor(refv, dtype=torch.float64),
                                      torch.tensor(A, dtype=torch.float64), el, eh, beta)
        term.backward()
        assert float(kl) >= 0 and bool(act) == clip_on
        worst_v = max(worst_v, abs(float(term) - want))
        worst_d = max(worst_d, abs(float(t_lp.grad) - dwant))
    report("GRPO term == core/loss.h formula", worst_v < 1e-12, "max diff %.2e" % worst_v)
    report("GRPO d term/d logp == analytic", worst_d < 1e-12,
           "max diff %.2e (%d of 2000 clipped)" % (worst_d, n_clip))
    w = weights_seq_mean(mk)
    report("SEQ_MEAN weights: 1/(n_seqs*len_b)",
           torch.allclose(w, torch.tensor([[0, 1 / 6, 1 / 6, 1 / 6, 0], [0, 1 / 4, 1 / 4, 0, 0]],
                                           dtype=torch.float64)))

    # 4. clip_grad_norm_ + torch AdamW against optim.h's formulas by hand
    g3 = torch.Generator().manual_seed(5)
    Pa = {"w2": torch.randn(4, 3, generator=g3), "n1": torch.randn(5, generator=g3)}
    Ga = {"w2": torch.randn(4, 3, generator=g3), "n1": torch.randn(5, generator=g3)}
    hp = dict(lr=1e-2, beta1=0.9, beta2=0.95, eps=1e-8, weight_decay=0.1)
    total = math.sqrt(sum(float((Ga[n].double() ** 2).sum()) for n in Pa))
    mx = 0.5 * total
    norm, s1, m1, v1, s2 = adamw_reference(Pa, Ga, list(Pa), mx, hp)
    worst = 0.0
    for n in Pa:
        gg = Ga[n].double() * (mx / (total + 1e-6))
        p = Pa[n].double()
        wd = hp["weight_decay"] if p.dim() == 2 else 0.0
        m = torch.zeros_like(p)
        v = torch.zeros_like(p)
        for t, want in ((1, s1[n]), (2, s2[n])):
            p = p - hp["lr"] * wd * p
            m = hp["beta1"] * m + (1 - hp["beta1"]) * gg
            v = hp["beta2"] * v + (1 - hp["beta2"]) * gg * gg
            p = p - (hp["lr"] / (1 - hp["beta1"] ** t)) * m / (
                v.sqrt() / math.sqrt(1 - hp["beta2"] ** t) + hp["eps"])
            worst = max(worst, float((p - want).abs().max()))
            if t == 1:
                worst = max(worst, float((m - m1[n]).abs().max()), float((v - v1[n]).abs().max()))
    report("clip_grad_norm_ norm", abs(norm - total) < 1e-12, "%.6f" % norm)
    report("torch AdamW == optim.h formulas (2 steps)", worst < 1e-14, "max diff %.2e" % worst)

    # 5. every variant's feature moves the logits far beyond the C side's tolerance
    #    (1e-4), so a C model that ignored it would fail test_ref
    for name, vcfg in VARIANTS.items():
        gv = torch.Generator().manual_seed(SEED)
        Pv = {n: t.to(torch.float64) for n, t in init_params(vcfg, gv).items()}
        tv, _, _ = make_batch(vcfg, gv)
        base = forward(vcfg, Pv, tv)
        offs = []
        if vcfg.get("rope_scaling"):
            offs.append(("rope_scaling", dict(vcfg, rope_scaling=None), Pv))
        if vcfg.get("arch") == "qwen2":
            offs.append(("biases", vcfg, {n: torch.zeros_like(t) if n.endswith(".bias") else t
                                          for n, t in Pv.items()}))
        if vcfg.get("arch") == "qwen3":
            offs.append(("q/k norm", dict(vcfg, arch="llama"), Pv))
        for what, ocfg, oP in offs:
            d = float((forward(ocfg, oP, tv) - base).abs().max())
            report("%s: without %s the logits move" % (name, what), d > 1e-2, "max diff %.2e" % d)

    # 6. the safetensors writer round-trips
    import tempfile
    with tempfile.TemporaryDirectory() as td:
        pth = os.path.join(td, "x.safetensors")
        arrs = [("a", np.arange(6, dtype=np.float32).reshape(2, 3)), ("b", np.array([7, -1], dtype=np.int32))]
        write_safetensors(pth, arrs, {"k": "v"})
        raw = open(pth, "rb").read()
        n = struct.unpack("<Q", raw[:8])[0]
        hdr = json.loads(raw[8:8 + n])
        good = n % 8 == 0 and hdr["__metadata__"] == {"k": "v"}
        for name, arr in arrs:
            bg, en = hdr[name]["data_offsets"]
            back = np.frombuffer(raw[8 + n + bg:8 + n + en], dtype=arr.dtype).reshape(hdr[name]["shape"])
            good &= np.array_equal(back, arr)
        report("safetensors round trip", good)

    print("selfcheck:", "all ok" if ok else "FAILED")
    return 0 if ok else 1


def main(argv):
    if len(argv) == 2 and argv[1] == "--selfcheck":
        return selfcheck()
    if len(argv) != 2 or argv[1].startswith("-"):
        sys.stderr.write("usage: make_ref.py OUTDIR | --selfcheck\n")
        return 2
    torch.set_num_threads(1)
    make_reference(argv[1])
    for name, cfg in VARIANTS.items():
        make_variant(os.path.join(argv[1], name), cfg)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
