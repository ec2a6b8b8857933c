"""MuJoCo's observation spaces are float64, and SB3's buffers keep that dtype: every algorithm and variant must train
on them (a network fed straight from a buffer, without SB3's float32 cast, fails there and nowhere on Pendulum)."""

import gymnasium as gym
import numpy as np
import pytest

from sb3_lsiq import GAIL, LSIQ, SQIL, VAIL, IQLearn
from tests.test_adversarial import FAST as FAST_ADVERSARIAL


def float64_pendulum() -> gym.Env:
    env = gym.wrappers.DtypeObservation(gym.make("Pendulum-v1"), np.float64)
    assert env.observation_space.dtype == np.float64
    return env


def assert_acts_on_a_float64_observation(model) -> None:
    actions, _ = model.predict(np.zeros(3, dtype=np.float64), deterministic=True)
    assert actions.shape == (1,) and np.isfinite(actions).all()


@pytest.mark.parametrize(
    ("algo", "kwargs", "state_only"),
    [
        (LSIQ, {}, False),
        (LSIQ, {"entropy_critic": "entropy"}, False),
        (LSIQ, {"entropy_critic": "entropy_regularizer"}, False),
        (LSIQ, {"expert_actions": "idm", "idm_kwargs": {"kl_coef": 0.1}}, True),
        (LSIQ, {"expert_actions": "policy"}, True),
        (IQLearn, {}, False),
        (IQLearn, {"expert_actions": "idm"}, True),
        (SQIL, {}, False),
    ],
    ids=["lsiq", "lsiq-h", "lsiq-hc", "lsiq-fo-idm", "lsiq-fo-policy", "iqlearn", "iqlearn-fo-idm", "sqil"],
)
def test_off_policy_algorithms_train_on_float64_observations(algo, kwargs, state_only, pendulum_demos, small_kwargs):
    demos = pendulum_demos.without_actions() if state_only else pendulum_demos
    model = algo("MlpPolicy", float64_pendulum(), demonstrations=demos, seed=0, **small_kwargs, **kwargs)
    model.learn(200)
    assert model.replay_buffer.observations.dtype == np.float64  # the case under test: SB3 kept the env's dtype
    assert model._n_updates > 0  # gradient steps ran on float64 batches
    assert_acts_on_a_float64_observation(model)


@pytest.mark.parametrize("algo", [LSIQ, IQLearn])
def test_offline_training_on_float64_observations(algo, pendulum_demos, small_kwargs):
    model = algo("MlpPolicy", float64_pendulum(), demonstrations=pendulum_demos, seed=0, **small_kwargs)
    model.learn_offline(50)
    assert model._n_updates == 50
    advantage = model.predict_advantage(np.zeros((4, 3), dtype=np.float64), np.zeros((4, 1), dtype=np.float32))
    assert advantage.shape == (4,) and np.isfinite(advantage).all()


@pytest.mark.parametrize("algo", [GAIL, VAIL])
def test_adversarial_algorithms_train_on_float64_observations(algo, pendulum_demos):
    model = algo("MlpPolicy", float64_pendulum(), demonstrations=pendulum_demos, **FAST_ADVERSARIAL)
    model.learn(256)
    assert model.num_timesteps == 256
    assert_acts_on_a_float64_observation(model)
