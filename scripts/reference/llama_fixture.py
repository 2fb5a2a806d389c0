#!/usr/bin/env python3
"""Parity fixtures for the Swift Llama core, computed by transformers' LlamaForCausalLM.

Writes into Tests/LlamaTests/Fixtures/ (run from the repository root):
  untied/, tied/            Hugging Face model directories (config.json + model.safetensors, save_pretrained)
  <case>.safetensors        input_ids, labels, attention_mask, position_ids (stored as F32, exact for
                            these small ints), logits [B*T, V], grad.<name> for every parameter, and
                            step.<name>: the weights after one AdamW step with gradient clipping
  <case>.json               loss, grad_norm (pre-clip), model directory, AdamW/clipping hyper-parameters
Cases: untied, tied (B=2, T=8, one -100 label; eager attention) and padded (sdpa, the default) (untied weights; a left-padded batch with an
attention mask and position ids = cumsum(mask) - 1, labels -100 on padding).

Versions used: torch 2.13.0+cpu, transformers 5.24.0, safetensors. Regenerate:
  python3 scripts/reference/llama_fixture.py
"""
import json
import os
import sys

import torch
from safetensors.torch import save_file
from transformers import LlamaConfig, LlamaForCausalLM

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "LlamaTests", "Fixtures")
ADAMW = dict(lr=1e-2, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1)
MAX_NORM = 0.5
B, T = 2, 8


def make_model(tied: bool, seed: int) -> LlamaForCausalLM:
    torch.manual_seed(seed)
    cfg = LlamaConfig(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
                      rms_norm_eps=1e-6, rope_theta=10000.0, initializer_range=0.1,
                      tie_word_embeddings=tied, bos_token_id=1, eos_token_id=2, pad_token_id=0,
                      attn_implementation="eager")
    model = LlamaForCausalLM(cfg).float()
    with torch.no_grad():  # non-trivial norm weights so their gradients are exercised
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                p.copy_(1.0 + 0.1 * torch.randn_like(p))
    return model


def run_case(name: str, model: LlamaForCausalLM, model_dir: str, ids, labels, mask, pos):
    model.zero_grad()
    out = model(input_ids=ids, attention_mask=mask, position_ids=pos, labels=labels)
    out.loss.backward()
    params = list(model.named_parameters())
    tensors = {
        "input_ids": ids.float().reshape(-1), "labels": labels.float().reshape(-1),
        "attention_mask": mask.float().reshape(-1), "position_ids": pos.float().reshape(-1),
        "logits": out.logits.detach().reshape(B * T, -1).contiguous(),
    }
    for n, p in params:
        tensors["grad." + n] = p.grad.detach().clone().contiguous()
    # One AdamW step with clipping; no weight decay on norms and embeddings (the Swift default).
    decay = [p for n, p in params if p.dim() >= 2 and "embed_tokens" not in n]
    no_decay = [p for n, p in params if not (p.dim() >= 2 and "embed_tokens" not in n)]
    opt = torch.optim.AdamW([{"params": decay}, {"params": no_decay, "weight_decay": 0.0}], **ADAMW)
    grad_norm = torch.nn.utils.clip_grad_norm_([p for _, p in params], MAX_NORM)
    opt.step()
    for n, p in params:
        tensors["step." + n] = p.detach().clone().contiguous()
    save_file(tensors, os.path.join(OUT, name + ".safetensors"), metadata={"format": "pt"})
    meta = {"model": model_dir, "batch": B, "seq_len": T, "loss": out.loss.item(), "grad_norm": grad_norm.item(),
            "lr": ADAMW["lr"], "beta1": ADAMW["betas"][0], "beta2": ADAMW["betas"][1], "eps": ADAMW["eps"],
            "weight_decay": ADAMW["weight_decay"], "max_norm": MAX_NORM,
            "torch": torch.__version__, "transformers": __import__("transformers").__version__}
    with open(os.path.join(OUT, name + ".json"), "w") as f:
        json.dump(meta, f, indent=2, sort_keys=True)
    print(f"{name}: loss {meta['loss']:.6f} grad_norm {meta['grad_norm']:.6f}", file=sys.stderr)


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(1234)
    ids = torch.randint(3, 64, (B, T))
    labels = ids.clone()
    labels[0, 3] = -100
    full_mask = torch.ones(B, T, dtype=torch.long)
    full_pos = torch.arange(T).unsqueeze(0).repeat(B, 1)

    models = {}
    for tied in (False, True):
        d = "tied" if tied else "untied"
        m = make_model(tied, seed=7 if tied else 5)
        m.save_pretrained(os.path.join(OUT, d), safe_serialization=True)
        models[d] = m

    run_case("untied", models["untied"], "untied", ids, labels, full_mask, full_pos)
    run_case("tied", models["tied"], "tied", ids, labels, full_mask, full_pos)

    # Left padding: row 0 keeps 8 tokens, row 1 has 5 real tokens after 3 pads (pad id 0). With HF's
    # shift, the last pad position predicts the first real token and counts in the loss. A pad query
    # sees no key: torch's SDPA (transformers' default attention) returns a zero row there, which is
    # what the Swift kernel does; eager attention would average all keys uniformly instead, so this
    # case uses the default (sdpa). The two agree everywhere else.
    fresh = LlamaForCausalLM.from_pretrained(os.path.join(OUT, "untied"), attn_implementation="sdpa").float()
    pids = ids.clone()
    pmask = torch.ones(B, T, dtype=torch.long)
    pmask[1, :3] = 0
    pids[1, :3] = 0
    ppos = (pmask.cumsum(-1) - 1).clamp(min=0)
    plabels = pids.clone()
    plabels[pmask == 0] = -100
    plabels[0, 5] = -100
    run_case("padded", fresh, "untied", pids, plabels, pmask, ppos)


if __name__ == "__main__":
    main()
