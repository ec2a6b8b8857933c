"""A VecEnv that hands the generator the discriminator's reward instead of the environment's."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from gymnasium import Wrapper
from stable_baselines3.common.vec_env import VecEnv
from stable_baselines3.common.vec_env.base_vec_env import VecEnvIndices, VecEnvObs, VecEnvStepReturn

RewardFunction = Callable[[np.ndarray, np.ndarray], np.ndarray]


class DiscriminatorRewardVecEnv(VecEnv):
    """Replaces each step's reward with ``reward_fn(s, a)`` (s: the observation the action was taken in).

    Why a VecEnv rather than relabelling the rollout buffer: PPO adds gamma V(terminal observation) to the reward
    of a time-limit truncation while it collects; computing the reward inside the step keeps that bootstrap on
    the learned reward. The environment's own reward stays in ``info["env_reward"]`` and the Monitor wrapper
    (inside) still logs true episode returns, so ``rollout/ep_rew_mean`` and evaluations are the task's score.

    Why not a ``VecEnvWrapper``: SB3's ``sync_envs_normalization`` walks the training and evaluation wrappers in
    lock-step and fails when the training env has one more; as a plain VecEnv that forwards everything to
    ``venv``, the walk stops here, so evaluation envs are built exactly as for any other algorithm.

    :param venv: the environment (the algorithm puts this under VecNormalize, if any: it sees raw observations)
    :param reward_fn: (observations (n_envs, obs_dim), actions (n_envs, action_dim) as sent to the env) -> (n_envs,)
    """

    def __init__(self, venv: VecEnv, reward_fn: RewardFunction) -> None:
        self.venv = venv
        self.reward_fn = reward_fn
        self._observations: np.ndarray | None = None
        self._actions: np.ndarray | None = None
        super().__init__(venv.num_envs, venv.observation_space, venv.action_space)

    def reset(self) -> VecEnvObs:
        observations = self.venv.reset()
        self.reset_infos = self.venv.reset_infos
        self._observations = np.asarray(observations)
        return observations

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.asarray(actions)
        self.venv.step_async(actions)

    def step_wait(self) -> VecEnvStepReturn:
        observations, env_rewards, dones, infos = self.venv.step_wait()
        if self._observations is None or self._actions is None:
            raise RuntimeError("DiscriminatorRewardVecEnv.step_wait() before reset() and step_async().")
        rewards = np.asarray(self.reward_fn(self._observations, self._actions), dtype=np.float32).reshape(-1)
        for info, env_reward in zip(infos, env_rewards):
            info["env_reward"] = float(env_reward)
        # After an auto-reset, the returned observation is the next episode's first one: what the next action sees
        self._observations = np.asarray(observations)
        return observations, rewards, dones, infos

    # Everything else is the wrapped env's
    def seed(self, seed: int | None = None) -> Sequence[int | None]:
        return self.venv.seed(seed)

    def set_options(self, options: list[dict] | dict | None = None) -> None:
        self.venv.set_options(options)

    def close(self) -> None:
        self.venv.close()

    def get_images(self) -> Sequence[np.ndarray | None]:
        return self.venv.get_images()

    def render(self, mode: str | None = None) -> np.ndarray | None:
        return self.venv.render(mode)

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        return self.venv.get_attr(attr_name, indices)

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        self.venv.set_attr(attr_name, value, indices)

    def env_method(
        self, method_name: str, *method_args: Any, indices: VecEnvIndices = None, **method_kwargs: Any
    ) -> list[Any]:
        return self.venv.env_method(method_name, *method_args, indices=indices, **method_kwargs)

    def env_is_wrapped(self, wrapper_class: type[Wrapper], indices: VecEnvIndices = None) -> list[bool]:
        return self.venv.env_is_wrapped(wrapper_class, indices)
