"""The discriminator of GAIL and VAIL: an MLP logit of "expert" on states (and actions), optionally with VAIL's
variational information bottleneck (Peng et al., ICLR 2019)."""

from __future__ import annotations

from typing import NamedTuple

import torch as th
from stable_baselines3.common.torch_layers import create_mlp
from torch import nn

from sb3_lsiq.common.losses import adversarial_reward, kl_to_standard_normal

DISCRIMINATOR_INPUTS = ("state", "state_action")


class DiscriminatorOutput(NamedTuple):
    """:param logits: logit of "expert", shape (B,); :param kl: the batch's KL(code || N(0, I)) (VAIL), 0-dim, or None"""

    logits: th.Tensor
    kl: th.Tensor | None


class Discriminator(nn.Module):
    """D(x) = sigmoid(logit(x)) with x = s or (s, a), actions scaled to [-1, 1].

    Plain (GAIL): an MLP to one logit. Variational (VAIL, ``latent_dim`` set): an encoder MLP to the mean and log std
    of a ``latent_dim`` Gaussian code, a decoder MLP from the code to the logit; in training mode the code is
    sampled and the output carries the batch's KL to N(0, I), otherwise the code is its mean (rewards).

    :param observation_dim: size of a flat observation
    :param action_dim: size of an action (ignored with ``inputs="state"``)
    :param inputs: ``"state_action"`` (GAIL's D(s, a)) or ``"state"`` (LocoMuJoCo's D(s))
    :param net_arch: hidden sizes of the MLP (GAIL) or of the encoder (VAIL)
    :param latent_dim: size of VAIL's code; None: no bottleneck (GAIL)
    :param decoder_arch: hidden sizes of VAIL's decoder (LocoMuJoCo: none, a linear layer)
    :param activation_fn: activation between hidden layers
    """

    def __init__(
        self,
        observation_dim: int,
        action_dim: int,
        inputs: str = "state_action",
        net_arch: list[int] | None = None,
        latent_dim: int | None = None,
        decoder_arch: list[int] | None = None,
        activation_fn: type[nn.Module] = nn.Tanh,
    ) -> None:
        super().__init__()
        if inputs not in DISCRIMINATOR_INPUTS:
            raise ValueError(f"discriminator inputs={inputs!r} is not one of {', '.join(DISCRIMINATOR_INPUTS)}.")
        self.inputs = inputs
        self.latent_dim = latent_dim
        in_dim = observation_dim + (action_dim if inputs == "state_action" else 0)
        hidden = net_arch if net_arch is not None else [256, 256]
        if latent_dim is None:
            self.body = nn.Sequential(*create_mlp(in_dim, 1, hidden, activation_fn))
        else:
            self.body = nn.Sequential(*create_mlp(in_dim, 2 * latent_dim, hidden, activation_fn))
            self.decoder = nn.Sequential(*create_mlp(latent_dim, 1, decoder_arch or [], activation_fn))

    @property
    def variational(self) -> bool:
        return self.latent_dim is not None

    def forward(self, observations: th.Tensor, actions: th.Tensor | None) -> DiscriminatorOutput:
        """Logits of rows (B, obs_dim) and (B, action_dim); actions may be None with ``inputs="state"``."""
        x = observations.flatten(1)
        if self.inputs == "state_action":
            assert actions is not None, "a state-action discriminator needs actions"
            x = th.cat([x, actions.flatten(1)], dim=1)  # (B, obs_dim + action_dim)
        if self.latent_dim is None:
            return DiscriminatorOutput(self.body(x).reshape(-1), None)  # (B, 1) -> (B,)
        code = self.body(x)  # (B, 2 * latent_dim)
        mean, log_std = code[:, : self.latent_dim], code[:, self.latent_dim :].clamp(-10.0, 5.0)
        if not self.training:
            return DiscriminatorOutput(self.decoder(mean).reshape(-1), None)
        z = mean + log_std.exp() * th.randn_like(mean)
        return DiscriminatorOutput(self.decoder(z).reshape(-1), kl_to_standard_normal(mean, log_std))

    @th.no_grad()
    def reward(self, observations: th.Tensor, actions: th.Tensor | None) -> th.Tensor:
        """The generator's reward -log(1 - D), from the code's mean, shape (B,)."""
        was_training = self.training
        self.train(False)
        logits = self(observations, actions).logits
        self.train(was_training)
        return adversarial_reward(logits)
