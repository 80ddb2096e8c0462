#!/usr/bin/python3
"""train_torch — the plain-PyTorch side of bench/train.sh.

The same Llama as core/ (token embedding, RMSNorm, RoPE in HF rotate_half
convention, causal attention with grouped key/value heads, SwiGLU MLP, LM head
tied to the embedding or not, per config; for qwen3_06b an explicit head_dim and
Qwen3's per-head q/k RMSNorm before RoPE), trained on
random tokens with cross-entropy, clip_grad_norm_(1.0) and AdamW, timed over
--steps steps after --warmup untimed ones. Prints one parseable line:

    torch config=tiny threads=1 variant=eager tok_s=... step_ms=... gflops=... peak_rss_mb=... cpu_ms=... loss=...

(gflops uses bench_train.c's FLOP count; cpu_ms is process CPU time per step.)

torch 1.13 (Debian's python3-torch) has no scaled_dot_product_attention, so
attention is matmul + causal mask + softmax + matmul. Variants, all computing the
same thing, so train.sh can keep PyTorch's fastest:
  eager   separate q/k/v and gate/up Linear layers, as in HF's LlamaModel
  fused   one Linear for q|k|v and one for gate|up (what core/ does: fewer GEMMs),
          and the causal mask added inside the score GEMM (baddbmm) instead of
          a masked_fill pass
  jit     `fused` with the RMSNorm / RoPE / SwiGLU elementwise parts scripted by
          torch.jit.script so the CPU fuser can merge them
"""

import argparse
import math
import resource
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

CONFIGS = {
    "tiny": dict(dim=128, n_layers=4, n_heads=4, n_kv_heads=4, ffn=336, vocab=264,
                 tied=False, seq=128, batch=16),
    "small": dict(dim=256, n_layers=6, n_heads=8, n_kv_heads=8, ffn=688, vocab=264,
                  tied=False, seq=256, batch=8),
    # SmolLM2-135M's real shape; batch x seq as bench_train.c's
    "smol135m": dict(dim=576, n_layers=30, n_heads=9, n_kv_heads=3, ffn=1536, vocab=49152,
                     tied=True, seq=128, batch=4),
    # Qwen3-0.6B's shape: head_dim 128 (NH * HD = 2048 != dim), per-head q/k RMSNorm
    "qwen3_06b": dict(dim=1024, n_layers=28, n_heads=16, n_kv_heads=8, ffn=3072,
                      vocab=151936, tied=True, seq=256, batch=1, head_dim=128, qk_norm=True),
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


def swiglu(g, u):
    return F.silu(g) * u


rms_norm_jit = None
apply_rope_jit = None
swiglu_jit = None


class RMSNorm(nn.Module):
    def __init__(self, dim, fn):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.fn = fn

    def forward(self, x):
        return self.fn(x, self.weight, NORM_EPS)


class Block(nn.Module):
    def __init__(self, c, fused, fns):
        super().__init__()
        C, NH, NKV, Fd = c["dim"], c["n_heads"], c["n_kv_heads"], c["ffn"]
        self.NH, self.NKV, self.HD, self.fused = NH, NKV, head_dim(c), fused
        KV, A = NKV * self.HD, NH * self.HD
        self.A = A
        self.rms, self.rope, self.swiglu = fns
        self.input_layernorm = RMSNorm(C, self.rms)
        self.post_attention_layernorm = RMSNorm(C, self.rms)
        # Qwen3: RMSNorm over each q and k head before RoPE
        self.qk_norm = bool(c.get("qk_norm"))
        if self.qk_norm:
            self.q_norm = RMSNorm(self.HD, self.rms)
            self.k_norm = RMSNorm(self.HD, self.rms)
        if fused:
            self.qkv_proj = nn.Linear(C, A + 2 * KV, bias=False)
            self.gate_up_proj = nn.Linear(C, 2 * Fd, bias=False)
        else:
            self.q_proj = nn.Linear(C, A, bias=False)
            self.k_proj = nn.Linear(C, KV, bias=False)
            self.v_proj = nn.Linear(C, KV, bias=False)
            self.gate_proj = nn.Linear(C, Fd, bias=False)
            self.up_proj = nn.Linear(C, Fd, bias=False)
        self.o_proj = nn.Linear(A, C, bias=False)
        self.down_proj = nn.Linear(Fd, C, bias=False)

    def forward(self, x, cos, sin, mask):
        B, T, C = x.shape
        h = self.input_layernorm(x)
        if self.fused:
            q, k, v = self.qkv_proj(h).split([self.A, self.NKV * self.HD, self.NKV * self.HD], dim=-1)
        else:
            q, k, v = self.q_proj(h), self.k_proj(h), self.v_proj(h)
        q = q.view(B, T, self.NH, self.HD)
        k = k.view(B, T, self.NKV, self.HD)
        if self.qk_norm:
            q, k = self.q_norm(q), self.k_norm(k)
        q, k = q.transpose(1, 2), k.transpose(1, 2)
        v = v.view(B, T, self.NKV, self.HD).transpose(1, 2)
        q, k = self.rope(q, cos, sin), self.rope(k, cos, sin)
        if self.NKV != self.NH:  # HF's repeat_kv: each KV head serves NH / NKV query heads
            k = k.repeat_interleave(self.NH // self.NKV, dim=1)
            v = v.repeat_interleave(self.NH // self.NKV, dim=1)
        if self.fused:
            # additive -inf mask folded into the score GEMM: one baddbmm, no masked_fill
            att = torch.baddbmm(mask, q.reshape(B * self.NH, T, self.HD),
                                k.reshape(B * self.NH, T, self.HD).transpose(1, 2),
                                alpha=1.0 / math.sqrt(self.HD)).softmax(dim=-1)
            y = torch.bmm(att, v.reshape(B * self.NH, T, self.HD))
            y = y.view(B, self.NH, T, self.HD).transpose(1, 2).reshape(B, T, self.A)
        else:
            att = torch.matmul(q, k.transpose(-2, -1)) * (1.0 / math.sqrt(self.HD))
            att = att.masked_fill(mask, float("-inf")).softmax(dim=-1)
            y = torch.matmul(att, v).transpose(1, 2).reshape(B, T, self.A)
        x = x + self.o_proj(y)
        h = self.post_attention_layernorm(x)
        if self.fused:
            g, u = self.gate_up_proj(h).chunk(2, dim=-1)
        else:
            g, u = self.gate_proj(h), self.up_proj(h)
        return x + self.down_proj(self.swiglu(g, u))


class Llama(nn.Module):
    def __init__(self, c, variant):
        super().__init__()
        if variant == "jit":
            fns = (torch.jit.script(rms_norm), torch.jit.script(apply_rope),
                   torch.jit.script(swiglu))
        else:
            fns = (rms_norm, apply_rope, swiglu)
        fused = variant in ("fused", "jit")
        self.fused = fused
        C, T, HD = c["dim"], c["seq"], head_dim(c)
        self.embed_tokens = nn.Embedding(c["vocab"], C)
        self.layers = nn.ModuleList(Block(c, fused, fns) for _ in range(c["n_layers"]))
        self.norm = RMSNorm(C, fns[0])
        self.lm_head = nn.Linear(C, c["vocab"], bias=False)
        inv = 1.0 / (ROPE_THETA ** (torch.arange(0, HD, 2, dtype=torch.float32) / HD))
        freqs = torch.outer(torch.arange(T, dtype=torch.float32), inv)
        emb = torch.cat((freqs, freqs), dim=-1)
        self.register_buffer("cos", emb.cos(), persistent=False)
        self.register_buffer("sin", emb.sin(), persistent=False)
        self.register_buffer("mask", torch.ones(T, T, dtype=torch.bool).triu(1), persistent=False)
        for p in self.parameters():
            if p.dim() == 2:
                nn.init.normal_(p, 0.0, 0.02)
        if c["tied"]:
            self.lm_head.weight = self.embed_tokens.weight

    def forward(self, tokens):
        T = tokens.shape[1]
        x = self.embed_tokens(tokens)
        cos, sin, mask = self.cos[:T], self.sin[:T], self.mask[:T, :T]
        if self.fused:
            mask = torch.zeros(T, T).masked_fill(mask, float("-inf"))
        for layer in self.layers:
            x = layer(x, cos, sin, mask)
        return self.lm_head(self.norm(x))


def flops_per_token(c):
    """Same convention as bench_train.c: 6N + 12*L*T*C (PaLM / llm.c; see there)."""
    C, L, Fd, V, T = c["dim"], c["n_layers"], c["ffn"], c["vocab"], c["seq"]
    A, KV = c["n_heads"] * head_dim(c), c["n_kv_heads"] * head_dim(c)
    n_matmul = L * (2 * C * A + 2 * C * KV + 3 * C * Fd) + V * C
    return 6 * n_matmul + 12 * L * T * C


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", choices=CONFIGS, default="tiny")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--variant", choices=("eager", "fused", "jit"), default="fused")
    a = ap.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    c = CONFIGS[a.config]
    B, T, V = c["batch"], c["seq"], c["vocab"]
    model = Llama(c, a.variant)
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=1e-3, betas=(0.9, 0.95), eps=1e-8, foreach=True)
    tokens = torch.randint(0, V, (B, T + 1))
    inp, tgt = tokens[:, :-1].contiguous(), tokens[:, 1:].contiguous()

    def step():
        opt.zero_grad(set_to_none=True)
        logits = model(inp)
        loss = F.cross_entropy(logits.view(-1, V), tgt.view(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return loss

    for _ in range(a.warmup):
        step()
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(a.steps):
        loss = step()
    dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    loss = loss.item()
    if not math.isfinite(loss):
        sys.exit("train_torch: loss is not finite")
    tok_s = a.steps * B * T / dt
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(f"torch config={a.config} threads={a.threads} variant={a.variant} "
          f"tok_s={tok_s:.0f} step_ms={dt / a.steps * 1e3:.2f} "
          f"gflops={tok_s * flops_per_token(c) / 1e9:.2f} peak_rss_mb={rss_mb:.1f} "
          f"cpu_ms={cpu / a.steps * 1e3:.2f} "
          f"loss={loss:.4f}")


if __name__ == "__main__":
    main()
