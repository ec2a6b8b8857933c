import numpy as np
import pytest
import torch as th

from sb3_lsiq.data import pendulum_demonstrations

# One torch thread per test process: several times faster on small CPUs, and what CI runs with.
th.set_num_threads(1)


@pytest.fixture(scope="session")
def pendulum_demos():
    """5 shipped Pendulum-v1 expert episodes (1000 transitions)."""
    return pendulum_demonstrations(n_episodes=5)


@pytest.fixture
def small_kwargs():
    """Fast settings for behaviour tests (not for learning)."""
    return dict(
        learning_starts=64,
        batch_size=32,
        buffer_size=5_000,
        policy_kwargs=dict(net_arch=[32, 32]),
    )


def random_demonstrations(n=300, obs_dim=3, act_dim=1, low=-2.0, high=2.0, seed=0):
    """A native-format mapping of random transitions, in Pendulum's shapes by default."""
    rng = np.random.default_rng(seed)
    return {
        "obs": rng.normal(size=(n, obs_dim)).astype(np.float32),
        "acts": rng.uniform(low, high, size=(n, act_dim)).astype(np.float32),
        "next_obs": rng.normal(size=(n, obs_dim)).astype(np.float32),
        "terminated": np.zeros(n, dtype=bool),
        "truncated": (np.arange(n) % 100) == 99,
    }
