#!/usr/bin/env python3
"""Verify `rlhf export` / `rlhf import-hf` against the real consumers: transformers, peft, llama.cpp.

What it does (each check prints PASS/FAIL with its number; exit status 1 if any check fails):
  1. Either takes a model trained by rlhf (--base, e.g. a `pretrain` artifact) and a copy of it with a
     LoRA adapter trained by rlhf (--lora, from `rlhf-bench train-lora`), or trains a byte-level BPE
     tokenizer with HF tokenizers and a tiny LlamaForCausalLM (GQA, untied head, vocab padded past the
     tokenizer) with torch for a few hundred steps on a Shakespeare slice, so that perplexity means
     something, then a LoRA adapter on top with peft.
  2. Runs `rlhf export` (hf f32/bf16, peft, hf --merge, gguf f32/f16/q8_0/q4_0) and `rlhf import-hf`.
  3. transformers loads the hf export: next-token logits equal the source model's within 1e-4 (F32), and
     rlhf's own Swift forward pass (`rlhf-bench logits`, with --rlhf-bench) within 1e-4, with and
     without the LoRA adapter (vs peft on the export).
  4. peft loads the exported adapter onto the base; its logits equal the merged export's within 1e-4.
  5. llama.cpp (llama-cpp-python) loads the GGUF files: tokenization equals HF tokenizers', greedy
     generation of 32 tokens at F32 equals transformers' greedy generation (and `rlhf generate
     --temperature 0`, with --rlhf-generate); Q8_0 perplexity on held-out text
     within 1 % of F32's, Q4_0 within 10 %; Q8_0/Q4_0 blocks equal gguf-py's port of ggml's reference
     quantizers byte for byte.
  6. Bad input: existing output, not a model, row length not a multiple of 32: non-zero exit, nothing left.

Requirements: torch, transformers, tokenizers, safetensors, peft, gguf, llama-cpp-python
(`pip install peft gguf llama-cpp-python`; the last compiles llama.cpp, allow ~15 minutes).
Usage: swift build --product rlhf && python3 scripts/verify_export.py [--rlhf .build/debug/rlhf] [--steps 400]
With models trained by rlhf (the run in benchmarks/results/export-verify.md):
  swift build -c release
  .build/release/rlhf run benchmarks/export-verify.yaml --workdir /tmp/ev     # tokenizer + 300 pretrain steps
  .build/release/rlhf-bench train-lora --model /tmp/ev/artifacts/<pretrain> --text \
      scripts/reference/data/tinyshakespeare-train.txt --out /tmp/ev-lora --steps 80 --seq-len 128
  python3 scripts/verify_export.py --rlhf .build/release/rlhf --rlhf-bench .build/release/rlhf-bench \
      --base /tmp/ev/artifacts/<pretrain> --lora /tmp/ev-lora --rlhf-generate --workdir /tmp/ev-verify
"""
from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "scripts" / "reference" / "data"
FAILURES: list[str] = []


def check(name: str, ok: bool, detail: str) -> None:
    print(f"{'PASS' if ok else 'FAIL'}  {name}: {detail}", flush=True)
    if not ok:
        FAILURES.append(name)


def run(cmd: list[str], expect_ok: bool = True) -> subprocess.CompletedProcess:
    print("$ " + " ".join(str(c) for c in cmd), flush=True)
    p = subprocess.run([str(c) for c in cmd], capture_output=True, text=True)
    out = (p.stdout + p.stderr).strip()
    if out:
        print("  " + out.replace("\n", "\n  "), flush=True)
    if expect_ok and p.returncode != 0:
        raise SystemExit(f"command failed with status {p.returncode}")
    return p


# MARK: - 1. Tokenizer, model, adapter

def train_tokenizer(text: str, vocab_size: int):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=["<|endoftext|>", "<|pad|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator([text], trainer)
    return tok


def batches(ids: torch.Tensor, batch: int, seq: int, gen: torch.Generator):
    while True:
        starts = torch.randint(0, len(ids) - seq - 1, (batch,), generator=gen)
        x = torch.stack([ids[s:s + seq] for s in starts])
        yield x


def train(model, ids, steps: int, lr: float, seed: int, params=None) -> float:
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(params if params is not None else model.parameters(), lr=lr, weight_decay=0.0)
    model.train()
    loss = float("nan")
    for step, x in zip(range(steps), batches(ids, 8, 128, gen)):
        out = model(input_ids=x, labels=x)
        opt.zero_grad()
        out.loss.backward()
        opt.step()
        loss = out.loss.item()
        if step % 100 == 0 or step == steps - 1:
            print(f"  step {step:4d} loss {loss:.4f}", flush=True)
    model.eval()
    return loss


def build_models(work: Path, steps: int):
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast
    from peft import LoraConfig, get_peft_model

    train_text = (DATA / "tinyshakespeare-train.txt").read_text()
    tok = train_tokenizer(train_text, vocab_size=512)
    n_tok = tok.get_vocab_size()
    hf_tok = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<|endoftext|>", eos_token="<|endoftext|>",
                                     pad_token="<|pad|>")
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=544, hidden_size=128, intermediate_size=384, num_hidden_layers=3,
                         num_attention_heads=4, num_key_value_heads=2, head_dim=32, max_position_embeddings=256,
                         rms_norm_eps=1e-5, rope_theta=10000.0, tie_word_embeddings=False,
                         bos_token_id=0, eos_token_id=0, pad_token_id=1)
    model = LlamaForCausalLM(config).float()
    ids = torch.tensor(tok.encode(train_text).ids, dtype=torch.long)
    print(f"tokenizer: {n_tok} tokens (config vocab_size {config.vocab_size}); train text {len(ids)} tokens")
    train(model, ids, steps, 3e-3, seed=1)
    base = work / "base"
    model.save_pretrained(base, safe_serialization=True)
    hf_tok.save_pretrained(base)

    lora_cfg = LoraConfig(r=8, lora_alpha=16, lora_dropout=0.0, bias="none", task_type="CAUSAL_LM",
                          target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"])
    peft_model = get_peft_model(LlamaForCausalLM.from_pretrained(base), lora_cfg)
    train(peft_model, ids, max(40, steps // 5), 3e-3, seed=2, params=[p for p in peft_model.parameters() if p.requires_grad])
    lora = work / "lora"
    shutil.copytree(base, lora)
    peft_model.save_pretrained(lora / "adapter")
    return base, lora, tok


# MARK: - Helpers

def logits_of(model, ids: list[int]) -> torch.Tensor:
    with torch.no_grad():
        return model(input_ids=torch.tensor([ids])).logits[0].float()


def greedy_torch(model, ids: list[int], n: int) -> list[int]:
    seq = list(ids)
    with torch.no_grad():
        for _ in range(n):
            seq.append(int(model(input_ids=torch.tensor([seq])).logits[0, -1].argmax()))
    return seq[len(ids):]


def perplexity_torch(model, ids: list[int], window: int) -> float:
    nll, count = 0.0, 0
    with torch.no_grad():
        for s in range(0, len(ids) - 1, window):
            chunk = ids[s:s + window + 1]
            if len(chunk) < 2:
                break
            logits = model(input_ids=torch.tensor([chunk[:-1]])).logits[0].double()
            nll += torch.nn.functional.cross_entropy(logits, torch.tensor(chunk[1:]), reduction="sum").item()
            count += len(chunk) - 1
    return math.exp(nll / count)


N_CTX = 512  # set from the model's max_position_embeddings in main()


def llama_cpp_model(path: Path):
    from llama_cpp import Llama
    return Llama(model_path=str(path), n_ctx=N_CTX, n_batch=N_CTX, logits_all=True, verbose=False, n_threads=2, seed=0)


def greedy_llama_cpp(llm, ids: list[int], n: int) -> tuple[list[int], np.ndarray]:
    llm.reset()
    llm.eval(ids)
    first = np.array(llm.scores[llm.n_tokens - 1], dtype=np.float64)
    out = []
    for _ in range(n):
        nxt = int(np.argmax(llm.scores[llm.n_tokens - 1]))
        out.append(nxt)
        llm.eval([nxt])
    return out, first


def perplexity_llama_cpp(llm, ids: list[int], window: int) -> float:
    nll, count = 0.0, 0
    for s in range(0, len(ids) - 1, window):
        chunk = ids[s:s + window + 1]
        if len(chunk) < 2:
            break
        llm.reset()
        llm.eval(chunk[:-1])
        logits = np.array(llm.scores[:len(chunk) - 1], dtype=np.float64)
        logits -= logits.max(axis=1, keepdims=True)
        logp = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
        nll -= float(logp[np.arange(len(chunk) - 1), chunk[1:]].sum())
        count += len(chunk) - 1
    return math.exp(nll / count)


def permute(w: np.ndarray, n_head: int) -> np.ndarray:
    """llama.cpp's Q/K row permutation (conversion/llama.py LlamaModel.permute)."""
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def check_quant_bytes(gguf_path: Path, base: Path, qtype_name: str) -> None:
    """Our Q8_0/Q4_0 blocks vs gguf-py's port of ggml's reference quantizers, byte for byte."""
    import gguf
    from safetensors.numpy import load_file
    cfg = json.loads((base / "config.json").read_text())
    weights = load_file(str(base / "model.safetensors"))
    reader = gguf.GGUFReader(str(gguf_path))
    names = {
        "token_embd.weight": "model.embed_tokens.weight", "output.weight": "lm_head.weight",
    }
    for i in range(cfg["num_hidden_layers"]):
        for hf, gg in [("self_attn.q_proj", "attn_q"), ("self_attn.k_proj", "attn_k"), ("self_attn.v_proj", "attn_v"),
                       ("self_attn.o_proj", "attn_output"), ("mlp.gate_proj", "ffn_gate"), ("mlp.up_proj", "ffn_up"),
                       ("mlp.down_proj", "ffn_down")]:
            names[f"blk.{i}.{gg}.weight"] = f"model.layers.{i}.{hf}.weight"
    compared, mismatched = 0, []
    for t in reader.tensors:
        if t.name not in names or t.tensor_type.name not in ("Q8_0", "Q4_0"):
            continue
        w = weights[names[t.name]].astype(np.float32)
        if "attn_q" in t.name:
            w = permute(w, cfg["num_attention_heads"])
        elif "attn_k" in t.name:
            w = permute(w, cfg["num_key_value_heads"])
        ref = gguf.quants.quantize(w, t.tensor_type)
        compared += 1
        if not np.array_equal(np.asarray(t.data).reshape(-1).view(np.uint8), ref.reshape(-1).view(np.uint8)):
            mismatched.append(t.name)
    check(f"gguf {qtype_name} blocks equal gguf-py reference quantizer", compared > 0 and not mismatched,
          f"{compared} tensors compared, mismatched: {mismatched or 'none'}")


def llama_cpp_checks(args, rlhf, base, out, tok, exp, peft_model, prompt, prompt_ids, heldout) -> None:
    """Tokenization, greedy generation and perplexity of our GGUF files in llama.cpp."""
    llm = llama_cpp_model(out / "model-f32.gguf")
    plain_ids = tok.encode(prompt, add_special_tokens=False).ids
    cpp_ids = llm.tokenize(prompt.encode(), add_bos=False, special=False)
    check("llama.cpp tokenization (tokenizer.ggml.pre = gpt-2)", list(cpp_ids) == plain_ids, f"{list(cpp_ids)} vs {plain_ids}")
    with_bos = llm.tokenize(prompt.encode(), add_bos=True, special=False)
    check("llama.cpp adds BOS as tokenizer.json's post-processor does", list(with_bos) == prompt_ids,
          f"{list(with_bos)} vs {prompt_ids}")
    long_ids = list(llm.tokenize(heldout[:2000].encode(), add_bos=False, special=False))
    ref_long = tok.encode(heldout[:2000], add_special_tokens=False).ids
    check("llama.cpp tokenization of 2,000 held-out characters", long_ids == ref_long, f"{len(long_ids)} vs {len(ref_long)} tokens")
    cpp_gen, cpp_first = greedy_llama_cpp(llm, prompt_ids, 32)
    hf_gen = greedy_torch(exp, prompt_ids, 32)
    first_diff = float(np.abs(cpp_first - logits_of(exp, prompt_ids)[-1].double().numpy()).max())
    check("llama.cpp greedy 32 tokens == transformers (F32)", cpp_gen == hf_gen,
          f"{tok.decode(cpp_gen)!r}; first-step max |Δlogit| = {first_diff:.3g}")
    if args.rlhf_generate:
        # rlhf stops at EOS; llama.cpp's loop above does not: compare up to and including the first EOS.
        eos = json.loads((base / "config.json").read_text()).get("eos_token_id")
        expected = cpp_gen[:cpp_gen.index(eos) + 1] if eos in cpp_gen else cpp_gen
        p = run([rlhf, "generate", "--model", base, "--prompt", prompt, "--max-new-tokens", "32", "--temperature", "0",
                 "--json"], expect_ok=False)
        got = json.loads(p.stdout.strip().splitlines()[-1])["token_ids"] if p.returncode == 0 else None
        check("rlhf generate --temperature 0 == llama.cpp greedy (F32, 32 tokens)", got == expected,
              f"rlhf {got} vs llama.cpp {expected}")
    merged_llm = llama_cpp_model(out / "merged-f32.gguf")
    m_gen, _ = greedy_llama_cpp(merged_llm, prompt_ids, 32)
    check("llama.cpp merged GGUF greedy == peft greedy", m_gen == greedy_torch(peft_model, prompt_ids, 32), f"{tok.decode(m_gen)!r}")
    del merged_llm

    ppl_ids = tok.encode(heldout).ids
    window = 256
    ppl = {"transformers": perplexity_torch(exp, ppl_ids, window)}
    for kind in ["f32", "f16", "q8_0", "q4_0"]:
        m = llm if kind == "f32" else llama_cpp_model(out / f"model-{kind}.gguf")
        ppl[kind] = perplexity_llama_cpp(m, ppl_ids, window)
    print("perplexity on held-out text (" + f"{len(ppl_ids)} tokens, windows of {window}): " +
          ", ".join(f"{k} {v:.4f}" for k, v in ppl.items()))
    check("llama.cpp F32 perplexity == transformers", abs(ppl["f32"] / ppl["transformers"] - 1) < 1e-3,
          f"{ppl['f32']:.4f} vs {ppl['transformers']:.4f}")
    r8 = ppl["q8_0"] / ppl["f32"] - 1
    r4 = ppl["q4_0"] / ppl["f32"] - 1
    check("Q8_0 perplexity within 1% of F32", abs(r8) <= 0.01, f"{ppl['q8_0']:.4f} ({r8:+.3%})")
    check("Q4_0 perplexity within 10% of F32", abs(r4) <= 0.10, f"{ppl['q4_0']:.4f} ({r4:+.3%})")


# MARK: - Main

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rlhf", default=str(ROOT / ".build" / "debug" / "rlhf"), help="path of the rlhf executable")
    ap.add_argument("--workdir", default=None, help="where to put models and exports (default: a temp dir)")
    ap.add_argument("--steps", type=int, default=200, help="training steps of the tiny model (batch 8 × 128 tokens)")
    ap.add_argument("--no-llama-cpp", action="store_true", help="skip the llama.cpp checks (llama-cpp-python not installed)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (1 is fastest on a loaded 2-core machine)")
    ap.add_argument("--reuse", action="store_true", help="reuse the trained models of an existing --workdir")
    ap.add_argument("--rlhf-generate", action="store_true",
                    help="also compare `rlhf generate --temperature 0` with llama.cpp (needs the generate command)")
    ap.add_argument("--rlhf-bench", default=None,
                    help="path of rlhf-bench: compare rlhf's own forward pass (`rlhf-bench logits`) with transformers")
    ap.add_argument("--base", default=None,
                    help="use this model directory (e.g. from `rlhf pretrain`) as the base instead of training one with torch")
    ap.add_argument("--lora", default=None,
                    help="with --base: a copy of the base with a PEFT adapter in adapter/ (e.g. from `rlhf-bench train-lora`)")
    args = ap.parse_args()
    rlhf = args.rlhf
    torch.set_num_threads(args.threads)
    work = Path(args.workdir or tempfile.mkdtemp(prefix="verify-export-"))
    reuse = not args.base and args.reuse and (work / "base" / "model.safetensors").exists() and (work / "lora" / "adapter").exists()
    if work.exists() and not reuse and not args.base:
        shutil.rmtree(work)
    work.mkdir(parents=True, exist_ok=True)
    print(f"workdir: {work}")

    from transformers import AutoModelForCausalLM, AutoTokenizer
    from peft import PeftModel

    if args.base:
        from tokenizers import Tokenizer
        if not args.lora:
            raise SystemExit("--base needs --lora (a copy of the base with adapter/)")
        for stale in ["base", "lora", "out", "bf16-saved", "odd"]:
            shutil.rmtree(work / stale, ignore_errors=True)
        # Writable copies (pipeline artifacts are read-only).
        base = Path(shutil.copytree(Path(args.base).resolve(), work / "base", copy_function=shutil.copyfile))
        lora = Path(shutil.copytree(Path(args.lora).resolve(), work / "lora", copy_function=shutil.copyfile))
        tok = Tokenizer.from_file(str(base / "tokenizer.json"))
    elif reuse:
        from tokenizers import Tokenizer
        base, lora = work / "base", work / "lora"
        tok = Tokenizer.from_file(str(base / "tokenizer.json"))
        for stale in ["out", "bf16-saved", "odd"]:
            shutil.rmtree(work / stale, ignore_errors=True)
    else:
        base, lora, tok = build_models(work, args.steps)
    out = work / "out"
    out.mkdir()
    global N_CTX
    N_CTX = min(512, json.loads((base / "config.json").read_text())["max_position_embeddings"])

    # 2. Exports
    run([rlhf, "export", base, "--format", "hf", "--out", out / "hf-f32"])
    run([rlhf, "export", base, "--format", "hf", "--dtype", "bf16", "--out", out / "hf-bf16"])
    run([rlhf, "export", lora, "--format", "peft", "--base-model", out / "hf-f32", "--out", out / "peft"])
    run([rlhf, "export", lora, "--format", "hf", "--merge", "--out", out / "merged"])
    for kind, extra in [("f32", []), ("f16", ["--dtype", "f16"]), ("q8_0", ["--quant", "q8_0"]), ("q4_0", ["--quant", "q4_0"])]:
        run([rlhf, "export", base, "--format", "gguf", *extra, "--out", out / f"model-{kind}.gguf"])
    run([rlhf, "export", lora, "--format", "gguf", "--merge", "--out", out / "merged-f32.gguf"])

    heldout = (DATA / "tinyshakespeare-heldout.txt").read_text()
    prompt = "ROMEO:\nWhat light is this that"
    prompt_ids = tok.encode(prompt).ids
    text_ids = tok.encode(heldout[:600]).ids[:200]

    # 3. transformers loads the hf export
    src = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32).eval()
    exp = AutoModelForCausalLM.from_pretrained(out / "hf-f32").eval()
    hf_tok = AutoTokenizer.from_pretrained(out / "hf-f32")
    check("hf tokenizer loads", hf_tok(prompt)["input_ids"] == prompt_ids, f"AutoTokenizer ids == tokenizers ids ({len(prompt_ids)} tokens)")
    d = (logits_of(src, text_ids) - logits_of(exp, text_ids)).abs().max().item()
    check("hf f32 logits", d <= 1e-4, f"max |Δlogit| = {d:.3g} over {len(text_ids)} positions (tolerance 1e-4)")
    # generate() with the exported generation_config.json: no warning (a max_length there makes transformers
    # warn "Both `max_new_tokens` and `max_length` seem to have been set").
    import logging as pylogging
    from transformers.utils import logging as hf_logging
    records: list[str] = []

    class Collect(pylogging.Handler):
        def emit(self, record):
            records.append(record.getMessage())
    handler = Collect(level=pylogging.WARNING)
    hf_logging.get_logger().addHandler(handler)
    with torch.no_grad():
        exp.generate(torch.tensor([prompt_ids]), max_new_tokens=4, do_sample=False)
    hf_logging.get_logger().removeHandler(handler)
    gen_cfg = json.loads((out / "hf-f32" / "generation_config.json").read_text())
    check("generate() with the exported generation_config.json warns nothing", not records and "max_length" not in gen_cfg,
          f"keys {sorted(gen_cfg)}; warnings {records or 'none'}")
    bf = AutoModelForCausalLM.from_pretrained(out / "hf-bf16").eval()
    cfg_bf = json.loads((out / "hf-bf16" / "config.json").read_text())
    check("hf bf16 export", cfg_bf.get("dtype") == "bfloat16" and next(bf.parameters()).dtype == torch.bfloat16,
          f"config dtype {cfg_bf.get('dtype')}, loaded parameters {next(bf.parameters()).dtype}")

    if args.rlhf_bench:
        # rlhf's own Swift forward pass (not just the exported weights) vs transformers on the export.
        def rlhf_logits(model_dir: Path) -> torch.Tensor:
            p = run([args.rlhf_bench, "logits", "--model", model_dir, "--ids", ",".join(map(str, text_ids))], expect_ok=False)
            if p.returncode != 0:
                raise SystemExit("rlhf-bench logits failed")
            return torch.tensor(json.loads(p.stdout)["logits"], dtype=torch.float32)
        ours = rlhf_logits(base)
        d = (ours - logits_of(exp, text_ids)).abs().max().item()
        check("rlhf Swift forward vs transformers on the hf export (F32)", d <= 1e-4,
              f"max |Δlogit| = {d:.3g} over {len(text_ids)} positions x {ours.shape[1]} logits (tolerance 1e-4)")
        ours_lora = rlhf_logits(lora)
        peft_on_export = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(out / "hf-f32"), out / "peft").eval()
        d = (ours_lora - logits_of(peft_on_export, text_ids)).abs().max().item()
        check("rlhf Swift forward with LoRA vs peft adapter on the hf export (F32)", d <= 1e-4, f"max |Δlogit| = {d:.3g}")

    # 4. peft loads the adapter; equals the merged export
    peft_model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(out / "hf-f32"), out / "peft").eval()
    merged = AutoModelForCausalLM.from_pretrained(out / "merged").eval()
    lp, lm = logits_of(peft_model, text_ids), logits_of(merged, text_ids)
    d = (lp - lm).abs().max().item()
    moved = (lp - logits_of(exp, text_ids)).abs().max().item()
    check("peft adapter vs merged export", d <= 1e-4 and moved > 1e-2,
          f"max |Δlogit| = {d:.3g} (tolerance 1e-4); the adapter moves logits by up to {moved:.3g}")
    original = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base), lora / "adapter").eval()
    d = (logits_of(original, text_ids) - lp).abs().max().item()
    check("peft export equals the trained adapter", d <= 1e-6, f"max |Δlogit| = {d:.3g}")

    # 5. llama.cpp
    if args.no_llama_cpp:
        print("SKIP  llama.cpp checks (--no-llama-cpp)")
    else:
        llama_cpp_checks(args, rlhf, base, out, tok, exp, peft_model, prompt, prompt_ids, heldout)
    check_quant_bytes(out / "model-q8_0.gguf", base, "Q8_0")
    check_quant_bytes(out / "model-q4_0.gguf", base, "Q4_0")
    import gguf
    r = gguf.GGUFReader(str(out / "model-q4_0.gguf"))
    types = {t.name: t.tensor_type.name for t in r.tensors}
    ft = int(r.fields["general.file_type"].parts[-1][0])
    qv = int(r.fields["general.quantization_version"].parts[-1][0])
    check("Q4_0 file metadata", ft == 2 and qv == 2 and types["blk.0.attn_norm.weight"] == "F32" and types["output.weight"] == "Q8_0",
          f"file_type {ft}, quantization_version {qv}, norms {types['blk.0.attn_norm.weight']}, output {types['output.weight']}")

    # import-hf: a transformers BF16 checkpoint becomes F32 with the same values
    bf_dir = work / "bf16-saved"
    AutoModelForCausalLM.from_pretrained(base, dtype=torch.bfloat16).save_pretrained(bf_dir)
    AutoTokenizer.from_pretrained(base).save_pretrained(bf_dir)
    run([rlhf, "import-hf", bf_dir, "--out", out / "imported"])
    from safetensors.torch import load_file
    a, b = load_file(str(bf_dir / "model.safetensors")), load_file(str(out / "imported" / "model.safetensors"))
    same = all(torch.equal(a[k].float(), b[k]) and b[k].dtype == torch.float32 for k in a)
    check("import-hf converts BF16 to F32 exactly", same and set(a) == set(b), f"{len(b)} tensors")
    imported = AutoModelForCausalLM.from_pretrained(out / "imported").eval()
    d = (logits_of(imported, text_ids) - logits_of(AutoModelForCausalLM.from_pretrained(bf_dir, dtype=torch.float32), text_ids)).abs().max().item()
    check("imported model loads in transformers", d <= 1e-4, f"max |Δlogit| vs the BF16 source upcast = {d:.3g}")

    # 6. Bad input
    before = sorted(os.listdir(out))
    p = run([rlhf, "export", base, "--format", "hf", "--out", out / "hf-f32"], expect_ok=False)
    check("existing output is an error", p.returncode != 0 and "already exists" in p.stderr + p.stdout, f"exit {p.returncode}")
    p = run([rlhf, "export", DATA, "--format", "hf", "--out", out / "nope"], expect_ok=False)
    check("not a model is an error", p.returncode != 0 and "not a model directory" in p.stderr + p.stdout, f"exit {p.returncode}")
    odd = work / "odd"
    shutil.copytree(base, odd, copy_function=shutil.copyfile)
    cfg = json.loads((odd / "config.json").read_text())
    from transformers import LlamaConfig, LlamaForCausalLM
    cfg.update(hidden_size=48, head_dim=12, intermediate_size=96)
    LlamaForCausalLM(LlamaConfig(**{k: v for k, v in cfg.items() if k not in ("architectures", "transformers_version")})).save_pretrained(odd)
    p = run([rlhf, "export", odd, "--format", "gguf", "--quant", "q4_0", "--out", out / "odd.gguf"], expect_ok=False)
    check("row length 48 with q4_0 is an error", p.returncode != 0 and "multiple of 32" in p.stderr + p.stdout, f"exit {p.returncode}")
    run([rlhf, "export", odd, "--format", "gguf", "--quant", "q4_0", "--allow-f16-fallback", "--out", out / "odd.gguf"])
    after = sorted(os.listdir(out))
    leftovers = [n for n in after if ".tmp-" in n or ".old-" in n]
    check("no temporary left behind", not leftovers and set(after) - set(before) == {"odd.gguf"}, f"new entries {sorted(set(after) - set(before))}")

    print()
    if FAILURES:
        print(f"{len(FAILURES)} check(s) failed: {FAILURES}")
        sys.exit(1)
    print("all checks passed")


if __name__ == "__main__":
    main()
