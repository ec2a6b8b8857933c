"""Record expert episodes from any SB3 policy into :class:`~sb3_lsiq.common.demonstrations.Demonstrations`."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from sb3_lsiq.common.demonstrations import Demonstrations


def record_episodes(
    predict: Any,
    env: gym.Env,
    n_episodes: int,
    seed: int = 0,
    deterministic: bool = True,
    metadata: dict[str, Any] | None = None,
) -> Demonstrations:
    """Roll out ``n_episodes`` episodes on a plain (non-vectorised) env and keep terminated/truncated apart.

    :param predict: an object with SB3's ``predict(obs, deterministic=...)`` (a model or policy)
    :param env: a gymnasium env; episode i is reset with ``seed + i``
    :param n_episodes: number of episodes to record
    :param seed: seed of the first episode
    :param deterministic: use the policy's deterministic action
    :param metadata: provenance stored with the demonstrations (episode returns and lengths are added)
    :return: the episodes, with actions in the env's scale
    """
    observations, actions, next_observations, rewards, terminated_rows, end_rows, returns = [], [], [], [], [], [], []
    lengths, terminations = [], []
    for episode in range(n_episodes):
        obs, _ = env.reset(seed=seed + episode)
        done, episode_return, length = False, 0.0, 0
        while not done:
            action, _ = predict.predict(obs, deterministic=deterministic)
            next_obs, reward, terminated, truncated, _ = env.step(action)
            done = bool(terminated or truncated)
            observations.append(obs)
            actions.append(action)
            next_observations.append(next_obs)
            rewards.append(float(reward))
            terminated_rows.append(bool(terminated))
            end_rows.append(done)
            episode_return += float(reward)
            length += 1
            obs = next_obs
        returns.append(episode_return)
        lengths.append(length)
        terminations.append(bool(terminated))
    info = dict(metadata or {})
    info.update(
        episode_returns=returns,
        episode_lengths=lengths,
        episode_terminated=terminations,
        mean_return=float(np.mean(returns)),
        std_return=float(np.std(returns)),
        seed=seed,
        deterministic=deterministic,
    )
    return Demonstrations(
        observations=np.asarray(observations, dtype=np.float32),
        actions=np.asarray(actions, dtype=np.float32),
        next_observations=np.asarray(next_observations, dtype=np.float32),
        terminated=np.asarray(terminated_rows, dtype=bool),
        episode_ends=np.asarray(end_rows, dtype=bool),
        episode_returns=np.asarray(returns, dtype=np.float64),
        metadata=info,
        rewards=np.asarray(rewards, dtype=np.float32),
    )


def random_policy_return(env: gym.Env, n_episodes: int, seed: int = 0) -> tuple[float, float]:
    """Mean and std of the return of uniformly random actions (the 0 of expert-normalised scores)."""
    env.action_space.seed(seed)
    returns = []
    for episode in range(n_episodes):
        env.reset(seed=seed + episode)
        done, total = False, 0.0
        while not done:
            _, reward, terminated, truncated, _ = env.step(env.action_space.sample())
            total += float(reward)
            done = bool(terminated or truncated)
        returns.append(total)
    return float(np.mean(returns)), float(np.std(returns))
