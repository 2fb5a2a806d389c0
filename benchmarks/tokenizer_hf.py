#!/usr/bin/env python3
"""Hugging Face `tokenizers` side of benchmarks/tokenizer.sh: BPE training time and encode throughput.

usage: RAYON_NUM_THREADS=1 python3 benchmarks/tokenizer_hf.py CORPUS VOCAB_SIZE OUR_TOKENIZER_JSON
Trains a byte-level BPE like `rlhf tokenizer train` (ByteLevel pre-tokenizer, our 3 special tokens, the
256-byte initial alphabet, the corpus as one document), then encodes the corpus with OUR tokenizer.json
(the same vocabulary the Swift side uses) in one `encode` call, best of 3.
"""
import sys
import time

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

corpus, vocab_size, ours = sys.argv[1], int(sys.argv[2]), sys.argv[3]
text = open(corpus, encoding="utf-8").read()
nbytes = len(text.encode("utf-8"))

tok = Tokenizer(models.BPE())
tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
tok.decoder = decoders.ByteLevel()
trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=["<|begin_of_text|>", "<|end_of_text|>", "<|pad|>"],
                              initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
t0 = time.perf_counter()
tok.train_from_iterator([text], trainer)
train_s = time.perf_counter() - t0
print(f"hf train: {train_s:.2f} s, vocab {tok.get_vocab_size()}")

enc = Tokenizer.from_file(ours)
best = 1e9
for _ in range(3):
    t0 = time.perf_counter()
    ids = enc.encode(text, add_special_tokens=False).ids
    best = min(best, time.perf_counter() - t0)
print(f"hf encode: {len(ids)} tokens, {best:.3f} s, {nbytes / best / 1e6:.2f} MB/s")
# tokenizers is much faster on many short inputs than on one long string: also time encode_batch over
# the paragraphs (split after each blank line), still on one thread; the ids differ only at paragraph joins.
paras = [p + "\n\n" for p in text.split("\n\n")]
best_b = 1e9
for _ in range(3):
    t0 = time.perf_counter()
    enc.encode_batch(paras, add_special_tokens=False)
    best_b = min(best_b, time.perf_counter() - t0)
print(f"hf encode_batch ({len(paras)} paragraphs): {best_b:.3f} s, {nbytes / best_b / 1e6:.2f} MB/s")
same = ids == [int(x) for x in open(sys.argv[4]).read().strip()[1:-1].split(",")] if len(sys.argv) > 4 else None
if same is not None:
    print(f"ids identical to rlhf's: {same}")
