"""Actor-critic policy of LSIQ and IQ-Learn: SB3's SAC policy with a single critic and configurable log-std bounds."""

from __future__ import annotations

from typing import Any

import torch as th
from gymnasium import spaces
from stable_baselines3.common.policies import ContinuousCritic
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor, FlattenExtractor
from stable_baselines3.common.type_aliases import PyTorchObs, Schedule
from stable_baselines3.sac.policies import Actor, SACPolicy
from torch import nn

from sb3_lsiq.common.observation_map import ObservationSubsetExtractor


class IQActor(Actor):
    """SB3's tanh-Gaussian SAC actor with the log-std clamp bounds as arguments.

    The reference LS-IQ launchers clamp log sigma to [-5, 2] (SB3 uses [-20, 2]); a hard clamp, as in both.

    :param log_std_bounds: (min, max) of the hard clamp on log sigma
    """

    def __init__(self, *args: Any, log_std_bounds: tuple[float, float] = (-5.0, 2.0), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.log_std_bounds: tuple[float, float] = (float(log_std_bounds[0]), float(log_std_bounds[1]))

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()
        data["log_std_bounds"] = self.log_std_bounds
        return data

    def get_action_dist_params(self, obs: PyTorchObs) -> tuple[th.Tensor, th.Tensor, dict[str, th.Tensor]]:
        features = self.extract_features(obs, self.features_extractor)
        latent_pi = self.latent_pi(features)
        mean_actions = self.mu(latent_pi)
        if self.use_sde:
            return mean_actions, self.log_std, dict(latent_sde=latent_pi)
        log_std = th.clamp(self.log_std(latent_pi), *self.log_std_bounds)  # type: ignore[operator]
        return mean_actions, log_std, {}


class IQPolicy(SACPolicy):
    """Policy of the implicit-Q algorithms: a tanh-Gaussian actor and ``n_critics`` soft-Q critics with targets.

    Identical to SB3's :class:`~stable_baselines3.sac.policies.SACPolicy` except that the defaults follow the
    LS-IQ reference (one critic, log sigma clamped to [-5, 2]). With ``n_critics > 1`` the soft value and the
    actor use the minimum over the critics, as in SAC.

    :param observation_space: Observation space
    :param action_space: Action space
    :param lr_schedule: Learning rate schedule (of the critic; the algorithm sets the actor's own rate)
    :param net_arch: The specification of the policy and value networks.
    :param activation_fn: Activation function
    :param log_std_bounds: (min, max) of the hard clamp on the actor's log sigma
    :param features_extractor_class: Features extractor to use.
    :param features_extractor_kwargs: Keyword arguments to pass to the features extractor.
    :param normalize_images: Whether to normalize images or not, dividing by 255.0 (True by default)
    :param optimizer_class: The optimizer to use, ``th.optim.Adam`` by default
    :param optimizer_kwargs: Additional keyword arguments, excluding the learning rate, to pass to the optimizer
        (None with Adam: ``{"fused": True}``)
    :param n_critics: Number of critic networks to create (1 by default, as in LS-IQ and IQ-Learn on MuJoCo).
    :param share_features_extractor: Whether to share or not the features extractor between the actor and the critic
    :param critic_observation_indices: flat observation entries the critics see (None: all of them, through
        ``features_extractor_class``); set by ``expert_observation_map`` so the critic only sees what the expert observed
    """

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Box,
        lr_schedule: Schedule,
        net_arch: list[int] | dict[str, list[int]] | None = None,
        activation_fn: type[nn.Module] = nn.ReLU,
        log_std_bounds: tuple[float, float] = (-5.0, 2.0),
        features_extractor_class: type[BaseFeaturesExtractor] = FlattenExtractor,
        features_extractor_kwargs: dict[str, Any] | None = None,
        normalize_images: bool = True,
        optimizer_class: type[th.optim.Optimizer] = th.optim.Adam,
        optimizer_kwargs: dict[str, Any] | None = None,
        n_critics: int = 1,
        share_features_extractor: bool = False,
        critic_observation_indices: list[int] | None = None,
    ) -> None:
        if critic_observation_indices is not None and share_features_extractor:
            raise ValueError(
                "critic_observation_indices (set by expert_observation_map) needs share_features_extractor=False: "
                "the critic sees a subset of the observation, the actor all of it."
            )
        self.critic_observation_indices = None if critic_observation_indices is None else list(critic_observation_indices)
        self.log_std_bounds: tuple[float, float] = (float(log_std_bounds[0]), float(log_std_bounds[1]))
        if optimizer_class is th.optim.Adam and optimizer_kwargs is None:
            # One fused kernel per step instead of a loop over the parameters: ~3% of an update on one CPU core
            optimizer_kwargs = {"fused": True}
        super().__init__(
            observation_space,
            action_space,
            lr_schedule,
            net_arch=net_arch,
            activation_fn=activation_fn,
            features_extractor_class=features_extractor_class,
            features_extractor_kwargs=features_extractor_kwargs,
            normalize_images=normalize_images,
            optimizer_class=optimizer_class,
            optimizer_kwargs=optimizer_kwargs,
            n_critics=n_critics,
            share_features_extractor=share_features_extractor,
        )

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()
        data["log_std_bounds"] = self.log_std_bounds
        data["critic_observation_indices"] = self.critic_observation_indices
        return data

    def set_training_mode(self, mode: bool) -> None:
        """Put the actor and the critic (not the target) in training or evaluation mode, as SAC's policy does.

        Why not ``nn.Module.train``: SB3 flips the mode twice per environment step (``predict`` and ``train``), and
        the recursive ``train()`` through ``nn.Module.__setattr__`` costs ~0.3 ms a step here, 3% of the loop.
        Setting the flag on a flat list of the modules is the same end state for ~20 us. A module that overrides
        ``train()`` gets the standard path, so its own logic runs.
        """
        modules = [self, *self.actor.modules(), *self.critic.modules()]
        if any(type(module).train is not nn.Module.train for module in modules):
            super().set_training_mode(mode)
            return
        for module in modules:
            object.__setattr__(module, "training", mode)  # a plain bool attribute: skip Module.__setattr__'s checks

    def make_actor(self, features_extractor: BaseFeaturesExtractor | None = None) -> IQActor:
        actor_kwargs = self._update_features_extractor(self.actor_kwargs, features_extractor)
        return IQActor(**actor_kwargs, log_std_bounds=self.log_std_bounds).to(self.device)

    def make_critic(self, features_extractor: BaseFeaturesExtractor | None = None) -> ContinuousCritic:
        if self.critic_observation_indices is None:
            return super().make_critic(features_extractor)
        subset = ObservationSubsetExtractor(self.observation_space, self.critic_observation_indices)
        critic_kwargs = self._update_features_extractor(self.critic_kwargs, subset)
        return ContinuousCritic(**critic_kwargs).to(self.device)
