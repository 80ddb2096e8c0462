#!/usr/bin/python3
"""sample_torch — the PyTorch side of bench/sample.sh.

The same Llama as core/ (token embedding, RMSNorm, RoPE in HF rotate_half
convention, attention with grouped key/value heads, SwiGLU MLP, LM head tied to the
embedding or not, per config; for qwen3_06b an explicit head_dim and Qwen3's per-head
q/k RMSNorm before RoPE) generating --new tokens
for each of --batch random prompts of --prompt tokens, the way one writes it with a
KV cache: a batched prefill that fills preallocated cache tensors (L, B, NKV,
prompt + new, HD), then one decode step per token that writes the step's keys and
values at its position and attends over the cache so far. Each step samples at
temperature 1 (softmax, torch.multinomial) and keeps the token's log-probability, as
core's gen_run does; EOS is ignored so every sequence generates exactly --new tokens,
like the core side (which sets EOS to an id that is never produced). Everything runs
under torch.inference_mode. After one untimed run, --reps runs are timed; prints one
parseable line:

    torch config=tiny batch=16 threads=1 variant=fused tok_s=... mean_tok_s=... run_ms=... \
          prefill_ms=... decode_ms_per_step=... peak_rss_mb=... mean_logprob=...

with the same meanings as bench_sample.c's: tok_s counts generated tokens over the
whole run, prefill included, in the fastest rep; mean_tok_s over all reps.

Variants, all computing the same thing, so sample.sh can keep PyTorch's fastest:
  eager   separate q/k/v and gate/up Linear layers, as in HF's LlamaModel
  fused   one Linear for q|k|v and one for gate|up (what core/ does: fewer GEMMs)
  script  `fused` with the decode step compiled by torch.jit.script, which removes
          the Python interpreter from the per-token loop (the step is op-bound at
          these sizes)
"""

import argparse
import math
import resource
import sys
import time
from typing import List

import torch
import torch.nn as nn
import torch.nn.functional as F

CONFIGS = {
    "tiny": dict(dim=128, n_layers=4, n_heads=4, n_kv_heads=4, ffn=336, vocab=264, tied=False),
    "small": dict(dim=256, n_layers=6, n_heads=8, n_kv_heads=8, ffn=688, vocab=264, tied=False),
    "smol135m": dict(dim=576, n_layers=30, n_heads=9, n_kv_heads=3, ffn=1536, vocab=49152,
                     tied=True),  # SmolLM2-135M's real shape
    # Qwen3-0.6B's shape: head_dim 128 (NH * HD = 2048 != dim), per-head q/k RMSNorm
    "qwen3_06b": dict(dim=1024, n_layers=28, n_heads=16, n_kv_heads=8, ffn=3072,
                      vocab=151936, tied=True, head_dim=128, qk_norm=True),
}


def head_dim(c):
    return c.get("head_dim") or c["dim"] // c["n_heads"]
ROPE_THETA = 10000.0
NORM_EPS = 1e-5


def rms_norm(x, w, eps: float):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


def apply_rope(x, cos, sin):
    return x * cos + rotate_half(x) * sin


class Block(nn.Module):
    __constants__ = ["fused", "NH", "NKV", "G", "HD", "C", "A", "KV", "eps", "qk"]  # lets torch.jit.script drop the other branch

    def __init__(self, c, fused: bool):
        super().__init__()
        C, NH, NKV, Fd = c["dim"], c["n_heads"], c["n_kv_heads"], c["ffn"]
        HD = head_dim(c)
        self.NH, self.NKV, self.G, self.HD, self.C, self.A = NH, NKV, NH // NKV, HD, C, NH * HD
        self.KV, self.fused, self.eps = NKV * HD, fused, NORM_EPS
        self.ln1 = nn.Parameter(torch.ones(C))
        self.ln2 = nn.Parameter(torch.ones(C))
        # Qwen3: RMSNorm over each q and k head before RoPE (the gains exist either way,
        # so torch.jit.script sees the same attributes)
        self.qk = bool(c.get("qk_norm"))
        self.q_norm = nn.Parameter(torch.ones(HD))
        self.k_norm = nn.Parameter(torch.ones(HD))
        if fused:
            self.qkv_proj = nn.Linear(C, self.A + 2 * self.KV, bias=False)
            self.gate_up_proj = nn.Linear(C, 2 * Fd, bias=False)
        else:
            self.q_proj = nn.Linear(C, self.A, bias=False)
            self.k_proj = nn.Linear(C, self.KV, bias=False)
            self.v_proj = nn.Linear(C, self.KV, bias=False)
            self.gate_proj = nn.Linear(C, Fd, bias=False)
            self.up_proj = nn.Linear(C, Fd, bias=False)
        self.o_proj = nn.Linear(self.A, C, bias=False)
        self.down_proj = nn.Linear(Fd, C, bias=False)

    def qkv(self, h):
        if self.fused:
            t = self.qkv_proj(h).split([self.A, self.KV, self.KV], dim=-1)
            return t[0], t[1], t[2]
        return self.q_proj(h), self.k_proj(h), self.v_proj(h)

    def mlp(self, h):
        if self.fused:
            t = self.gate_up_proj(h).chunk(2, dim=-1)
            g, u = t[0], t[1]
        else:
            g, u = self.gate_proj(h), self.up_proj(h)
        return self.down_proj(F.silu(g) * u)

    def prefill(self, x, cos, sin, mask, kc, vc):
        """x (B, T, C); writes kc, vc[:, :, :T]."""
        B, T, C = x.shape
        q, k, v = self.qkv(rms_norm(x, self.ln1, self.eps))
        q, k = q.view(B, T, self.NH, self.HD), k.view(B, T, self.NKV, self.HD)
        if self.qk:
            q, k = rms_norm(q, self.q_norm, self.eps), rms_norm(k, self.k_norm, self.eps)
        q = apply_rope(q.transpose(1, 2), cos, sin)
        k = apply_rope(k.transpose(1, 2), cos, sin)
        v = v.view(B, T, self.NKV, self.HD).transpose(1, 2)
        kc[:, :, :T] = k
        vc[:, :, :T] = v
        # grouped heads without copying K/V: query head h uses KV head h // G
        q = q.reshape(B, self.NKV, self.G * T, self.HD)
        att = (q @ k.transpose(-2, -1)).mul_(1.0 / math.sqrt(self.HD))
        att = att.view(B, self.NKV, self.G, T, T).add_(mask).softmax(-1)
        y = (att.view(B, self.NKV, self.G * T, T) @ v).view(B, self.NH, T, self.HD)
        y = y.transpose(1, 2).reshape(B, T, self.A)
        x = x + self.o_proj(y)
        return x + self.mlp(rms_norm(x, self.ln2, self.eps))

    def step(self, x, cos, sin, pos: int, kc, vc):
        """x (B, C), one token per sequence at position pos."""
        B, C = x.shape
        q, k, v = self.qkv(rms_norm(x, self.ln1, self.eps))
        # the G query heads of a KV head as G rows against its cache
        q, k = q.view(B, self.NKV, self.G, self.HD), k.view(B, self.NKV, self.HD)
        if self.qk:
            q, k = rms_norm(q, self.q_norm, self.eps), rms_norm(k, self.k_norm, self.eps)
        q = apply_rope(q, cos, sin)
        kc[:, :, pos] = apply_rope(k, cos, sin)
        vc[:, :, pos] = v.view(B, self.NKV, self.HD)
        K, V = kc[:, :, :pos + 1], vc[:, :, :pos + 1]
        att = (q @ K.transpose(-2, -1)).mul_(1.0 / math.sqrt(self.HD)).softmax(-1)
        y = (att @ V).reshape(B, self.A)
        x = x + self.o_proj(y)
        return x + self.mlp(rms_norm(x, self.ln2, self.eps))


class Llama(nn.Module):
    def __init__(self, c, fused: bool, max_len: int):
        super().__init__()
        C, HD = c["dim"], head_dim(c)
        self.embed_tokens = nn.Embedding(c["vocab"], C)
        self.layers = nn.ModuleList([Block(c, fused) for _ in range(c["n_layers"])])
        self.norm = nn.Parameter(torch.ones(C))
        self.eps = NORM_EPS
        self.lm_head = nn.Linear(C, c["vocab"], bias=False)
        inv = 1.0 / (ROPE_THETA ** (torch.arange(0, HD, 2, dtype=torch.float32) / HD))
        freqs = torch.outer(torch.arange(max_len, dtype=torch.float32), inv)
        emb = torch.cat((freqs, freqs), dim=-1)
        self.register_buffer("cos", emb.cos(), persistent=False)
        self.register_buffer("sin", emb.sin(), persistent=False)
        for p in self.parameters():
            if p.dim() == 2:
                nn.init.normal_(p, 0.0, 0.02)
        if c["tied"]:
            self.lm_head.weight = self.embed_tokens.weight

    def prefill(self, tokens, kcache: List[torch.Tensor], vcache: List[torch.Tensor]):
        T = tokens.shape[1]
        x = self.embed_tokens(tokens)
        cos, sin = self.cos[:T], self.sin[:T]
        mask = torch.full((T, T), float("-inf")).triu(1)
        for i, layer in enumerate(self.layers):
            x = layer.prefill(x, cos, sin, mask, kcache[i], vcache[i])
        return self.lm_head(rms_norm(x[:, -1], self.norm, self.eps))

    def forward(self, tok, pos: int, kcache: List[torch.Tensor], vcache: List[torch.Tensor]):
        """One decode step: tok (B,) at position pos; logits (B, V)."""
        x = self.embed_tokens(tok)
        cos, sin = self.cos[pos], self.sin[pos]
        i = 0
        for layer in self.layers:
            x = layer.step(x, cos, sin, pos, kcache[i], vcache[i])
            i += 1
        return self.lm_head(rms_norm(x, self.norm, self.eps))


def sample(logits):
    """Temperature-1 sample and its log-probability, per row."""
    lp = torch.log_softmax(logits, dim=-1)
    tok = torch.multinomial(lp.exp(), 1)
    return tok.squeeze(1), lp.gather(1, tok).squeeze(1)


def generate(model, step, prompts, new, kcache, vcache, out_tok, out_lp):
    P = prompts.shape[1]
    tok, lp = sample(model.prefill(prompts, kcache, vcache))
    out_tok[:, 0], out_lp[:, 0] = tok, lp
    for t in range(1, new):
        tok, lp = sample(step(tok, P + t - 1, kcache, vcache))
        out_tok[:, t], out_lp[:, t] = tok, lp


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", choices=CONFIGS, default="tiny")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--prompt", type=int, default=32)
    ap.add_argument("--new", type=int, default=96)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--variant", choices=("eager", "fused", "script"), default="fused")
    a = ap.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    c = CONFIGS[a.config]
    B, P, V = a.batch, a.prompt, c["vocab"]
    L, NKV, HD = c["n_layers"], c["n_kv_heads"], head_dim(c)
    max_len = P + a.new
    model = Llama(c, a.variant != "eager", max_len).eval()
    for p in model.parameters():
        p.requires_grad_(False)
    step = torch.jit.script(model) if a.variant == "script" else model
    kcache = [torch.zeros(B, NKV, max_len, HD) for _ in range(L)]
    vcache = [torch.zeros(B, NKV, max_len, HD) for _ in range(L)]
    out_tok = torch.zeros(B, a.new, dtype=torch.int64)
    out_lp = torch.zeros(B, a.new)
    prompts = torch.randint(0, V, (B, P))

    with torch.inference_mode():
        generate(model, step, prompts, a.new, kcache, vcache, out_tok, out_lp)  # warm-up
        total, best, prefill = 0.0, float("inf"), float("inf")
        for _ in range(a.reps):
            t0 = time.perf_counter()
            generate(model, step, prompts, a.new, kcache, vcache, out_tok, out_lp)
            t1 = time.perf_counter()
            sample(model.prefill(prompts, kcache, vcache))
            t2 = time.perf_counter()
            total += t1 - t0
            best = min(best, t1 - t0)
            prefill = min(prefill, t2 - t1)
    if not torch.isfinite(out_lp).all():
        sys.exit("sample_torch: log-probabilities are not finite")
    run_ms, prefill_ms = best * 1e3, prefill * 1e3
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(f"torch config={a.config} batch={B} threads={a.threads} variant={a.variant} "
          f"tok_s={B * a.new / best:.0f} mean_tok_s={B * a.new * a.reps / total:.0f} run_ms={run_ms:.2f} prefill_ms={prefill_ms:.2f} "
          f"decode_ms_per_step={(run_ms - prefill_ms) / max(1, a.new - 1):.3f} "
          f"peak_rss_mb={rss_mb:.1f} mean_logprob={float(out_lp.mean()):.3f}")


if __name__ == "__main__":
    main()
