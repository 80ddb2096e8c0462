#!/usr/bin/python3
"""
make_gen_ref.py — the PyTorch reference of greedy generation that
tests/ref/test_generate_ref.c compares core/generate.c against.

    /usr/bin/python3 make_gen_ref.py OUTDIR    write OUTDIR/{config.json,
                                               model.safetensors, gen.safetensors}
                                               and OUTDIR/<variant>/ the same for
                                               each of VARIANTS

A random Llama (llama_ref.py: GQA, untied head, HF names) and prompts of mixed
lengths; for each prompt, the greedy continuation of NEW tokens, recomputing the
full sequence in float64 from the stored fp32 parameters at every step (no KV cache:
the reference is the plain definition). VARIANTS are the other architectures and
options (as make_ref.py's): Llama with llama3 rope scaling and head_dim 24, Llama with
linear rope scaling and a tied head, Qwen2, Qwen3 (BF16 weights, tied, head_dim
32), Mistral with head_dim 8. config.json's eos_token_id is an id that no
continuation contains, so every sequence runs the full NEW tokens on the C side too
(test_generate.c tests the stopping rules).

The C side runs in fp32, whose logits differ from these by ~1e-5, so a near-tie
between the two best tokens could flip a greedy choice. The script therefore
redraws the model and prompts until every step's gap between the best and second
best logit is at least MIN_GAP.

gen.safetensors holds:
  prompts (I32, (B, P))      right-padded with 0; P = the longest prompt
  prompt_lengths (I32, (B))
  tokens (I32, (B, NEW))     generated ids
  logprobs (B, NEW)          log softmax(logits)[token] in float64, rounded to fp32
  min_gap (1)                smallest top-2 logit gap over all steps
"""

import os
import sys

import numpy as np
import torch

from llama_ref import forward, init_params, param_specs, write_config, write_safetensors

CONFIG = dict(vocab=280, dim=64, n_layers=2, n_heads=4, n_kv_heads=2, ffn=160,
              max_seq=64, rope_theta=10000.0, norm_eps=1e-5, bos=256, pad=258)
PROMPT_LENGTHS = [1, 6, 13, 3, 20, 9]
NEW = 24
MIN_GAP = 1e-3
SEED = 4321
ATTEMPTS = 50

VARIANTS = {
    "llama3_head_dim": dict(CONFIG, head_dim=24, rope_scaling=dict(
        rope_type="llama3", factor=8.0, low_freq_factor=1.0, high_freq_factor=4.0,
        original_max_position_embeddings=32)),
    "linear_tied": dict(CONFIG, tied=True, rope_scaling=dict(type="linear", factor=4.0)),
    "qwen2": dict(CONFIG, arch="qwen2"),
    "qwen3_bf16": dict(CONFIG, arch="qwen3", head_dim=32, tied=True, bf16=True),
    "mistral": dict(CONFIG, arch="mistral", head_dim=8),
}


def greedy(cfg, P64, prompt):
    """Greedy continuation of prompt (list of ids): tokens, log-probs, min top-2 gap."""
    seq = list(prompt)
    tokens, logprobs, gap = [], [], float("inf")
    for _ in range(NEW):
        with torch.no_grad():
            z = forward(cfg, P64, torch.tensor([seq]))[0, -1]
        top = torch.topk(z, 2)
        gap = min(gap, float(top.values[0] - top.values[1]))
        tok = int(top.indices[0])
        tokens.append(tok)
        logprobs.append(float(torch.log_softmax(z, -1)[tok]))
        seq.append(tok)
    return tokens, logprobs, gap


def make_reference(outdir, cfg):
    assert max(PROMPT_LENGTHS) + NEW <= cfg["max_seq"]
    gen = torch.Generator().manual_seed(SEED)
    for attempt in range(ATTEMPTS):
        P32 = init_params(cfg, gen)
        if cfg.get("bf16"):
            P32 = {n: t.to(torch.bfloat16).to(torch.float32) for n, t in P32.items()}
        P64 = {n: t.to(torch.float64) for n, t in P32.items()}
        prompts = [torch.randint(0, cfg["vocab"], (n,), generator=gen).tolist() for n in PROMPT_LENGTHS]
        runs = [greedy(cfg, P64, p) for p in prompts]
        min_gap = min(r[2] for r in runs)
        if min_gap >= MIN_GAP:
            break
        print("make_gen_ref: attempt %d has a top-2 logit gap of %.2e; redrawing" % (attempt, min_gap))
    else:
        raise SystemExit("make_gen_ref: no draw without near-ties in %d attempts" % ATTEMPTS)
    produced = {t for r in runs for t in r[0]}
    cfg = dict(cfg, eos=min(set(range(256, cfg["vocab"])) - produced - {cfg["bos"], cfg["pad"]}))

    B, Pmax = len(prompts), max(PROMPT_LENGTHS)
    ptok = np.zeros((B, Pmax), dtype=np.int32)
    toks = np.array([r[0] for r in runs], dtype=np.int32)
    lps = np.array([r[1] for r in runs], dtype=np.float32)
    for b, p in enumerate(prompts):
        ptok[b, :len(p)] = p
    os.makedirs(outdir, exist_ok=True)
    write_config(os.path.join(outdir, "config.json"),
                 dict(cfg, torch_dtype="bfloat16" if cfg.get("bf16") else "float32"))
    write_safetensors(os.path.join(outdir, "model.safetensors"),
                      [(n, P32[n].to(torch.bfloat16) if cfg.get("bf16") else P32[n].numpy())
                       for n, _ in param_specs(cfg)], {"format": "pt"})
    write_safetensors(os.path.join(outdir, "gen.safetensors"), [
        ("prompts", ptok),
        ("prompt_lengths", np.array(PROMPT_LENGTHS, dtype=np.int32)),
        ("tokens", toks),
        ("logprobs", lps),
        ("min_gap", np.array([min_gap], dtype=np.float32)),
    ], {"generator": "make_gen_ref.py"})
    print("make_gen_ref: wrote %s (attempt %d, min top-2 gap %.3e, %d distinct tokens, eos %d)"
          % (outdir, attempt, min_gap, len(produced), cfg["eos"]))


def main(argv):
    if len(argv) != 2 or argv[1].startswith("-"):
        sys.stderr.write("usage: make_gen_ref.py OUTDIR\n")
        return 2
    torch.set_num_threads(1)
    make_reference(argv[1], CONFIG)
    for name, cfg in VARIANTS.items():
        make_reference(os.path.join(argv[1], name), cfg)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
