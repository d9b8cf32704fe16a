#!/usr/bin/env python3
"""Reference logits from Hugging Face transformers, for checking our engine.

Builds LlamaForCausalLM from a model folder (config.json + model.safetensors,
as models.WriteSafetensors writes them), runs one forward pass over the given
token ids with eager attention and no cache, and writes a safetensors file:

  logits    F32 [n, vocab]  every position's logits
  inv_freq  F32 [head_dim/2] the rotary embedding's inverse frequencies

The model runs in --dtype (default float64): the bf16 weights widen exactly,
so the reference carries no rounding of its own worth mentioning and the
difference to our float32 engine is ours.

usage: hf_logits.py MODEL_DIR TOKENS_JSON OUT.safetensors [--dtype float32]
"""
import argparse
import json
import sys
import time

import torch
from safetensors.torch import save_file
from transformers import LlamaForCausalLM


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model_dir")
    ap.add_argument("tokens_json", help="a JSON list of token ids")
    ap.add_argument("out")
    ap.add_argument("--dtype", default="float64", choices=["float64", "float32"])
    a = ap.parse_args()
    dtype = getattr(torch, a.dtype)
    torch.backends.cuda.matmul.allow_tf32 = False
    t0 = time.time()
    try:
        model = LlamaForCausalLM.from_pretrained(a.model_dir, dtype=dtype, attn_implementation="eager")
    except TypeError:  # transformers < 4.56 spells it torch_dtype
        model = LlamaForCausalLM.from_pretrained(a.model_dir, torch_dtype=dtype, attn_implementation="eager")
    model.eval()
    t1 = time.time()
    ids = json.load(open(a.tokens_json))
    with torch.no_grad():
        out = model(input_ids=torch.tensor([ids], dtype=torch.long), use_cache=False)
    t2 = time.time()
    logits = out.logits[0].to(torch.float32).contiguous()
    inv = model.model.rotary_emb.inv_freq.to(torch.float32).contiguous()
    save_file({"logits": logits, "inv_freq": inv}, a.out,
              metadata={"dtype": a.dtype, "transformers": __import__("transformers").__version__,
                        "torch": torch.__version__})
    print(f"hf_logits: {len(ids)} tokens, load {t1-t0:.1f}s, forward {t2-t1:.2f}s, "
          f"max|logit| {logits.abs().max().item():.4g} -> {a.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
