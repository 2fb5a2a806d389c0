#!/usr/bin/env python3
"""Reference fixtures for the Swift byte-level BPE tokenizer (target `Tokenization`).

Writes, under Tests/TokenizationTests/Fixtures/:
  texts.json                    a varied text set (ASCII, whitespace kinds, contractions, numbers, emoji,
                                CJK, scripts with combining marks, code, long runs, special-token strings,
                                corpus passages outside the training slice)
  hf-trained/tokenizer.json     trained by Hugging Face `tokenizers` (BpeTrainer, vocab 1000, our special
                                tokens and BOS template) on corpus-slice.txt passed as one document;
                                our trainer must reproduce it byte for byte
  hf-prefix/tokenizer.json      trained by `tokenizers` line by line from the file, ByteLevel with
                                add_prefix_space=True, a ByteLevel post-processor and no special tokens
  expected.json                 the ids and decoded texts that `tokenizers` and `transformers` produce for
                                texts.json with each tokenizer, including ours/ (trained by our CLI)

Run from the repository root (needs tokenizers, transformers; builds nothing itself):
  swift build -c release --product rlhf
  .build/release/rlhf tokenizer train --corpus Tests/TokenizationTests/Fixtures/corpus-slice.txt \
      --vocab-size 1500 --special-token '<|sep|>' --out Tests/TokenizationTests/Fixtures/ours
  python3 scripts/reference/tokenizer_fixtures.py
The script also checks (and exits non-zero if not) that `tokenizers` re-serializes our tokenizer.json to the
identical bytes and gives the same ids as `transformers.AutoTokenizer` loading our directory.
"""
import json
import os
import sys

import tokenizers
import transformers
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import AutoTokenizer, PreTrainedTokenizerFast

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIX = os.path.join(ROOT, "Tests", "TokenizationTests", "Fixtures")
CORPUS = os.path.join(ROOT, "pipelines", "data", "gutenberg-classics", "corpus.txt")
SLICE = os.path.join(FIX, "corpus-slice.txt")
SPECIALS = ["<|begin_of_text|>", "<|end_of_text|>", "<|pad|>"]


def texts():
    t = [
        "", "a", " ", "\n", "  ", "Hello, world!", "Hello world's  end\n",
        "I'm sure you're right; we've seen they'll go, he'd say it's fine, don't you?",
        "DON'T SHOUT'S 'RE 'VE O'Neil's 'tis rock'n'roll ''s '",
        "  leading spaces", "trailing spaces   ", "tabs\tand\tnewlines\n\n\nthree",
        "a  b   c    d     e", "\r\nwindows\r\nline endings\r\n", "\u00a0nbsp\u00a0here \u00a0x",
        "ideographic\u3000space and\u2003em space", "line\u2028separator\u2029para", "nel\u0085x",
        "\x0b\x0c vertical tab and form feed", "\x1c\x1d\x1e\x1f separators", "\x01\x02 control",
        "1234567890 3.14159 1,000,000 -42 +7e10", "\u00bd \u00b2 \u216b \u0663\u0664\u0665 \u0967\u0968",
        "!!! ??? ... --- (a) [b] {c} <d> @#$%^&* ~`|\\", "\u201ccurly quotes\u201d \u2014 em dash \u2014 \u2018single\u2019",
        "emoji \U0001F600 \U0001F44D\U0001F3FD \U0001F468\u200d\U0001F469\u200d\U0001F467 \U0001F1EB\U0001F1F7!",
        "\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8\u3001\u4e2d\u6587\u6587\u672c\u3002\ud55c\uad6d\uc5b4 \ud14d\uc2a4\ud2b8",
        "\u0645\u0631\u062d\u0628\u0627 \u0628\u0627\u0644\u0639\u0627\u0644\u0645", "\u0939\u093f\u0928\u094d\u0926\u0940 \u092d\u093e\u0937\u093e",
        "\u0e20\u0e32\u0e29\u0e32\u0e44\u0e17\u0e22", "e\u0301 cafe\u0301 na\u00efve r\u00e9sum\u00e9",
        "\u0395\u03bb\u03bb\u03b7\u03bd\u03b9\u03ba\u03ac \u0420\u0443\u0441\u0441\u043a\u0438\u0439 \u02b0\u02b2 \u1d2c",
        "def f(x):\n    return x**2  # comment\n\n\tpass\n",
        "URL https://example.com/path?q=1&b=2 email a.b@c.de",
        "a" * 3000, "ab" * 1500, " " * 500 + "x", "\n" * 40, "!?" * 700, "9" * 1000,
        "<|begin_of_text|>Hello<|end_of_text|>", "text <|pad|> more <|end_of_text|>\n<|end_of_text",
        " <|end_of_text|> <|end_of_text|><|end_of_text|>x",
    ]
    corpus = open(CORPUS, encoding="utf-8").read()
    for start in (1_000_000, 2_500_000, 4_000_000, 6_000_000):
        t.append(corpus[start:start + 1500])
    return t


def hf_train(vocab_size, add_prefix_space, specials, post_processor, files=None, text=None):
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=add_prefix_space, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=specials, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    if files:
        tok.train(files, trainer)
    else:
        tok.train_from_iterator([text], trainer)
    tok.post_processor = post_processor
    return tok


def bos_template():
    return processors.TemplateProcessing(
        single="<|begin_of_text|> $A", pair="<|begin_of_text|> $A <|begin_of_text|>:1 $B:1",
        special_tokens=[("<|begin_of_text|>", 0)])


def run(tok, ts):
    out = {"ids": [], "ids_post": [], "ids_no_special_match": [], "decoded": [], "decoded_skip": []}
    for t in ts:
        tok.encode_special_tokens = False
        ids = tok.encode(t, add_special_tokens=False).ids
        out["ids"].append(ids)
        out["ids_post"].append(tok.encode(t, add_special_tokens=True).ids)
        tok.encode_special_tokens = True
        out["ids_no_special_match"].append(tok.encode(t, add_special_tokens=False).ids)
        tok.encode_special_tokens = False
        out["decoded"].append(tok.decode(ids, skip_special_tokens=False))
        out["decoded_skip"].append(tok.decode(ids, skip_special_tokens=True))
    return out


def main():
    ts = texts()
    with open(os.path.join(FIX, "texts.json"), "w", encoding="utf-8") as f:
        json.dump(ts, f, ensure_ascii=True, indent=0)
    slice_text = open(SLICE, encoding="utf-8").read()

    os.makedirs(os.path.join(FIX, "hf-trained"), exist_ok=True)
    hf = hf_train(1000, False, SPECIALS, bos_template(), text=slice_text)
    hf.save(os.path.join(FIX, "hf-trained", "tokenizer.json"))
    os.makedirs(os.path.join(FIX, "hf-prefix"), exist_ok=True)
    hfp = hf_train(500, True, [], processors.ByteLevel(trim_offsets=True), files=[SLICE])
    hfp.save(os.path.join(FIX, "hf-prefix", "tokenizer.json"))

    ours_dir = os.path.join(FIX, "ours")
    ours_path = os.path.join(ours_dir, "tokenizer.json")
    if not os.path.exists(ours_path):
        sys.exit(f"missing {ours_path}: train it with `rlhf tokenizer train` first (see this file's docstring)")
    ours = Tokenizer.from_file(ours_path)
    failures = []
    # 1. tokenizers writes our file back byte for byte: same format, same content.
    if ours.to_str(pretty=True) != open(ours_path, encoding="utf-8").read():
        failures.append("tokenizers re-serializes ours/tokenizer.json differently")
    # 2. transformers loads the directory (tokenizer_config.json, special_tokens_map.json) with the same ids.
    auto = AutoTokenizer.from_pretrained(ours_dir)
    fast = PreTrainedTokenizerFast.from_pretrained(ours_dir)
    ours_out = run(ours, ts)
    ours_out["transformers_ids"] = [auto(t)["input_ids"] for t in ts]
    ours_out["transformers_decoded"] = [auto.decode(ids) for ids in ours_out["ids"]]
    ours_out["transformers_special_ids"] = {"bos": auto.bos_token_id, "eos": auto.eos_token_id, "pad": auto.pad_token_id}
    for t, a, b, c in zip(ts, ours_out["transformers_ids"], ours_out["ids_post"], [fast(t)["input_ids"] for t in ts]):
        if not (a == b == c):
            failures.append(f"transformers ids differ from tokenizers ids for {t[:40]!r}")
    if (auto.bos_token_id, auto.eos_token_id, auto.pad_token_id) != tuple(ours.token_to_id(s) for s in SPECIALS):
        failures.append("transformers special token ids differ")
    expected = {
        "tokenizers_version": tokenizers.__version__,
        "transformers_version": transformers.__version__,
        "hf_trained": run(hf, ts),
        "hf_prefix": run(hfp, ts),
        "ours": ours_out,
    }
    with open(os.path.join(FIX, "expected.json"), "w", encoding="utf-8") as f:
        json.dump(expected, f, ensure_ascii=True, separators=(",", ":"))
    print(f"wrote fixtures for {len(ts)} texts; tokenizers {tokenizers.__version__}, transformers {transformers.__version__}")
    for msg in failures:
        print("FAIL:", msg)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
