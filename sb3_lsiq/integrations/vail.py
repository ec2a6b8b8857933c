"""VAIL (Peng et al., "Variational Discriminator Bottleneck", ICLR 2019) on imitation's adversarial trainer, next to
imitation's GAIL: the LocoMuJoCo imitation baselines (algorithms.md §1 and §3.5).

The discriminator encodes its input into a Gaussian code z ~ N(mu(x), sigma(x)) and classifies from z; its loss is
the usual binary cross-entropy plus beta (KL(N(mu, sigma) || N(0, I)) - I_c), and beta follows the dual update
beta <- max(0, beta + lr_beta (E[KL] - I_c)), which holds the information the code carries near I_c. When the
generator's reward is computed the code is its mean (no sampling).

How it sits on imitation: :class:`VAIL` is imitation's :class:`~imitation.algorithms.adversarial.gail.GAIL` with a
:class:`VariationalRewardNet`. imitation's ``train_disc`` back-propagates the cross-entropy of the logits it gets
from ``logits_expert_is_high``; VAIL back-propagates the beta-weighted KL of the same forward pass there (with the
same minibatch scaling), so both gradients meet before imitation's optimiser step, and updates beta after it.
The reference's ``entcoeff`` argument of its VDB loss was never used; there is none here.

Needs imitation (see ``sb3_lsiq.integrations.imitation`` for the two install recipes).
"""

from __future__ import annotations

from typing import Any

import torch as th
from gymnasium import spaces
from stable_baselines3.common.preprocessing import get_flattened_obs_dim
from stable_baselines3.common.torch_layers import create_mlp
from torch import nn

from sb3_lsiq.common.losses import dual_beta_update, kl_to_standard_normal

try:
    from imitation.algorithms.adversarial.gail import GAIL
    from imitation.rewards import reward_nets
except ImportError as error:  # pragma: no cover - depends on the install
    raise ImportError(
        "sb3_lsiq.integrations.vail needs the imitation library: pip install imitation==1.0.1 sb3-lsiq, or on the SB3 "
        "2.9 stack pip install --no-deps imitation==1.0.1 seals==0.2.1 (see the README's imitation section)"
    ) from error


class VariationalRewardNet(reward_nets.RewardNet):
    """A discriminator with a variational bottleneck, as an imitation ``RewardNet`` (its output is the logit).

    Input: the flattened (state, action, next state, done) parts chosen by the ``use_*`` flags (LocoMuJoCo's VAIL
    uses states only). Encoder MLP -> (mu, log sigma) of a ``latent_dim`` code -> decoder MLP -> logit.
    In training mode the code is sampled and the batch's KL to N(0, I) is kept in ``last_kl``; in evaluation mode
    (imitation computes rewards in it) the code is mu.

    :param encoder_arch: hidden sizes of the encoder (LocoMuJoCo: [256])
    :param latent_dim: size of the code (LocoMuJoCo: 128)
    :param decoder_arch: hidden sizes of the decoder (LocoMuJoCo: none, one linear layer)
    """

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        use_state: bool = True,
        use_action: bool = True,
        use_next_state: bool = False,
        use_done: bool = False,
        encoder_arch: list[int] | None = None,
        latent_dim: int = 128,
        decoder_arch: list[int] | None = None,
        activation_fn: type[nn.Module] = nn.ReLU,
    ) -> None:
        super().__init__(observation_space, action_space)
        self.use_state, self.use_action, self.use_next_state, self.use_done = use_state, use_action, use_next_state, use_done
        obs_dim, act_dim = get_flattened_obs_dim(observation_space), get_flattened_obs_dim(action_space)
        in_dim = use_state * obs_dim + use_action * act_dim + use_next_state * obs_dim + use_done
        if in_dim == 0:
            raise ValueError("VariationalRewardNet needs at least one input: set use_state, use_action or use_next_state.")
        self.latent_dim = latent_dim
        self.encoder = nn.Sequential(*create_mlp(in_dim, 2 * latent_dim, encoder_arch or [256], activation_fn))
        self.decoder = nn.Sequential(*create_mlp(latent_dim, 1, decoder_arch or [], activation_fn))
        self.last_kl: th.Tensor | None = None

    def forward(self, state: th.Tensor, action: th.Tensor, next_state: th.Tensor, done: th.Tensor) -> th.Tensor:
        parts = []
        if self.use_state:
            parts.append(th.flatten(state, 1))
        if self.use_action:
            parts.append(th.flatten(action, 1))
        if self.use_next_state:
            parts.append(th.flatten(next_state, 1))
        if self.use_done:
            parts.append(done.reshape(-1, 1).float())
        code = self.encoder(th.cat(parts, dim=1))  # (B, 2 * latent_dim)
        mean, log_std = code[:, : self.latent_dim], code[:, self.latent_dim :].clamp(-10.0, 5.0)
        if self.training:
            z = mean + log_std.exp() * th.randn_like(mean)
            self.last_kl = kl_to_standard_normal(mean, log_std)
        else:
            z = mean
        return self.decoder(z).reshape(-1)  # (B,)


class VAIL(GAIL):
    """imitation's GAIL with a variational discriminator bottleneck (see the module docstring).

    :param demonstrations: expert transitions, as for GAIL
    :param demo_batch_size: expert rows per discriminator batch (as many generator rows join them)
    :param venv: the vectorised environment
    :param gen_algo: the generator (any SB3 algorithm; LocoMuJoCo uses TRPO, on-policy PPO fits imitation best)
    :param reward_net: a :class:`VariationalRewardNet`
    :param information_constraint: I_c (LocoMuJoCo: 0.1 for most tasks, 0.01 for Atlas, 1.0 for A1)
    :param beta_init: initial beta (0.1)
    :param beta_learning_rate: lr_beta of the dual update (LocoMuJoCo: 1e-5)
    :param kwargs: everything else GAIL / imitation's AdversarialTrainer takes
    """

    def __init__(
        self,
        *,
        demonstrations: Any,
        demo_batch_size: int,
        venv: Any,
        gen_algo: Any,
        reward_net: VariationalRewardNet,
        information_constraint: float = 0.1,
        beta_init: float = 0.1,
        beta_learning_rate: float = 1e-5,
        **kwargs: Any,
    ) -> None:
        if not isinstance(reward_net, VariationalRewardNet):
            raise TypeError(f"VAIL needs a VariationalRewardNet as reward_net, got {type(reward_net).__name__}.")
        if information_constraint < 0 or beta_init < 0 or beta_learning_rate < 0:
            raise ValueError("information_constraint, beta_init and beta_learning_rate must be >= 0.")
        super().__init__(demonstrations=demonstrations, demo_batch_size=demo_batch_size, venv=venv, gen_algo=gen_algo,
                         reward_net=reward_net, **kwargs)  # fmt: skip
        self.variational_net = reward_net
        self.information_constraint = information_constraint
        self.beta = beta_init
        self.beta_learning_rate = beta_learning_rate
        self._kl_sum, self._kl_count = 0.0, 0

    def logits_expert_is_high(
        self,
        state: th.Tensor,
        action: th.Tensor,
        next_state: th.Tensor,
        done: th.Tensor,
        log_policy_act_prob: th.Tensor | None = None,
    ) -> th.Tensor:
        logits = super().logits_expert_is_high(state, action, next_state, done, log_policy_act_prob)
        kl = self.variational_net.last_kl
        if th.is_grad_enabled() and kl is not None and kl.requires_grad:
            # imitation back-propagates the cross-entropy of these logits, scaled by minibatch / batch; the
            # bottleneck term of the same forward pass joins it here with the same scale
            scale = self.demo_minibatch_size / self.demo_batch_size
            (scale * self.beta * (kl - self.information_constraint)).backward(retain_graph=True)
            self._kl_sum += float(kl.detach()) * scale
            self._kl_count += 1
        return logits

    def train_disc(self, **kwargs: Any) -> Any:
        self._kl_sum, self._kl_count = 0.0, 0
        stats = super().train_disc(**kwargs)
        if self._kl_count:
            kl = self._kl_sum  # the batch mean (the minibatch scales sum to one)
            beta = dual_beta_update(th.tensor(self.beta), th.tensor(kl), self.information_constraint, self.beta_learning_rate)
            self.beta = float(beta)
            self.logger.record("disc/vail_kl", kl)
            self.logger.record("disc/vail_beta", self.beta)
        return stats
