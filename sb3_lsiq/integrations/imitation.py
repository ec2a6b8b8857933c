"""LSIQ and IQ-Learn inside imitation-library pipelines (https://github.com/HumanCompatibleAI/imitation).

- :class:`LSIQTrainer` / :class:`IQLearnTrainer`: imitation ``DemonstrationAlgorithm`` trainers with SQIL's
  constructor shape (``venv``, ``demonstrations``, ``policy``, ``custom_logger``, ``rl_kwargs``; plus an optional
  ``rng``), ``set_demonstrations``, ``train(total_timesteps=...)`` and a ``policy`` property.
- :class:`ImplicitRewardNet`: an imitation ``RewardNet`` exposing the reward a trained model recovered,
  r(s, a, s') = Q(s, a) - gamma (1 - d) V(s'), usable with ``imitation.rewards.reward_wrapper.RewardVecEnvWrapper``.
- :class:`ImplicitAdvantageRewardNet`: the same reward with its potential removed, A(s, a) = Q(s, a) - max_a' Q(s, a'):
  the same optimal policies, and the form to train a new agent on.

This module needs imitation; the rest of sb3_lsiq never imports it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch as th

try:
    from imitation.algorithms import base as imitation_base
    from imitation.rewards import reward_nets
except ImportError as error:  # pragma: no cover - depends on the install
    raise ImportError(
        "sb3_lsiq.integrations.imitation needs the imitation library. Either install imitation's own stack "
        "(SB3 2.2.1, gymnasium 0.29.1, MuJoCo -v4): pip install imitation==1.0.1 sb3-lsiq ; or keep the current "
        "SB3 2.9 / gymnasium 1.x stack and add it without its pins: pip install --no-deps imitation==1.0.1 "
        "seals==0.2.1 && pip install datasets jsonpickle tensorboard sacred"
    ) from error
from stable_baselines3.common import policies
from stable_baselines3.common.vec_env import VecEnv

from sb3_lsiq.common.iq_algorithm import ImplicitQAlgorithm
from sb3_lsiq.iqlearn import IQLearn
from sb3_lsiq.lsiq import LSIQ


class ImplicitQTrainer(imitation_base.DemonstrationAlgorithm):
    """An imitation ``DemonstrationAlgorithm`` around one of the package's algorithms (see the subclasses).

    :param venv: the vectorised environment to train on
    :param demonstrations: anything imitation accepts (trajectories, ``Transitions``, batches of transition
        mappings) or anything :func:`sb3_lsiq.load_demonstrations` reads; None to set them later
    :param policy: the SB3 policy (name or class), e.g. ``"MlpPolicy"``
    :param custom_logger: imitation's ``HierarchicalLogger``; the algorithm logs to it (None: a new one)
    :param rl_kwargs: keyword arguments of the algorithm's constructor (``reg_mult``, ``batch_size``, ...)
    :param rng: seeds the algorithm when ``rl_kwargs`` has no ``seed`` (imitation's trainers take one)
    :param allow_variable_horizon: imitation's safety check of episode lengths. Off by default because LS-IQ
        handles terminations explicitly (absorbing states), which is what makes variable horizons safe here
    """

    algorithm_class: type[ImplicitQAlgorithm]

    def __init__(
        self,
        *,
        venv: VecEnv,
        demonstrations: Any,
        policy: str | type[policies.BasePolicy] = "MlpPolicy",
        custom_logger: Any = None,
        rl_kwargs: dict[str, Any] | None = None,
        rng: np.random.Generator | None = None,
        allow_variable_horizon: bool = True,
    ) -> None:
        self.venv = venv
        rl_kwargs = dict(rl_kwargs or {})
        if "demonstrations" in rl_kwargs:
            raise ValueError("Pass the demonstrations as `demonstrations=`, not inside rl_kwargs.")
        if rng is not None and "seed" not in rl_kwargs:
            rl_kwargs["seed"] = int(rng.integers(2**31 - 1))
        self.rl_algo = self.algorithm_class(policy, venv, **rl_kwargs)  # type: ignore[arg-type]
        super().__init__(
            demonstrations=demonstrations, custom_logger=custom_logger, allow_variable_horizon=allow_variable_horizon
        )
        # imitation's HierarchicalLogger is an SB3 Logger: the algorithm writes its train/ keys to it
        self.rl_algo.set_logger(self.logger)

    def set_demonstrations(self, demonstrations: Any) -> None:
        """Replace the demonstrations: the expert buffer is refilled (and validated) at once."""
        self.rl_algo.set_demonstrations(demonstrations)

    def train(self, *, total_timesteps: int, tb_log_name: str | None = None, **kwargs: Any) -> None:
        """Train for ``total_timesteps`` environment steps; later calls continue (the step count is kept)."""
        kwargs.setdefault("reset_num_timesteps", False)
        self.rl_algo.learn(total_timesteps=total_timesteps, tb_log_name=tb_log_name or type(self).__name__, **kwargs)

    @property
    def policy(self) -> policies.BasePolicy:
        return self.rl_algo.policy

    def reward_net(self, **kwargs: Any) -> ImplicitRewardNet:
        """The recovered reward as an imitation ``RewardNet`` (see :class:`ImplicitRewardNet`)."""
        return ImplicitRewardNet(self.rl_algo, **kwargs)

    def advantage_reward_net(self, **kwargs: Any) -> ImplicitAdvantageRewardNet:
        """The recovered reward without its potential, to train a new agent on (see :class:`ImplicitAdvantageRewardNet`)."""
        return ImplicitAdvantageRewardNet(self.rl_algo, **kwargs)


class LSIQTrainer(ImplicitQTrainer):
    """LS-IQ (Al-Hafez et al., ICLR 2023) as an imitation trainer; ``rl_kwargs`` go to :class:`sb3_lsiq.LSIQ`."""

    algorithm_class = LSIQ


class IQLearnTrainer(ImplicitQTrainer):
    """IQ-Learn (Garg et al., NeurIPS 2021) as an imitation trainer; ``rl_kwargs`` go to :class:`sb3_lsiq.IQLearn`."""

    algorithm_class = IQLearn


class _FrozenModelRewardNet(reward_nets.RewardNet):
    """A RewardNet computed by a trained model's frozen networks, with V estimated from a seeded private generator."""

    def __init__(self, model: ImplicitQAlgorithm, n_action_samples: int, seed: int) -> None:
        super().__init__(model.observation_space, model.action_space, normalize_images=False)
        self.model = model
        self.n_action_samples = n_action_samples
        self.seed = seed
        # registered as a submodule so .device/.dtype and .to() follow the model's networks
        self.policy = model.policy
        self.policy.requires_grad_(False)


class ImplicitRewardNet(_FrozenModelRewardNet):
    """The reward recovered by a trained LSIQ / IQ-Learn model: r(s, a, s') = Q(s, a) - gamma (1 - d) V(s').

    Equal to ``model.predict_reward`` on the same inputs (V(s') from ``n_action_samples`` policy samples of a
    private generator seeded with ``seed``). The model's networks are frozen: this net is for evaluation and for
    training new agents through imitation's ``RewardVecEnvWrapper``.

    :param model: a trained :class:`sb3_lsiq.LSIQ` or :class:`sb3_lsiq.IQLearn`
    :param use_done: treat ``done`` as a true termination (absorbing: no bootstrap). A VecEnv's ``dones`` are
        also True at time-limit cuts, so set it False on envs whose episodes only end by truncation
    :param n_action_samples: policy samples that estimate V(s')
    :param seed: seed of the private generator
    """

    def __init__(
        self,
        model: ImplicitQAlgorithm,
        use_done: bool = True,
        n_action_samples: int = 16,
        seed: int = 0,
    ) -> None:
        super().__init__(model, n_action_samples, seed)
        self.use_done = use_done

    def forward(self, state: th.Tensor, action: th.Tensor, next_state: th.Tensor, done: th.Tensor) -> th.Tensor:
        done = done if self.use_done else th.zeros_like(done)
        return self.model.implicit_reward(state, action, next_state, done, self.n_action_samples, self.seed)


class ImplicitAdvantageRewardNet(_FrozenModelRewardNet):
    """The recovered reward with its potential removed: A(s, a) = Q(s, a) - max_a' Q(s, a'); train new agents on this.

    For any V, the recovered reward Q(s, a) - gamma (1 - d) V(s') is Q(s, a) - V(s) plus the potential-based
    shaping term V(s) - gamma (1 - d) V(s') (Ng et al., 1999), so with V the maximum of Q both have the same
    optimal policy, Q's greedy one. This one pays 0 for the greedy action and less for any other at every state;
    the recovered reward itself also pays for falling to states of low value, which a fresh agent exploits
    before it learns the long-run value (the README's reward-transfer caveat). Its role is that of the unshaped
    ``base`` of imitation's AIRL reward nets. Equal to ``scale * model.predict_advantage``; ``next_state`` and
    ``done`` are not used. The model's networks are frozen.

    :param model: a trained :class:`sb3_lsiq.LSIQ` or :class:`sb3_lsiq.IQLearn`
    :param scale: a positive factor on A (the optimal policies stay the same). Default ``1 - model.gamma``: Q and
        so A are about 1 / (1 - gamma) times larger than a per-step reward, and a new agent's critic learns
        faster at the per-step scale (SAC on one Pendulum LSIQ model's reward, true return after 7.5k / 12.5k
        steps: -764 / -719 with it, -1095 / -942 without)
    :param n_action_samples: uniform and actor-sampled actions (each) over which the maximum of Q is taken
    :param seed: seed of the private generator
    """

    def __init__(
        self, model: ImplicitQAlgorithm, scale: float | None = None, n_action_samples: int = 64, seed: int = 0
    ) -> None:
        super().__init__(model, n_action_samples, seed)
        self.scale = 1.0 - model.gamma if scale is None else scale
        if not self.scale > 0:
            raise ValueError(
                f"ImplicitAdvantageRewardNet: scale must be positive (got {scale}): a factor <= 0 changes the optimal policy"
            )

    def forward(self, state: th.Tensor, action: th.Tensor, next_state: th.Tensor, done: th.Tensor) -> th.Tensor:
        return self.scale * self.model.implicit_advantage(state, action, self.n_action_samples, self.seed)
