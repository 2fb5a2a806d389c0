"""Writes a randomly initialised Llama (Hugging Face layout) next to a trained tokenizer, as a stand-in
for a pretrain artifact when measuring rag-inject without the pretrain stage.

usage: python3 init_model.py TOKENIZER_DIR OUT_DIR [--hidden 128] [--layers 4] [--heads 4] [--ctx 256]
"""
import argparse
import json
import os
import shutil

import torch
from transformers import LlamaConfig, LlamaForCausalLM

ap = argparse.ArgumentParser()
ap.add_argument("tokenizer")
ap.add_argument("out")
ap.add_argument("--hidden", type=int, default=128)
ap.add_argument("--layers", type=int, default=4)
ap.add_argument("--heads", type=int, default=4)
ap.add_argument("--ctx", type=int, default=256)
ap.add_argument("--seed", type=int, default=0)
a = ap.parse_args()

tok = json.load(open(os.path.join(a.tokenizer, "tokenizer.json")))
vocab = len(tok["model"]["vocab"]) + sum(1 for t in tok.get("added_tokens", []) if t["content"] not in tok["model"]["vocab"])
ids = {t["content"]: t["id"] for t in tok.get("added_tokens", [])}
torch.manual_seed(a.seed)
config = LlamaConfig(
    vocab_size=vocab, hidden_size=a.hidden, intermediate_size=a.hidden * 3, num_hidden_layers=a.layers,
    num_attention_heads=a.heads, num_key_value_heads=a.heads, max_position_embeddings=a.ctx,
    rms_norm_eps=1e-5, rope_theta=10000.0, tie_word_embeddings=True, initializer_range=0.02,
    bos_token_id=ids.get("<|begin_of_text|>"), eos_token_id=ids.get("<|end_of_text|>"), pad_token_id=ids.get("<|pad|>"))
model = LlamaForCausalLM(config)
os.makedirs(a.out, exist_ok=True)
model.save_pretrained(a.out, safe_serialization=True)
for name in os.listdir(a.tokenizer):
    src = os.path.join(a.tokenizer, name)
    if os.path.isfile(src) and name not in ("config.json", "model.safetensors"):
        shutil.copy(src, os.path.join(a.out, name))
print(f"{a.out}: vocab {vocab}, {sum(p.numel() for p in model.parameters())} parameters")
