"""
llama_ref — the PyTorch side shared by the reference scripts of tests/ref/
(make_ref.py: logits, losses, gradients, AdamW; make_gen_ref.py: greedy generation).

A from-scratch Llama-family decoder with the semantics of Hugging Face's
LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM and Qwen3ForCausalLM (RMSNorm
in the compute dtype, RoPE with rotate_half and HF's "linear" and "llama3" frequency
scaling, grouped-query attention, SwiGLU; Qwen2's q/k/v biases; Qwen3's per-head
RMSNorm of q and k before RoPE), its parameter names and shapes, a random fp32
initialisation that keeps logits far from uniform, and writers for safetensors
(F32, I32, BF16) and HF config.json.

cfg is a dict: vocab, dim, n_layers, n_heads, n_kv_heads, ffn, max_seq, rope_theta,
norm_eps, and optionally bos, eos, pad (token ids for config.json; default 256, 257,
258 as in the byte tokenizer), arch ("llama" default, "mistral", "qwen2", "qwen3"),
head_dim (default dim // n_heads), tied (default False), rope_scaling (an HF
rope_scaling dict, default None).

LoRA adapters (make_lora_ref.py): forward's `lora` argument adds PEFT's low-rank
products to the seven projections; lora_name and lora_specs give PEFT's tensor names.
"""

import json
import math
import os
import struct

import numpy as np
import torch

# ---------------------------------------------------------------- model

ARCH_CLASS = {"llama": "LlamaForCausalLM", "mistral": "MistralForCausalLM",
              "qwen2": "Qwen2ForCausalLM", "qwen3": "Qwen3ForCausalLM"}


def head_dim(cfg):
    return cfg.get("head_dim") or cfg["dim"] // cfg["n_heads"]


def param_specs(cfg):
    """(name, shape) in HF naming; matrices are (out, in) like nn.Linear."""
    V, C, F = cfg["vocab"], cfg["dim"], cfg["ffn"]
    HD = head_dim(cfg)
    NH, NKV = cfg["n_heads"], cfg["n_kv_heads"]
    arch = cfg.get("arch", "llama")
    specs = [("model.embed_tokens.weight", (V, C))]
    for i in range(cfg["n_layers"]):
        p = "model.layers.%d." % i
        specs += [
            (p + "input_layernorm.weight", (C,)),
            (p + "self_attn.q_proj.weight", (NH * HD, C)),
            (p + "self_attn.k_proj.weight", (NKV * HD, C)),
            (p + "self_attn.v_proj.weight", (NKV * HD, C)),
        ]
        if arch == "qwen2":
            specs += [(p + "self_attn.q_proj.bias", (NH * HD,)),
                      (p + "self_attn.k_proj.bias", (NKV * HD,)),
                      (p + "self_attn.v_proj.bias", (NKV * HD,))]
        if arch == "qwen3":
            specs += [(p + "self_attn.q_norm.weight", (HD,)),
                      (p + "self_attn.k_norm.weight", (HD,))]
        specs += [
            (p + "self_attn.o_proj.weight", (C, NH * HD)),
            (p + "post_attention_layernorm.weight", (C,)),
            (p + "mlp.gate_proj.weight", (F, C)),
            (p + "mlp.up_proj.weight", (F, C)),
            (p + "mlp.down_proj.weight", (C, F)),
        ]
    specs += [("model.norm.weight", (C,))]
    if not cfg.get("tied"):
        specs += [("lm_head.weight", (V, C))]
    return specs


def init_params(cfg, gen):
    """fp32 parameters, larger than the usual 0.02 so that logits, attention and
    gradients are far from uniform and every path carries signal."""
    params = {}
    for name, shape in param_specs(cfg):
        if name.endswith(".bias"):
            t = 0.5 * torch.randn(shape, generator=gen)
        elif len(shape) == 1:
            t = 1.0 + 0.1 * torch.randn(shape, generator=gen)
        elif "embed" in name:   # a tied head needs the lm_head's scale
            t = (0.15 if cfg.get("tied") else 1.0) * torch.randn(shape, generator=gen)
        elif "lm_head" in name:
            t = 0.15 * torch.randn(shape, generator=gen)
        else:
            t = (1.0 / math.sqrt(shape[1])) * torch.randn(shape, generator=gen)
        params[name] = t.to(torch.float32)
    return params


def rms_norm(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def rotate_half(x):
    x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


def inv_freqs(cfg):
    """RoPE frequencies as HF computes them: fp32, then scaled by rope_scaling's type
    (the steps of transformers' _compute_linear_scaling_rope_parameters and
    _compute_llama3_parameters, in the same fp32 tensor arithmetic)."""
    HD = head_dim(cfg)
    # HF computes inv_freq in fp32 from int64 arange; the C side uses fp32 too,
    # so round it the same way before going to float64.
    inv_freq = 1.0 / (cfg["rope_theta"] ** (torch.arange(0, HD, 2, dtype=torch.int64).float() / HD))
    rs = cfg.get("rope_scaling")
    kind = rs and rs.get("rope_type", rs.get("type"))
    if kind == "linear":
        inv_freq = inv_freq / rs["factor"]
    elif kind == "llama3":
        factor, low, high = rs["factor"], rs["low_freq_factor"], rs["high_freq_factor"]
        old = rs["original_max_position_embeddings"]
        low_wavelen, high_wavelen = old / low, old / high
        wavelen = 2 * math.pi / inv_freq
        scaled = torch.where(wavelen > low_wavelen, inv_freq / factor, inv_freq)
        smooth = (old / wavelen - low) / (high - low)
        smoothed = (1 - smooth) * scaled / factor + smooth * scaled
        medium = ~(wavelen < high_wavelen) * ~(wavelen > low_wavelen)
        inv_freq = torch.where(medium, smoothed, scaled)
    elif kind not in (None, "default"):
        raise ValueError("rope type %r" % kind)
    return inv_freq


def rope_cos_sin(cfg, T, dtype):
    inv_freq = inv_freqs(cfg)
    pos = torch.arange(T, dtype=torch.float64)
    freqs = torch.outer(pos, inv_freq.to(torch.float64))
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos().to(dtype), emb.sin().to(dtype)


LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
LORA_MODULE = {"q_proj": "self_attn.q_proj", "k_proj": "self_attn.k_proj",
               "v_proj": "self_attn.v_proj", "o_proj": "self_attn.o_proj",
               "gate_proj": "mlp.gate_proj", "up_proj": "mlp.up_proj", "down_proj": "mlp.down_proj"}


def lora_name(layer, target, which):
    """PEFT's name of an adapter tensor in adapter_model.safetensors; which is A or B."""
    return "base_model.model.model.layers.%d.%s.lora_%s.weight" % (layer, LORA_MODULE[target], which)


def lora_specs(cfg, targets, rank):
    """(name, shape) of the adapters of targets, in (layer, target, A then B) order."""
    shapes = dict(param_specs(cfg))
    specs = []
    for i in range(cfg["n_layers"]):
        for t in LORA_TARGETS:
            if t in targets:
                out, inp = shapes["model.layers.%d.%s.weight" % (i, LORA_MODULE[t])]
                specs += [(lora_name(i, t, "A"), (rank, inp)), (lora_name(i, t, "B"), (out, rank))]
    return specs


def forward(cfg, P, tokens, lora=None):
    """Logits (B, T, V) of LlamaForCausalLM; P maps HF name -> tensor (any dtype).
    lora: None, or (scale, adapters) with adapters mapping PEFT names (lora_name) to
    tensors: each adapted projection computes x W^T + scale * (x A^T) B^T, as PEFT's
    LoRA Linear does without dropout."""
    B, T = tokens.shape
    C, NH, NKV = cfg["dim"], cfg["n_heads"], cfg["n_kv_heads"]
    HD = head_dim(cfg)
    eps = cfg["norm_eps"]
    arch = cfg.get("arch", "llama")
    dtype = P["model.embed_tokens.weight"].dtype
    cos, sin = rope_cos_sin(cfg, T, dtype)
    causal = torch.ones(T, T, dtype=torch.bool).tril()
    x = P["model.embed_tokens.weight"][tokens]
    for i in range(cfg["n_layers"]):
        p = "model.layers.%d." % i

        def proj(h, target, i=i, p=p):
            y = h @ P[p + LORA_MODULE[target] + ".weight"].T
            if lora and lora_name(i, target, "A") in lora[1]:
                ad = lora[1]
                y = y + lora[0] * ((h @ ad[lora_name(i, target, "A")].T) @ ad[lora_name(i, target, "B")].T)
            return y
        h = rms_norm(x, P[p + "input_layernorm.weight"], eps)
        q = proj(h, "q_proj")
        k = proj(h, "k_proj")
        v = proj(h, "v_proj")
        if arch == "qwen2":
            q = q + P[p + "self_attn.q_proj.bias"]
            k = k + P[p + "self_attn.k_proj.bias"]
            v = v + P[p + "self_attn.v_proj.bias"]
        q = q.view(B, T, NH, HD)
        k = k.view(B, T, NKV, HD)
        if arch == "qwen3":   # Qwen3Attention: norm over each head, before RoPE
            q = rms_norm(q, P[p + "self_attn.q_norm.weight"], eps)
            k = rms_norm(k, P[p + "self_attn.k_norm.weight"], eps)
        q = q.transpose(1, 2)
        k = k.transpose(1, 2)
        v = v.view(B, T, NKV, HD).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k = k.repeat_interleave(NH // NKV, dim=1)   # head h uses kv head h // (NH/NKV)
        v = v.repeat_interleave(NH // NKV, dim=1)
        s = (q @ k.transpose(-1, -2)) / math.sqrt(HD)
        s = s.masked_fill(~causal, float("-inf"))
        y = torch.softmax(s, dim=-1) @ v
        y = y.transpose(1, 2).reshape(B, T, NH * HD)
        x = x + proj(y, "o_proj")
        h = rms_norm(x, P[p + "post_attention_layernorm.weight"], eps)
        g = proj(h, "gate_proj")
        u = proj(h, "up_proj")
        x = x + proj(torch.nn.functional.silu(g) * u, "down_proj")
    x = rms_norm(x, P["model.norm.weight"], eps)
    return x @ P["lm_head.weight" if not cfg.get("tied") else "model.embed_tokens.weight"].T


# ---------------------------------------------------------------- safetensors

def write_safetensors(path, tensors, metadata=None):
    """tensors: list of (name, np.ndarray of float32 or int32, or a torch bfloat16
    tensor, written as BF16)."""
    header = {}
    off = 0
    blobs = []
    for name, a in tensors:
        if isinstance(a, torch.Tensor):
            assert a.dtype == torch.bfloat16
            shape = list(a.shape)
            a = a.contiguous().view(torch.int16).numpy().view(np.uint16)
            data = a.astype("<u2", copy=False).tobytes()
            header[name] = {"dtype": "BF16", "shape": shape, "data_offsets": [off, off + len(data)]}
            off += len(data)
            blobs.append(data)
            continue
        a = np.ascontiguousarray(a)
        dt = {np.dtype(np.float32): "F32", np.dtype(np.int32): "I32"}[a.dtype]
        data = a.astype(a.dtype.newbyteorder("<"), copy=False).tobytes()
        header[name] = {"dtype": dt, "shape": list(a.shape), "data_offsets": [off, off + len(data)]}
        off += len(data)
        blobs.append(data)
    if metadata:
        header["__metadata__"] = metadata
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for d in blobs:
            f.write(d)
    os.replace(tmp, path)


def write_config(path, cfg):
    arch = cfg.get("arch", "llama")
    c = {
        "architectures": [ARCH_CLASS[arch]],
        "model_type": arch,
        "vocab_size": cfg["vocab"],
        "hidden_size": cfg["dim"],
        "intermediate_size": cfg["ffn"],
        "num_hidden_layers": cfg["n_layers"],
        "num_attention_heads": cfg["n_heads"],
        "num_key_value_heads": cfg["n_kv_heads"],
        "max_position_embeddings": cfg["max_seq"],
        "rope_theta": cfg["rope_theta"],
        "rms_norm_eps": cfg["norm_eps"],
        "tie_word_embeddings": bool(cfg.get("tied")),
        "bos_token_id": cfg.get("bos", 256),
        "eos_token_id": cfg.get("eos", 257),
        "pad_token_id": cfg.get("pad", 258),
        "hidden_act": "silu",
        "torch_dtype": cfg.get("torch_dtype", "float32"),
    }
    if arch != "qwen2":
        c["attention_bias"] = False
    if cfg.get("head_dim") or arch == "qwen3":
        c["head_dim"] = head_dim(cfg)
    if cfg.get("rope_scaling"):
        c["rope_scaling"] = cfg["rope_scaling"]
    if arch in ("qwen2", "qwen3"):
        # as Qwen2.5's own configs: a window that use_sliding_window false switches off
        c.update(use_sliding_window=False, sliding_window=cfg["max_seq"], max_window_layers=cfg["n_layers"],
                 attention_dropout=0.0)
    if arch == "mistral":
        c["sliding_window"] = cfg["max_seq"]   # covers every position: no window
    with open(path, "w") as f:
        json.dump(c, f, indent=2)
        f.write("\n")
