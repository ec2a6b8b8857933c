"""Pure losses of LS-IQ and IQ-Learn: the critic losses, the entropy critics' targets and the losses of the inverse
dynamics model (state-only).

Everything here is a function of tensors only (no environment, no network except the gradient penalty's
critic callable), so it is unit-tested against hand-computed values.

Conventions shared by every function:

- A mixed batch holds ``N = n_policy + n_expert`` rows, the replay ("policy", pi) rows first and the expert
  (E) rows last, as in the reference implementation.
- Per-row quantities that the critic produces have shape ``(N, K)``: one column per critic ensemble member
  (K = ``n_critics``). Quantities that do not depend on the critic (targets, flags) have shape ``(N, 1)`` and
  broadcast over the columns. Every mean is taken over rows *and* critics, so a loss over K critics is the
  average of the K single-critic losses.
- ``done`` is the absorbing flag: 1 only for a true MDP termination, never for a time-limit truncation.

Notation follows the LS-IQ paper (Al-Hafez et al., ICLR 2023, https://arxiv.org/abs/2303.00599) and the
IQ-Learn paper (Garg et al., NeurIPS 2021, https://arxiv.org/abs/2106.12142): c = ``reg_mult``,
gamma = discount, r = Q(s, a) - gamma (1 - d) V(s') is the implicit reward.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import torch as th
import torch.nn.functional as F

# Option values accepted by the loss functions (validated once by the algorithms, not per step).
EXPERT_TERMS = ("fix", "bootstrap")
LEAST_SQUARES_POLICY_TERMS = ("value", "value_policy", "q_old_policy")
IQ_POLICY_TERMS = ("value", "value_expert", "value_policy", "q_old_policy", "value_q_old_policy", "v0", "off")
REGULARIZERS = ("expert_and_policy", "expert", "policy", "off")
REGRESSION_LOSSES = ("mse", "huber")


class IQBatch(NamedTuple):
    """Per-row critic quantities of one mixed batch (policy rows first, expert rows last).

    :param q: Q_theta(s, a) at the dataset actions, shape (N, K)
    :param v: V_theta(s) = Q_theta(s, a~) - alpha log pi(a~|s) with a~ ~ pi(.|s), shape (N, K);
        the gradient flows into the critic only
    :param target: y = gamma (1 - d) V_target(s'), already clipped where asked, shape (N, 1), no gradient
    :param done: absorbing flag d as a float, shape (N, 1)
    :param n_policy: number of replay rows; rows ``[n_policy, N)`` are expert rows
    """

    q: th.Tensor
    v: th.Tensor
    target: th.Tensor
    done: th.Tensor
    n_policy: int


class CriticLossTerms(NamedTuple):
    """A critic loss and its parts, for logging (each a 0-dim tensor that carries the graph)."""

    loss: th.Tensor
    expert_term: th.Tensor
    policy_term: th.Tensor
    regularizer: th.Tensor


def q_bounds(reg_mult: float, gamma: float) -> tuple[float, float]:
    """Value bounds implied by the fixed rewards +-1/c: Q_max = 1 / (c (1 - gamma)) and Q_min = -Q_max.

    Q_max is the discounted value of receiving r_max = 1/c forever (LS-IQ, Sec. 3).
    """
    q_max = 1.0 / (reg_mult * (1.0 - gamma))
    return -q_max, q_max


def soft_bellman_target(
    next_v: th.Tensor,
    done: th.Tensor,
    gamma: float,
    clip_min: float | None = None,
    clip_max: float | None = None,
) -> th.Tensor:
    """y = gamma (1 - d) clip(V_target(s'), clip_min, clip_max).

    :param next_v: soft target value of the next state, shape (N, 1)
    :param done: absorbing flag, shape (N, 1)
    :param gamma: discount factor
    :param clip_min: lower clip of V_target(s') (LS-IQ target clipping), None for no clipping
    :param clip_max: upper clip of V_target(s'), None for no clipping
    :return: the target y, shape (N, 1)
    """
    if clip_min is not None or clip_max is not None:
        next_v = next_v.clamp(min=clip_min, max=clip_max)
    return (1.0 - done) * gamma * next_v


def regression(prediction: th.Tensor, target: th.Tensor, kind: str) -> th.Tensor:
    """Mean regression loss: ``"mse"`` or ``"huber"`` (delta 1); target broadcasts against prediction."""
    target = target.expand_as(prediction)
    if kind == "mse":
        return F.mse_loss(prediction, target)
    return F.huber_loss(prediction, target, delta=1.0)


def fixed_reward(done: th.Tensor, reg_mult: float, gamma: float, treat_absorbing: bool) -> th.Tensor:
    """The expert reward r_max(d) of the least-squares form; the policy reward is its negative.

    r_max = 1/c, and with absorbing-state treatment an absorbing transition keeps receiving r_max forever:
    r_max(d) = (1 - d)/c + d / (c (1 - gamma)), so its regression target r_max(d) + y equals Q_max
    (y = 0 when d = 1). Shape follows ``done``.
    """
    if not treat_absorbing:
        return th.full_like(done, 1.0 / reg_mult)
    return (1.0 - done) / reg_mult + done / (reg_mult * (1.0 - gamma))


def least_squares_critic_loss(
    batch: IQBatch,
    reg_mult: float,
    gamma: float,
    q_max: float,
    expert_term: str = "fix",
    policy_term: str = "value",
    treat_absorbing: bool = True,
    loss: str = "mse",
) -> CriticLossTerms:
    """LS-IQ's least-squares critic loss (the ``sqil_like`` loss of the reference code).

    Expert rows regress to the reward r_max(d) = +1/c and the policy's values to r_min(d) = -1/c:

    - expert term ``"fix"``: l(Q(s_E, a_E), Q_max); ``"bootstrap"``: l(Q(s_E, a_E), r_max(d_E) + y_E)
    - policy term ``"value"``: l(V(s), r_min(d) + y) over all rows (the reference used the constant -1/c on the
      expert rows even with absorbing treatment; here r_min(d) is used on every row);
      ``"value_policy"``: the same over policy rows only; ``"q_old_policy"``: l(Q(s_pi, a_pi), r_min(d_pi) + y_pi)

    With ``bootstrap``, ``q_old_policy`` and MSE this equals (2/c) (iq_critic_loss + 1/c) with the
    expert-and-policy regularizer (the paper's "squared Bellman error with fixed rewards").

    :return: the loss and its parts (the regularizer part is zero: it is implicit in the fixed targets)
    """
    n = batch.n_policy
    r_max = fixed_reward(batch.done, reg_mult, gamma, treat_absorbing)  # (N, 1)
    r_min = -r_max

    q_expert = batch.q[n:]
    if expert_term == "fix":
        expert_loss = regression(q_expert, th.full_like(batch.target[n:], q_max), loss)
    else:
        expert_loss = regression(q_expert, r_max[n:] + batch.target[n:], loss)

    if policy_term == "value":
        policy_loss = regression(batch.v, r_min + batch.target, loss)
    elif policy_term == "value_policy":
        policy_loss = regression(batch.v[:n], r_min[:n] + batch.target[:n], loss)
    else:  # q_old_policy
        policy_loss = regression(batch.q[:n], r_min[:n] + batch.target[:n], loss)

    return CriticLossTerms(expert_loss + policy_loss, expert_loss, policy_loss, th.zeros_like(expert_loss))


def chi2_regularizer(
    reward: th.Tensor,
    done: th.Tensor,
    n_policy: int,
    reg_mult: float,
    gamma: float,
    rows: str,
    treat_absorbing: bool,
) -> th.Tensor:
    """The chi^2 regularizer c * mean(w r^2) over the chosen rows.

    :param reward: implicit reward r, shape (N, K)
    :param done: absorbing flag, shape (N, 1)
    :param n_policy: number of policy rows (they come first)
    :param rows: ``"expert_and_policy"`` (IQ-Learn ``regularize``), ``"expert"`` (IQ-Learn ``chi``), ``"policy"``,
        ``"off"``
    :param treat_absorbing: weight absorbing rows by w = 1 - gamma (LS-IQ), else w = 1
    """
    if rows == "off":
        return reward.new_zeros(())
    weight = 1.0 - gamma * done if treat_absorbing else th.ones_like(done)  # (N, 1): 1 - gamma on absorbing rows
    penalty = reg_mult * weight * reward.pow(2)  # (N, K)
    if rows == "expert":
        penalty = penalty[n_policy:]
    elif rows == "policy":
        penalty = penalty[:n_policy]
    return penalty.mean()


def iq_critic_loss(
    batch: IQBatch,
    reg_mult: float,
    gamma: float,
    q_max: float | None = None,
    expert_term: str = "bootstrap",
    policy_term: str = "value",
    regularizer: str = "expert_and_policy",
    treat_absorbing: bool = False,
    loss: str = "mse",
) -> CriticLossTerms:
    """The chi^2-regularized inverse soft-Q objective of IQ-Learn (also LS-IQ's ``iq_like`` loss).

    L = T1 + T2 + R, with r = Q(s, a) - y:

    - T1, expert term: ``"bootstrap"`` -mean_E[r] (IQ-Learn); ``"fix"`` l(Q(s_E, a_E), Q_max) (LS-IQ)
    - T2, policy term: ``"value"`` mean_all[V(s) - y]; ``"value_expert"`` mean_E[V(s) - y];
      ``"value_policy"`` mean_pi[V(s) - y]; ``"q_old_policy"`` mean_pi[r];
      ``"value_q_old_policy"`` mean_pi[r] + mean_all[V(s) - y]; ``"v0"`` (1 - gamma) mean_E[V(s)]
      (expert states stand in for initial states); ``"off"`` 0
    - R, :func:`chi2_regularizer` over the rows named by ``regularizer``

    :param q_max: the regression target of the ``"fix"`` expert term (required for it)
    :param loss: regression loss of the ``"fix"`` expert term
    """
    n = batch.n_policy
    reward = batch.q - batch.target  # (N, K)

    if expert_term == "bootstrap":
        expert_loss = -reward[n:].mean()
    else:
        if q_max is None:
            raise ValueError("iq_critic_loss: expert_term='fix' needs q_max")
        expert_loss = regression(batch.q[n:], th.full_like(batch.target[n:], q_max), loss)

    value_gap = batch.v - batch.target  # V(s) - y, (N, K)
    if policy_term == "value":
        policy_loss = value_gap.mean()
    elif policy_term == "value_expert":
        policy_loss = value_gap[n:].mean()
    elif policy_term == "value_policy":
        policy_loss = value_gap[:n].mean()
    elif policy_term == "q_old_policy":
        policy_loss = reward[:n].mean()
    elif policy_term == "value_q_old_policy":
        policy_loss = reward[:n].mean() + value_gap.mean()
    elif policy_term == "v0":
        policy_loss = (1.0 - gamma) * batch.v[n:].mean()
    else:  # off
        policy_loss = reward.new_zeros(())

    reg = chi2_regularizer(reward, batch.done, n, reg_mult, gamma, regularizer, treat_absorbing)
    return CriticLossTerms(expert_loss + policy_loss + reg, expert_loss, policy_loss, reg)


def gradient_penalty(
    critic: Callable[[th.Tensor, th.Tensor], th.Tensor],
    expert_obs: th.Tensor,
    expert_actions: th.Tensor,
    policy_obs: th.Tensor,
    policy_actions: th.Tensor,
    mix: th.Tensor,
) -> th.Tensor:
    """WGAN-GP style penalty mean((||grad_x Q(x)||_2 - 1)^2) on x = mix * expert + (1 - mix) * policy.

    x is the concatenated (observation, action) input; the gradient is taken per critic output and the
    penalty is averaged over rows and critics (IQ-Learn's ``grad_pen``, with one grad output per critic).

    :param critic: maps (obs, actions) to Q-values of shape (B, K)
    :param mix: interpolation coefficients in [0, 1], shape (B, 1)
    :return: the (unscaled) penalty, a 0-dim tensor with a graph into the critic
    """
    obs = (mix * expert_obs + (1.0 - mix) * policy_obs).requires_grad_(True)
    actions = (mix * expert_actions + (1.0 - mix) * policy_actions).requires_grad_(True)
    q = critic(obs, actions)  # (B, K)
    penalties = []
    for k in range(q.shape[1]):
        grad_obs, grad_act = th.autograd.grad(q[:, k].sum(), (obs, actions), create_graph=True)
        grad_norm = th.cat([grad_obs.flatten(1), grad_act.flatten(1)], dim=1).norm(2, dim=1)  # (B,)
        penalties.append((grad_norm - 1.0).pow(2).mean())
    return th.stack(penalties).mean()


SQIL_POLICY_TERMS = ("q_old_policy", "value", "value_policy")


def sqil_critic_loss(batch: IQBatch, policy_term: str = "q_old_policy", loss: str = "mse") -> CriticLossTerms:
    """SQIL (Reddy et al., ICLR 2020) on a soft actor-critic: a soft Bellman error with the fixed rewards 1 on expert
    rows and 0 on policy rows, half of each, no clipping:

    0.5 mean_E l(Q(s_E, a_E), 1 + y_E) + 0.5 * policy term, the policy term being ``"q_old_policy"`` (true SQIL:
    mean_pi l(Q(s_pi, a_pi), y_pi)), ``"value"`` (mean over all rows of l(V(s), y)) or ``"value_policy"`` (over
    the policy rows). A terminal transition's y is 0 (only a true termination: time-limit cuts bootstrap).
    The reference multiplied the whole loss by c, which only rescales the learning rate; no factor here.
    """
    n = batch.n_policy
    expert_loss = 0.5 * regression(batch.q[n:], 1.0 + batch.target[n:], loss)
    if policy_term == "q_old_policy":
        policy_loss = 0.5 * regression(batch.q[:n], batch.target[:n], loss)
    elif policy_term == "value":
        policy_loss = 0.5 * regression(batch.v, batch.target, loss)
    else:  # value_policy
        policy_loss = 0.5 * regression(batch.v[:n], batch.target[:n], loss)
    return CriticLossTerms(expert_loss + policy_loss, expert_loss, policy_loss, th.zeros_like(expert_loss))


# ----------------------------------------------------------------------------------------------------------
# Entropy critics of LSIQ-H and LSIQ-HC (algorithms.md §2.6-2.7)
# ----------------------------------------------------------------------------------------------------------

H_TARGET_BOUNDS = (-1e4, 1e3)  # LSIQ-H's clip of the entropy target


def hc_target_bounds(reg_mult: float, gamma: float) -> tuple[float, float]:
    """LSIQ-HC's clip of its target: [-1000, (1/c)^2 / (1 - gamma) + 100] (the discounted maximal c r^2, plus room)."""
    return -1000.0, (1.0 / reg_mult) ** 2 / (1.0 - gamma) + 100.0


def running_entropy_max(previous: th.Tensor, batch_max: th.Tensor, tau_up: float = 1e-2, tau_down: float = 1e-4) -> th.Tensor:
    """LSIQ-H's running maximum M of the policy's next-state entropy: it follows a higher batch maximum with rate
    ``tau_up`` and a lower one with rate ``tau_down``; a NaN ``previous`` (no value yet) takes the batch maximum.
    0-dim tensors."""
    followed = th.where(
        batch_max > previous, (1 - tau_up) * previous + tau_up * batch_max, (1 - tau_down) * previous + tau_down * batch_max
    )
    return th.where(th.isnan(previous), batch_max, followed)


def regularization_reward(
    q_target: th.Tensor, next_v_target: th.Tensor, done: th.Tensor, reg_mult: float, gamma: float, q_min: float, q_max: float
) -> th.Tensor:
    """LSIQ-HC's regulariser "reward" c r^2, with r = Q_target(s, a) - gamma (1 - d) clip(V_target(s')) from the
    target networks (of the NEXT state s'; the reference used the current state, a defect): non-absorbing rows
    c clip(r, -1/c, 1/c)^2, absorbing rows (1 - gamma) c clip(r, Q_min, Q_max)^2. All shapes (N, 1)."""
    reward = q_target - (1.0 - done) * gamma * next_v_target.clamp(q_min, q_max)
    bounded = reward.clamp(-1.0 / reg_mult, 1.0 / reg_mult)
    return (1.0 - done) * reg_mult * bounded.pow(2) + done * (1.0 - gamma) * reg_mult * reward.clamp(q_min, q_max).pow(2)


def entropy_critic_target(
    next_h: th.Tensor,
    next_entropy: th.Tensor,
    done: th.Tensor,
    gamma: float,
    ent_coef: th.Tensor | float,
    bounds: tuple[float, float],
    extra_reward: th.Tensor | None = None,
) -> th.Tensor:
    """The entropy critic's target clip(extra + gamma (1 - d) (H_target(s', a') + alpha H(pi(.|s'))), bounds).

    ``extra_reward`` is HC's regulariser reward (None for H). Every input has shape (N, 1) (the reference broadcast a
    (N,) flag against (N, 1) values, which averaged the termination mask over the batch).
    """
    target = (1.0 - done) * gamma * (next_h + ent_coef * next_entropy)
    if extra_reward is not None:
        target = target + extra_reward
    return target.clamp(*bounds)


# ----------------------------------------------------------------------------------------------------------
# Inverse dynamics model (learning from observations, LS-IQ Sec. 5 / algorithms.md §2.8)
# ----------------------------------------------------------------------------------------------------------

ATANH_CLIP = 1.0 - 1e-6  # keeps atanh finite for actions on the bounds


def squashed_gaussian_nll(mean: th.Tensor, log_std: th.Tensor, actions: th.Tensor, clip: float = ATANH_CLIP) -> th.Tensor:
    """Negative log-likelihood of actions in [-1, 1] under a Gaussian on the pre-tanh value, as the reference fits its
    IDM: the target is u = atanh(a) (a clipped to +-clip, by default 1 - 1e-6) and the loss
    0.5 ((u - mu) / sigma)^2 + log sigma + 0.5 log(2 pi), summed over the action dimensions and averaged over the rows.

    :param mean: mu, shape (n, A)
    :param log_std: log sigma, shape (n, A)
    :param actions: a, scaled to [-1, 1], shape (n, A)
    :param clip: the largest |a| kept before atanh (the default's target reaches +-7.25 on the bounds)
    :return: 0-dim tensor
    """
    pre_tanh = th.atanh(actions.clamp(-clip, clip))
    per_dim = 0.5 * ((pre_tanh - mean) / log_std.exp()).pow(2) + log_std + 0.5 * math.log(2.0 * math.pi)  # (n, A)
    return per_dim.sum(dim=1).mean()


def diagonal_gaussian_kl(mean: th.Tensor, log_std: th.Tensor, target_mean: th.Tensor, target_log_std: th.Tensor) -> th.Tensor:
    """KL(N(mean, std) || N(target_mean, target_std)) of diagonal Gaussians, summed over dimensions, averaged over
    rows: sum_i log(s_t / s) + (s^2 + (m - m_t)^2) / (2 s_t^2) - 1/2. Shapes (n, A); returns a 0-dim tensor."""
    variance, target_variance = (2.0 * log_std).exp(), (2.0 * target_log_std).exp()
    per_dim = target_log_std - log_std + (variance + (mean - target_mean).pow(2)) / (2.0 * target_variance) - 0.5
    return per_dim.sum(dim=1).mean()


# ----------------------------------------------------------------------------------------------------------
# Adversarial baselines (GAIL, VAIL)
# ----------------------------------------------------------------------------------------------------------


def discriminator_loss(expert_logits: th.Tensor, policy_logits: th.Tensor) -> th.Tensor:
    """Binary cross-entropy of D = sigmoid(logit) with expert rows labelled 1 and policy rows 0 (each half averaged
    over its own rows, then summed / 2): -(E_E[log D] + E_pi[log(1 - D)]) / 2. Shapes (n_E,) and (n_pi,); 0-dim."""
    expert_term = F.binary_cross_entropy_with_logits(expert_logits, th.ones_like(expert_logits))
    policy_term = F.binary_cross_entropy_with_logits(policy_logits, th.zeros_like(policy_logits))
    return 0.5 * (expert_term + policy_term)


def adversarial_reward(logits: th.Tensor) -> th.Tensor:
    """GAIL's generator reward -log(1 - D) = softplus(logit): positive, so it carries a survival bonus on
    terminating tasks (as in GAIL, imitation and LocoMuJoCo). Same shape as ``logits``."""
    return F.softplus(logits)


def kl_to_standard_normal(mean: th.Tensor, log_std: th.Tensor) -> th.Tensor:
    """KL(N(mean, exp(log_std)) || N(0, I)), summed over the code, averaged over rows (0-dim)."""
    return diagonal_gaussian_kl(mean, log_std, th.zeros_like(mean), th.zeros_like(log_std))


def dual_beta_update(beta: th.Tensor, kl: th.Tensor, information_constraint: float, beta_learning_rate: float) -> th.Tensor:
    """VAIL's dual ascent on the bottleneck weight: max(0, beta + lr_beta (KL - I_c)), on tensors (no host sync)."""
    return (beta + beta_learning_rate * (kl - information_constraint)).clamp(min=0.0)
