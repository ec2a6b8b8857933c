"""Every bad input raises a clear error that names the field and the fix, before any training step."""

import gymnasium as gym
import numpy as np
import pytest

from sb3_lsiq import LSIQ, IQLearn
from tests.conftest import random_demonstrations

ALGOS = [LSIQ, IQLearn]


def learn_and_expect(algo, demonstrations, match, error=ValueError, env="Pendulum-v1", **kwargs):
    model = algo("MlpPolicy", env, demonstrations=demonstrations, learning_starts=10, **kwargs)
    with pytest.raises(error, match=match):
        model.learn(50)
    assert model._n_updates == 0  # failed before any training step


@pytest.mark.parametrize("algo", ALGOS)
def test_observation_shape_mismatch(algo):
    learn_and_expect(algo, random_demonstrations(obs_dim=4), r"observations have shape \(4,\) but the env's observation space")


@pytest.mark.parametrize("algo", ALGOS)
def test_action_shape_mismatch(algo):
    learn_and_expect(algo, random_demonstrations(act_dim=2), r"actions have shape \(2,\) but the env's action space")


@pytest.mark.parametrize("algo", ALGOS)
def test_nan_and_inf_values(algo):
    demos = random_demonstrations()
    demos["next_obs"][17, 0] = np.nan
    learn_and_expect(algo, demos, r"next_observations holds NaN or inf values in 1 row\(s\) \(first: row 17\)")


@pytest.mark.parametrize("algo", ALGOS)
def test_empty_demonstrations(algo):
    learn_and_expect(algo, random_demonstrations(n=0), "empty")


@pytest.mark.parametrize("algo", ALGOS)
def test_fewer_expert_transitions_than_the_expert_batch(algo):
    learn_and_expect(algo, random_demonstrations(n=100), "100 transitions, fewer than expert_batch_size=256")
    learn_and_expect(algo, random_demonstrations(n=100), "fewer than expert_batch_size=128", expert_batch_size=128)


@pytest.mark.parametrize("algo", ALGOS)
def test_expert_actions_outside_the_bounds(algo):
    demos = random_demonstrations()
    demos["acts"][42, 0] = 2.5  # Pendulum's torque is in [-2, 2]
    learn_and_expect(algo, demos, r"outside the action bounds .* \(first: row 42")


@pytest.mark.parametrize("algo", ALGOS)
def test_missing_demo_file(algo, tmp_path):
    learn_and_expect(algo, str(tmp_path / "missing.npz"), "Demonstration file not found", error=FileNotFoundError)


@pytest.mark.parametrize("algo", ALGOS)
def test_no_demonstrations(algo):
    learn_and_expect(algo, None, "has no demonstrations: pass demonstrations=")


@pytest.mark.parametrize("algo", ALGOS)
def test_state_only_demonstrations_need_actions(algo, pendulum_demos):
    learn_and_expect(algo, pendulum_demos.without_actions(), r"have no actions \(state-only.*expert_actions='idm'")


@pytest.mark.parametrize("algo", ALGOS)
def test_discrete_action_space(algo):
    with pytest.raises(ValueError, match=r"supports continuous \(Box\) action spaces only, got Discrete\(2\)"):
        algo("MlpPolicy", gym.make("CartPole-v1"), demonstrations=random_demonstrations(obs_dim=4))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(loss_type="sqil_like"), "Unknown loss_type='sqil_like'; valid values: 'least_squares', 'iq'"),
        (dict(expert_term="clip"), "Unknown expert_term='clip'"),
        (dict(policy_term="v0"), r"Unknown policy_term \(loss_type='least_squares'\)='v0'"),
        (dict(q_loss="l1"), "Unknown q_loss='l1'"),
        (dict(regularizer="expert"), "regularizer='expert' only applies to loss_type='iq'"),
        (dict(loss_type="iq", regularizer="all"), "Unknown regularizer='all'"),
        (dict(demo_episode_end="sometimes"), "Unknown demo_episode_end='sometimes'"),
        (dict(reg_mult=0.0), "reg_mult must be > 0"),
        (dict(ent_coef="learned"), "ent_coef must be a float, 'auto'"),
        (dict(q_max=1.0, q_min=2.0), "q_min=2.0 must be lower than q_max=1.0"),
        (dict(n_demo_episodes=0), "n_demo_episodes must be >= 1"),
    ],
)
def test_unknown_lsiq_option_values(kwargs, match):
    with pytest.raises(ValueError, match=match):
        LSIQ("MlpPolicy", "Pendulum-v1", **kwargs)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(policy_term="value_plcy"), "Unknown policy_term='value_plcy'"),
        (dict(regularizer="chi"), "Unknown regularizer='chi'"),
        (dict(gradient_penalty=-1.0), "gradient_penalty must be >= 0"),
    ],
)
def test_unknown_iqlearn_option_values(kwargs, match):
    with pytest.raises(ValueError, match=match):
        IQLearn("MlpPolicy", "Pendulum-v1", **kwargs)


def test_too_many_demo_episodes_requested(pendulum_demos):
    learn_and_expect(
        LSIQ, pendulum_demos, "n_episodes=9 is out of range: the demonstrations hold 5 episodes", n_demo_episodes=9
    )
