#!/usr/bin/env python3
"""Reference values for the Alignment target, computed with PyTorch as TRL computes them.

Writes Tests/AlignmentTests/Fixtures/trl_reference.json, which AlignmentTests compares against
(tolerance 1e-5). Inputs are float32 values drawn from a seeded torch generator; every reference is
computed in float64 from those exact float32 inputs.

What comes from where:
- `masked_mean`, `masked_var`, `masked_whiten`, `entropy_from_logits`, `logprobs_from_logits`:
  imported from TRL 0.11.4 `trl/core.py` itself;
- `AdaptiveKLController`: imported from TRL 0.11.4 `trl/trainer/utils.py`;
- per-token rewards, GAE, policy and value losses: TRL 0.11.4 `PPOTrainer.compute_rewards`,
  `compute_advantages`, `loss` (`trl/trainer/ppo_trainer.py`), written out below because importing
  that module needs `datasets`/`accelerate`; the k3 estimator is TRL PPOv2's
  (`(logr.exp() - 1) - logr`, `logr = ref - logprob`), k2 is 0.x's `kl_penalty="mse"`;
- Bradley-Terry loss: TRL `RewardTrainer.compute_loss`; DPO sigmoid loss and `rewards/*`: TRL
  `DPOTrainer.dpo_loss` / `get_batch_loss_metrics`; gradients by torch autograd.
- xoshiro256** and Lemire bounded integers: https://prng.di.unimi.it/ (see xoshiro.py).

Run:  pip install --no-deps --target /tmp/trl-ref trl==0.11.4
      PYTHONPATH=/tmp/trl-ref:scripts/reference python3 scripts/reference/alignment_reference.py
"""
import json
import os
import sys

import torch
import torch.nn.functional as F

from trl.core import entropy_from_logits, logprobs_from_logits, masked_mean, masked_var, masked_whiten
from trl.trainer.utils import AdaptiveKLController

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from xoshiro import Xoshiro256StarStar, splitmix64_outputs  # noqa: E402

torch.set_default_dtype(torch.float64)
g = torch.Generator().manual_seed(20240601)


def f32(*shape, scale=1.0, shift=0.0):
    """float32 draws, returned as float64 tensors holding exactly those float32 values."""
    return ((torch.randn(*shape, generator=g, dtype=torch.float32) * scale) + shift).to(torch.float32).double()


def flat(t):
    return [float(x) for x in t.reshape(-1).tolist()]


B, L, V = 3, 5, 7
lengths = [5, 3, 1]
mask = torch.zeros(B, L)
for b, n in enumerate(lengths):
    mask[b, :n] = 1
maskb = mask.bool()

logprobs = f32(B, L, scale=0.5, shift=-2.0)
ref_logprobs = logprobs + f32(B, L, scale=0.1)
ref_logprobs = ref_logprobs.to(torch.float32).double()
values = f32(B, L, scale=0.5)
scores = f32(B, scale=1.0)
kl_coef = 0.05

# --- per-token rewards (TRL 0.x compute_rewards), for k1 / k2 / k3 ------------------------------
def kl_est(lp, ref, kind):
    if kind == "k1":
        return lp - ref
    if kind == "k2":
        return 0.5 * (lp - ref).square()
    logr = ref - lp
    return (logr.exp() - 1) - logr


rewards_by = {}
for kind in ("k1", "k2", "k3"):
    rows, nsr, kls = [], [], []
    for s, lp, ref, m in zip(scores, logprobs, ref_logprobs, mask):
        kl = kl_est(lp, ref, kind) * m  # TRL PPOv2 makes padded log-probs equal, so padded kl = 0
        non_score = -kl_coef * kl
        r = non_score.clone()
        r[m.nonzero()[-1]] += s
        rows.append(r), nsr.append(non_score), kls.append(kl)
    rewards_by[kind] = dict(rewards=flat(torch.stack(rows)), non_score_rewards=flat(torch.stack(nsr)),
                            kl=flat(torch.stack(kls)))
rewards = torch.tensor(rewards_by["k1"]["rewards"]).reshape(B, L)

# --- GAE (TRL 0.x compute_advantages) ----------------------------------------------------------
def gae(values, rewards, mask, gamma, lam, whiten_rewards):
    values = values * mask
    rewards = rewards * mask
    if whiten_rewards:
        rewards = masked_whiten(rewards, mask, shift_mean=False)
    lastgaelam = 0
    rev = []
    for t in reversed(range(L)):
        nextvalues = values[:, t + 1] if t < L - 1 else 0.0
        delta = rewards[:, t] + gamma * nextvalues - values[:, t]
        lastgaelam = delta + gamma * lam * lastgaelam
        rev.append(lastgaelam)
    adv = torch.stack(rev[::-1]).transpose(0, 1)
    returns = adv + values
    return adv, returns


gae_cases = []
for gamma, lam in ((1.0, 0.95), (0.9, 0.8)):
    adv, ret = gae(values, rewards, mask, gamma, lam, False)
    white = masked_whiten(adv, mask).masked_fill(~maskb, 0)
    gae_cases.append(dict(gamma=gamma, lam=lam, advantages=flat(adv * mask), returns=flat(ret * mask),
                          whitened_advantages=flat(white)))

# whitening on its own (shift_mean True/False) and masked stats
whiten = dict(
    values=flat(rewards), mask=flat(mask),
    mean=float(masked_mean(rewards, mask)), var_unbiased=float(masked_var(rewards, mask)),
    var_biased=float(masked_var(rewards, mask, unbiased=False)),
    whitened=flat(masked_whiten(rewards, mask).masked_fill(~maskb, 0)),
    whitened_no_shift=flat(masked_whiten(rewards, mask, shift_mean=False).masked_fill(~maskb, 0)),
)

# --- PPO losses (TRL 0.x loss) -----------------------------------------------------------------
adv, ret = gae(values, rewards, mask, 1.0, 0.95, False)
advantages = masked_whiten(adv, mask).masked_fill(~maskb, 0).to(torch.float32).double()
returns = ret.to(torch.float32).double()
new_logprobs = (logprobs + f32(B, L, scale=0.2)).to(torch.float32).double().requires_grad_(True)
new_values = (values + f32(B, L, scale=0.3)).to(torch.float32).double().requires_grad_(True)
cliprange, cliprange_value = 0.2, 0.2

ratio = torch.exp(new_logprobs - logprobs)
pg_losses = -advantages * ratio
pg_losses2 = -advantages * torch.clamp(ratio, 1.0 - cliprange, 1.0 + cliprange)
pg_loss = masked_mean(torch.max(pg_losses, pg_losses2), mask)
pg_clipfrac = masked_mean(torch.gt(pg_losses2, pg_losses).double(), mask)
approxkl = 0.5 * masked_mean((new_logprobs - logprobs) ** 2, mask)
policykl = masked_mean(logprobs - new_logprobs, mask)
ratio_mean = masked_mean(ratio, mask)
(d_new_logprobs,) = torch.autograd.grad(pg_loss, new_logprobs)

vpredclipped = torch.max(torch.min(new_values, values + cliprange_value), values - cliprange_value)
vf_losses1 = (new_values - returns) ** 2
vf_losses2 = (vpredclipped - returns) ** 2
vf_loss = 0.5 * masked_mean(torch.max(vf_losses1, vf_losses2), mask)
vf_clipfrac = masked_mean(torch.gt(vf_losses2, vf_losses1).double(), mask)
(d_new_values,) = torch.autograd.grad(vf_loss, new_values)

ppo = dict(
    old_logprobs=flat(logprobs), new_logprobs=flat(new_logprobs.detach()), advantages=flat(advantages),
    old_values=flat(values), new_values=flat(new_values.detach()), returns=flat(returns),
    cliprange=cliprange, cliprange_value=cliprange_value,
    pg_loss=float(pg_loss.detach()), pg_clipfrac=float(pg_clipfrac), approxkl=float(approxkl.detach()), policykl=float(policykl.detach()),
    ratio_mean=float(ratio_mean.detach()), d_new_logprobs=flat(d_new_logprobs),
    vf_loss=float(vf_loss.detach()), vf_clipfrac=float(vf_clipfrac), d_new_values=flat(d_new_values),
)

# --- log-probs, entropy and their gradients (temperature 0.7) ----------------------------------
N = B * L
T = 0.7
logits = f32(N, V, scale=2.0).requires_grad_(True)
tokens = torch.randint(0, V, (N,), generator=g)
weights = f32(N)
scaled = logits / T
lp = logprobs_from_logits(scaled.unsqueeze(0), tokens.unsqueeze(0)).squeeze(0)
(d_logits_lp,) = torch.autograd.grad((weights * lp).sum(), logits, retain_graph=True)
ent = entropy_from_logits(scaled)
(d_logits_ent,) = torch.autograd.grad((weights * ent).sum(), logits)
token_logprobs = dict(logits=flat(logits.detach()), tokens=tokens.tolist(), weights=flat(weights), rows=N, vocab_size=V,
                      temperature=T, logprobs=flat(lp.detach()), d_logits=flat(d_logits_lp),
                      entropy=flat(ent.detach()), d_logits_entropy=flat(d_logits_ent))

# --- reward model (Bradley-Terry) and DPO ------------------------------------------------------
P = 4
rc = f32(P).requires_grad_(True)
rr = f32(P).requires_grad_(True)
margin = f32(P, scale=0.3)
center = 0.01
bt = -F.logsigmoid(rc - rr - margin).mean() + center * torch.mean((rc + rr) ** 2)
d_rc, d_rr = torch.autograd.grad(bt, (rc, rr))
bradley_terry = dict(chosen=flat(rc.detach()), rejected=flat(rr.detach()), margins=flat(margin),
                     center_rewards_coefficient=center, loss=float(bt.detach()), d_chosen=flat(d_rc), d_rejected=flat(d_rr))

pc = f32(P, scale=3, shift=-20).requires_grad_(True)
pr = f32(P, scale=3, shift=-22).requires_grad_(True)
refc = f32(P, scale=3, shift=-20)
refr = f32(P, scale=3, shift=-22)
beta, smoothing = 0.1, 0.1
logits_dpo = (pc - pr) - (refc - refr)
losses = -F.logsigmoid(beta * logits_dpo) * (1 - smoothing) - F.logsigmoid(-beta * logits_dpo) * smoothing
dpo_loss = losses.mean()
d_pc, d_pr = torch.autograd.grad(dpo_loss, (pc, pr))
chosen_rewards = beta * (pc - refc).detach()
rejected_rewards = beta * (pr - refr).detach()
dpo = dict(policy_chosen=flat(pc.detach()), policy_rejected=flat(pr.detach()), reference_chosen=flat(refc),
           reference_rejected=flat(refr), beta=beta, label_smoothing=smoothing, loss=float(dpo_loss.detach()),
           losses=flat(losses.detach()), d_policy_chosen=flat(d_pc), d_policy_rejected=flat(d_pr),
           metrics={"rewards/chosen": float(chosen_rewards.mean()), "rewards/rejected": float(rejected_rewards.mean()),
                    "rewards/accuracies": float((chosen_rewards > rejected_rewards).double().mean()),
                    "rewards/margins": float((chosen_rewards - rejected_rewards).mean())})

# --- adaptive KL controller --------------------------------------------------------------------
ctl = AdaptiveKLController(0.2, 6.0, 10000)
kl_trace = []
for current, n in ((3.0, 64), (9.0, 64), (6.5, 128), (100.0, 16)):
    ctl.update(current, n)
    kl_trace.append(dict(current=current, n_steps=n, value=float(ctl.value)))

# --- xoshiro256** and window offsets -----------------------------------------------------------
rng = Xoshiro256StarStar(1337)
raw = [rng.next() for _ in range(8)]
rng = Xoshiro256StarStar(1337)
count, seq_len, batch = 1000, 16, 4
offsets = [[rng.next_int_below(count - seq_len) for _ in range(batch)] for _ in range(3)]
prng = dict(splitmix64_seed0=[str(x) for x in splitmix64_outputs(0, 4)], seed=1337,
            xoshiro_outputs=[str(x) for x in raw], window_count=count, seq_len=seq_len, batch_size=batch,
            window_offsets=offsets)

fixture = dict(
    source="scripts/reference/alignment_reference.py (torch %s, trl 0.11.4)" % torch.__version__.split("+")[0],
    batch_size=B, response_length=L, mask=flat(mask), kl_coef=kl_coef, scores=flat(scores),
    logprobs=flat(logprobs), ref_logprobs=flat(ref_logprobs), values=flat(values),
    per_token_rewards=rewards_by, gae=gae_cases, whiten=whiten, ppo=ppo, token_logprobs=token_logprobs,
    bradley_terry=bradley_terry, dpo=dpo, adaptive_kl=dict(init=0.2, target=6.0, horizon=10000, trace=kl_trace),
    prng=prng,
)
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../Tests/AlignmentTests/Fixtures/trl_reference.json")
with open(out, "w") as fh:
    json.dump(fixture, fh, indent=1)
    fh.write("\n")
print("wrote", os.path.normpath(out))
