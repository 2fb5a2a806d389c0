#!/usr/bin/env python3
"""One PPO iteration in PyTorch/transformers, timed by phase: the peer of `rlhf-bench ppo-step` (not a test).

  swift run -c release rlhf-bench ppo-step --save-model /tmp/ppo-bench
  python3 benchmarks/torch_ppo_step.py --model /tmp/ppo-bench --threads 2

The same steps as TRL PPOv2's training loop (trl/trainer/ppov2_trainer.py, 0.11) with the same math as
`PPOTrainer` (Sources/Alignment/PPOTrainer.swift), hand-written so both run exactly the same work:
  generate   HF `generate` with the KV cache, left-padded prompts, sampling at `temperature` (top_k 0, top_p 1),
             then truncation after the first EOS (TRL `truncate_response`);
  rescore    reference and policy forwards (no grad) over query+response: log-probs of the response tokens at
             `temperature`, and the policy's value head on its final hidden states (shared backbone, as
             TRL 0.x `AutoModelForCausalLMWithValueHead` and our trainer);
  score      the reward model (LlamaForSequenceClassification) read at the last real token;
  advantages per-token rewards -kl_coef * (logp - ref_logp) + score at the last real token, GAE
             (gamma 1, lam 0.95), advantage whitening;
  update     num_ppo_epochs x num_mini_batches: clipped policy loss + vf_coef x clipped value loss, backward,
             global-norm clip 1, AdamW.
Eager float32 on CPU. Prints one line per timed iteration and the medians.
"""
import argparse
import statistics
import time

import torch
import torch.nn.functional as F
from transformers import LlamaForCausalLM, LlamaForSequenceClassification


def masked_mean(x, mask):
    return (x * mask).sum() / mask.sum()


def masked_whiten(x, mask, shift_mean=True):
    mean = masked_mean(x, mask)
    var = masked_mean((x - mean) ** 2, mask) * mask.sum() / (mask.sum() - 1)
    w = (x - mean) * torch.rsqrt(var + 1e-8)
    return w if shift_mean else w + mean


def response_logprobs(model, ids, attn, pos, tp, temperature):
    """Log-probs [B, L] of the response tokens ids[:, tp:] and the final hidden states [B, L, C] before them."""
    out = model(input_ids=ids, attention_mask=attn, position_ids=pos, output_hidden_states=True, use_cache=False)
    logits = out.logits[:, tp - 1:-1] / temperature
    logp = torch.gather(F.log_softmax(logits, dim=-1), 2, ids[:, tp:].unsqueeze(-1)).squeeze(-1)
    return logp, out.hidden_states[-1][:, tp - 1:-1], logits


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True, help="directory written by rlhf-bench ppo-step --save-model")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--response-length", type=int, default=64)
    ap.add_argument("--prompt-length", type=int, default=32)
    ap.add_argument("--num-ppo-epochs", type=int, default=4)
    ap.add_argument("--num-mini-batches", type=int, default=1)
    ap.add_argument("--temperature", type=float, default=0.7)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(3)
    policy = LlamaForCausalLM.from_pretrained(args.model + "/policy", torch_dtype=torch.float32)
    ref = LlamaForCausalLM.from_pretrained(args.model + "/policy", torch_dtype=torch.float32).eval()
    rm = LlamaForSequenceClassification.from_pretrained(args.model + "/reward", torch_dtype=torch.float32).eval()
    for p in list(ref.parameters()) + list(rm.parameters()):
        p.requires_grad_(False)
    c = policy.config.hidden_size
    v_head = torch.nn.Linear(c, 1, bias=False)
    torch.nn.init.zeros_(v_head.weight)
    opt = torch.optim.AdamW(list(policy.parameters()) + list(v_head.parameters()), lr=1e-5, weight_decay=0.0, eps=1e-8)
    pad, eos, bos = 0, 2, 1
    vocab = policy.config.vocab_size
    g = torch.Generator().manual_seed(99)
    b, l, tp = args.batch, args.response_length, args.prompt_length
    queries = torch.cat([torch.full((b, 1), bos), torch.randint(3, vocab, (b, tp - 1), generator=g)], dim=1)
    kl_coef, gamma, lam, cliprange, cliprange_value, vf_coef = 0.05, 1.0, 0.95, 0.2, 0.2, 0.1
    mb = b // args.num_mini_batches
    phases = ["generate", "rescore", "score", "advantages", "update"]
    samples = {p: [] for p in phases + ["total"]}

    for it in range(args.repeats + 1):
        t = {}
        t0 = clock = time.perf_counter()

        def lap(name):
            nonlocal clock
            now = time.perf_counter()
            t[name] = now - clock
            clock = now

        # 1-2. Generate and truncate after the first EOS.
        policy.eval()
        with torch.no_grad():
            out = policy.generate(queries, attention_mask=torch.ones_like(queries), max_new_tokens=l, min_new_tokens=l,
                                  do_sample=True, temperature=args.temperature, top_k=0, top_p=1.0,
                                  pad_token_id=pad, eos_token_id=None)
        responses = out[:, tp:]
        is_eos = responses == eos
        after = torch.cumsum(is_eos.int(), dim=1) - is_eos.int() > 0   # strictly after the first EOS
        responses = responses.masked_fill(after, pad)
        mask = (~after).float()
        lap("generate")

        # 3. Reference and policy log-probs, values.
        ids = torch.cat([queries, responses], dim=1)
        attn = torch.cat([torch.ones_like(queries), (~after).long()], dim=1)
        pos = (attn.cumsum(1) - 1).clamp(min=0)
        with torch.no_grad():
            ref_logp, _, _ = response_logprobs(ref, ids, attn, pos, tp, args.temperature)
            logp, hid, _ = response_logprobs(policy, ids, attn, pos, tp, args.temperature)
            values = v_head(hid).squeeze(-1)
        lap("rescore")

        # 4. Reward model at the last real token.
        last = (mask.sum(1).long() - 1).clamp(min=0)
        with torch.no_grad():
            h = rm.model(input_ids=ids, attention_mask=attn, position_ids=pos).last_hidden_state
            scores = rm.score(h[torch.arange(b), tp + last]).squeeze(-1)
        lap("score")

        # 5-6. Per-token rewards, GAE, whitening.
        kl = (logp - ref_logp) * mask
        rewards = -kl_coef * kl
        rewards[torch.arange(b), last] += scores
        values = values * mask
        adv_rev, lastgaelam = [], 0.0
        for j in reversed(range(l)):
            nextv = values[:, j + 1] if j < l - 1 else 0.0
            delta = rewards[:, j] + gamma * nextv - values[:, j]
            lastgaelam = delta + gamma * lam * lastgaelam
            adv_rev.append(lastgaelam)
        advantages = torch.stack(adv_rev[::-1], dim=1)
        returns = advantages + values
        advantages = masked_whiten(advantages, mask) * mask
        lap("advantages")

        # 7. PPO epochs x minibatches.
        policy.train()
        for _ in range(args.num_ppo_epochs):
            order = torch.arange(b) if args.num_mini_batches == 1 else torch.randperm(b)
            for s in range(0, b, mb):
                rows = order[s:s + mb]
                m = mask[rows]
                new_logp, new_hid, logits = response_logprobs(policy, ids[rows], attn[rows], pos[rows], tp, args.temperature)
                vpred = v_head(new_hid).squeeze(-1)
                vclip = values[rows] + (vpred - values[rows]).clamp(-cliprange_value, cliprange_value)
                vf_loss = 0.5 * masked_mean(torch.max((vpred - returns[rows]) ** 2, (vclip - returns[rows]) ** 2), m)
                ratio = torch.exp(new_logp - logp[rows])
                pg = torch.max(-advantages[rows] * ratio, -advantages[rows] * ratio.clamp(1 - cliprange, 1 + cliprange))
                loss = masked_mean(pg, m) + vf_coef * vf_loss
                with torch.no_grad():   # the entropy statistic TRL logs (and our trainer computes)
                    prob = F.softmax(logits, dim=-1)
                    _ = masked_mean(torch.logsumexp(logits, dim=-1) - (prob * logits).sum(-1), m)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(list(policy.parameters()) + list(v_head.parameters()), 1.0)
                opt.step()
        lap("update")
        total = time.perf_counter() - t0
        if it == 0:
            continue  # warm-up
        for p in phases:
            samples[p].append(t[p])
        samples["total"].append(total)
        print(f"torch ppo-step  iter {it}" + "".join(f"  {p} {t[p]:.3f} s" for p in phases) + f"  total {total:.3f} s")
    print(f"torch ppo-step  median  batch {b}  prompt {tp}  response {l}  epochs {args.num_ppo_epochs}  "
          f"minibatches {args.num_mini_batches}  threads {args.threads}"
          + "".join(f"  {p} {statistics.median(samples[p]):.3f} s" for p in phases + ["total"]))


if __name__ == "__main__":
    main()
