#!/usr/bin/python3
"""
make_lora_ref.py — the PyTorch reference that tests/ref/test_lora_ref.c compares
r1flow's LoRA adapters (core/lora.h) against.

    /usr/bin/python3 make_lora_ref.py OUTDIR    write OUTDIR/<case>/ for each CASE

Each case is a small random model (llama_ref.py's forward, make_ref.py's batch and
losses) with random, non-zero adapters on some of its projections: config.json,
model.safetensors (the frozen base), adapter.safetensors (the adapters under PEFT's
names, F32) and ref.safetensors:
  tokens, targets (I32, (B,T)); lengths (I32, (B)); mask (B,T)
  logits (B,T,V), token_lp (B,T)     of the adapted model, valid as in make_ref.py
  base_logits (B,T,V)                of the base model alone (the adapters matter)
  lora_rank, lora_alpha              scalars; metadata "targets": comma-separated
  ce_weights, ce_loss, ce_nll, ce_entropy, ce_tokens
  ce_grad.<adapter name>             d ce_loss / d adapter tensor, every adapter
  adv, old_lp, ref_lp, grpo_* and grpo_grad.<adapter name>   as make_ref.py's
Values are computed in float64 from the stored fp32 numbers, as make_ref.py does.

CASES: every target at rank 4 (alpha 8: scale 2) on the Llama of make_ref.py; a
subset (q_proj, v_proj, o_proj, down_proj) at rank 3, alpha 5 on the Mistral variant
whose heads are narrower than the hidden size (NH·HD 32 < 64), so that a mixed-up in
or out width of any projection fails.
"""

import os
import sys

import numpy as np
import torch

import make_ref
from llama_ref import LORA_TARGETS, forward, init_params, lora_specs, param_specs, \
    write_config, write_safetensors

CASES = {
    "all": dict(cfg=make_ref.CONFIG, targets=LORA_TARGETS, rank=4, alpha=8.0),
    "subset": dict(cfg=make_ref.VARIANTS["mistral"], targets=("q_proj", "v_proj", "o_proj", "down_proj"),
                   rank=3, alpha=5.0),
}


def make_case(outdir, case):
    cfg, targets, rank, alpha = case["cfg"], case["targets"], case["rank"], case["alpha"]
    gen = torch.Generator().manual_seed(make_ref.SEED)
    P32 = init_params(cfg, gen)
    names = [n for n, _ in param_specs(cfg)]
    tokens, targets_t, mask = make_ref.make_batch(cfg, gen)
    # adapters far from PEFT's init (B = 0) so that every path carries gradient
    AD32 = {}
    for n, shape in lora_specs(cfg, targets, rank):
        AD32[n] = (torch.randn(shape, generator=gen) / np.sqrt(shape[1])).to(torch.float32)
    scale = make_ref.f32(make_ref.f32(alpha) / rank)

    P64 = {n: P32[n].to(torch.float64) for n in names}
    AD64 = {n: t.to(torch.float64).requires_grad_(True) for n, t in AD32.items()}
    logits = forward(cfg, P64, tokens, (scale, AD64))
    with torch.no_grad():
        base_logits = forward(cfg, P64, tokens)
    moved = float((logits - base_logits).abs().max())
    if moved < 1e-1:
        raise SystemExit("make_lora_ref: the adapters move the logits by %.2e only" % moved)
    lp, _ = make_ref.token_stats(logits, targets_t)

    ce_w32 = make_ref.weights_token_mean(mask).to(torch.float32)
    loss_ce, st_ce = make_ref.ce_loss(logits, targets_t, ce_w32.to(torch.float64))
    ce_grads = make_ref.grads_of(loss_ce, AD64)
    gr = make_ref.grpo_reference(logits, lp, targets_t, mask, gen, AD64)

    os.makedirs(outdir, exist_ok=True)
    write_config(os.path.join(outdir, "config.json"), cfg)
    write_safetensors(os.path.join(outdir, "model.safetensors"),
                      [(n, P32[n].numpy()) for n in names], {"format": "pt"})
    write_safetensors(os.path.join(outdir, "adapter.safetensors"),
                      [(n, t.numpy()) for n, t in AD32.items()], {"format": "pt"})

    def F(t):
        return t.detach().to(torch.float32).numpy()

    def S(x):
        return np.array([float(x)], dtype=np.float32)

    out = [
        ("tokens", tokens.to(torch.int32).numpy()),
        ("lengths", np.array(make_ref.LENGTHS, dtype=np.int32)),
        ("targets", targets_t.to(torch.int32).numpy()),
        ("mask", F(mask)),
        ("logits", F(logits)), ("base_logits", F(base_logits)),
        ("token_lp", F(lp)),
        ("lora_rank", S(rank)), ("lora_alpha", S(alpha)),
        ("ce_weights", F(ce_w32)),
        ("ce_loss", S(loss_ce)), ("ce_nll", S(st_ce["nll"])),
        ("ce_entropy", S(st_ce["entropy"])), ("ce_tokens", S(st_ce["tokens"])),
    ]
    out += [("ce_grad." + n, F(ce_grads[n])) for n in AD32]
    out += make_ref.grpo_outputs(gr, list(AD32))
    write_safetensors(os.path.join(outdir, "ref.safetensors"), out,
                      {"generator": "make_lora_ref.py", "targets": ",".join(targets)})
    print("make_lora_ref: wrote %s (%d adapter tensors, adapters move logits by %.3f, "
          "ce_loss %.6f, grpo_loss %.6f)" % (outdir, len(AD32), moved, float(loss_ce), float(gr["loss"])))


def main(argv):
    if len(argv) != 2 or argv[1].startswith("-"):
        sys.stderr.write("usage: make_lora_ref.py OUTDIR\n")
        return 2
    torch.set_num_threads(1)
    for name, case in CASES.items():
        make_case(os.path.join(argv[1], name), case)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
