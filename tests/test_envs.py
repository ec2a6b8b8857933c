"""The package's small envs and their scripted experts."""

import gymnasium as gym
import numpy as np
import pytest

import sb3_lsiq  # noqa: F401  (registers the envs)
from sb3_lsiq.common.recording import record_episodes
from sb3_lsiq.data import packaged_dataset_path
from sb3_lsiq.envs import ScriptedGoalReacher
from sb3_lsiq.envs.goal_reach import GOAL_RADIUS, START_RADIUS


def test_goal_reach_dynamics_and_termination():
    env = gym.make("GoalReach-v0")
    assert env.spec.max_episode_steps == 200
    obs, _ = env.reset(seed=0)
    assert obs.shape == (2,) and np.linalg.norm(obs) == pytest.approx(START_RADIUS, rel=1e-5)
    next_obs, reward, terminated, truncated, info = env.step(np.array([2.0, 0.0]))  # clipped to 1
    np.testing.assert_allclose(next_obs, obs + np.array([0.05, 0.0]), atol=1e-6)
    assert reward == -1.0 and not terminated and not truncated and not info["is_success"]
    env.unwrapped.position = np.array([0.12, 0.0], dtype=np.float32)
    _, _, terminated, _, info = env.step(np.array([-1.0, 0.0]))
    assert terminated and info["is_success"]


def test_goal_reach_time_limit_truncates_a_policy_that_never_arrives():
    env = gym.make("GoalReach-v0")
    env.reset(seed=1)
    lengths = 0
    truncated = False
    while not truncated:
        _, _, terminated, truncated, _ = env.step(np.zeros(2))
        assert not terminated
        lengths += 1
    assert lengths == 200


def test_scripted_expert_reaches_the_goal_by_termination():
    demos = record_episodes(ScriptedGoalReacher(), gym.make("GoalReach-v0"), n_episodes=10)
    lengths = np.asarray(demos.metadata["episode_lengths"])
    assert all(demos.metadata["episode_terminated"]) and lengths.max() <= 15
    assert np.all(np.linalg.norm(demos.next_observations[np.cumsum(lengths) - 1], axis=1) < GOAL_RADIUS)


def test_shipped_goal_reach_dataset_is_the_scripted_expert():
    with np.load(packaged_dataset_path("GoalReach-v0")) as data:
        assert data["terminated"].sum() == 25 and not data["truncated"].any()
        assert data["episode_returns"].max() <= -10
