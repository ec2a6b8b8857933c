"""The entropy critics of LSIQ-H and LSIQ-HC (LS-IQ paper, Sec. 4; algorithms.md §2.6-2.7).

With an entropy critic the soft-Q critic becomes a reward-only critic Q (its values and targets drop the
-alpha log pi terms) and a second network H(s, a) carries the discounted future entropy: H is regressed to
gamma (1 - d) (H_target(s', a') + alpha H(pi(.|s'))). The expert rows' next-state entropy is lower-clipped to a
running maximum of the policy's, so expert states never look less entropic than the policy's most entropic ones.
LSIQ-HC adds the regulariser reward c r^2 to H's target, so H carries the regulariser too. The actor maximises
Q + H - alpha log pi.

The reference's defects are fixed: per-row termination masks ((N, 1) everywhere), the target network starts as a
copy of H, and HC's regulariser reward uses V_target of the next state.
"""

from __future__ import annotations

from typing import Any

import torch as th
from torch import nn

from sb3_lsiq.common.losses import (
    H_TARGET_BOUNDS,
    entropy_critic_target,
    hc_target_bounds,
    regression,
    regularization_reward,
    running_entropy_max,
)

ENTROPY_CRITICS = ("off", "entropy", "entropy_regularizer")
ENTROPY_CRITIC_OPTIONS = frozenset({"tau", "loss", "clip_expert_entropy", "tau_up", "tau_down"})


class EntropyCritic(nn.Module):
    """H(s, a) and its target, with its own optimizer; built from the policy's critic settings (same networks).

    :param policy: the algorithm's policy (its ``make_critic`` builds H like Q, its optimizer settings are reused)
    :param learning_rate: initial learning rate (the algorithm updates it with the critic's schedule)
    :param mode: ``"entropy"`` (LSIQ-H) or ``"entropy_regularizer"`` (LSIQ-HC)
    :param reg_mult: c (HC's regulariser reward and target bounds)
    :param gamma: discount
    :param q_bounds: (Q_min, Q_max) of the Q critic (HC's regulariser reward)
    :param tau: soft update rate of H's target
    :param loss: ``"mse"`` (H's default) or ``"huber"`` (HC's default)
    :param clip_expert_entropy: lower-clip the expert rows' next-state entropy to the policy's running maximum
    :param tau_up: rate at which the running maximum follows a higher batch maximum
    :param tau_down: rate at which it follows a lower one
    """

    policy_entropy_max: th.Tensor

    def __init__(
        self,
        policy: Any,
        learning_rate: float,
        mode: str,
        reg_mult: float,
        gamma: float,
        q_bounds: tuple[float, float],
        tau: float,
        loss: str | None = None,
        clip_expert_entropy: bool = True,
        tau_up: float = 1e-2,
        tau_down: float = 1e-4,
    ) -> None:
        super().__init__()
        self.mode = mode
        self.reg_mult, self.gamma, self.q_bounds, self.tau = reg_mult, gamma, q_bounds, tau
        self.loss = loss or ("huber" if mode == "entropy_regularizer" else "mse")
        if self.loss not in ("mse", "huber"):
            raise ValueError(f"Unknown entropy critic loss={self.loss!r}; valid values: 'mse', 'huber'.")
        self.clip_expert_entropy, self.tau_up, self.tau_down = clip_expert_entropy, tau_up, tau_down
        self.net = policy.make_critic(features_extractor=None)
        self.target = policy.make_critic(features_extractor=None)
        self.target.load_state_dict(self.net.state_dict())  # the reference never initialised its target
        self.target.set_training_mode(False)
        self.optimizer = policy.optimizer_class(self.net.parameters(), lr=learning_rate, **policy.optimizer_kwargs)
        # the running maximum M of the policy's next-state entropy (NaN: no batch seen yet); saved with the model
        self.register_buffer("policy_entropy_max", th.tensor(float("nan")))
        self.bounds = hc_target_bounds(reg_mult, gamma) if mode == "entropy_regularizer" else H_TARGET_BOUNDS

    def value(self, observations: th.Tensor, actions: th.Tensor) -> th.Tensor:
        """H(s, a), the minimum over the ensemble, shape (N, 1)."""
        return th.cat(self.net(observations, actions), dim=1).min(dim=1, keepdim=True)[0]

    def next_entropy(self, next_log_prob: th.Tensor, n_policy: int) -> th.Tensor:
        """-log pi(a'|s') with the expert rows lower-clipped to the running maximum of the policy rows, (N, 1)."""
        entropy = -next_log_prob
        if not self.clip_expert_entropy or n_policy == 0:
            return entropy
        batch_max = entropy[:n_policy].max()
        self.policy_entropy_max.copy_(running_entropy_max(self.policy_entropy_max, batch_max, self.tau_up, self.tau_down))
        return th.cat([entropy[:n_policy], entropy[n_policy:].clamp(min=self.policy_entropy_max)])

    def update(
        self,
        observations: th.Tensor,
        actions: th.Tensor,
        next_observations: th.Tensor,
        next_actions: th.Tensor,
        next_log_prob: th.Tensor,
        dones: th.Tensor,
        n_policy: int,
        ent_coef: th.Tensor,
        q_target: th.Tensor | None = None,
        next_v_target: th.Tensor | None = None,
    ) -> th.Tensor:
        """One step of H on the update's batch; HC also needs Q_target(s, a) and V_target(s'), each (N, 1).

        :return: the loss (detached)
        """
        with th.no_grad():
            next_h = th.cat(self.target(next_observations, next_actions), dim=1).min(dim=1, keepdim=True)[0]  # (N, 1)
            extra = None
            if self.mode == "entropy_regularizer":
                assert q_target is not None and next_v_target is not None
                extra = regularization_reward(q_target, next_v_target, dones, self.reg_mult, self.gamma, *self.q_bounds)
            entropy = self.next_entropy(next_log_prob, n_policy)
            target = entropy_critic_target(next_h, entropy, dones, self.gamma, ent_coef, self.bounds, extra)
        h = th.cat(self.net(observations, actions), dim=1)  # (N, K)
        loss = regression(h, target, self.loss)
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        with th.no_grad():
            for parameter, target_parameter in zip(self.net.parameters(), self.target.parameters()):
                target_parameter.lerp_(parameter, self.tau)
        return loss.detach()
