"""Offline training: LSIQ and IQ-Learn from the demonstrations alone, and the behaviour-cloning baseline."""

import copy
import math

import numpy as np
import pytest
import torch as th
from stable_baselines3.common.callbacks import BaseCallback

from sb3_lsiq import LSIQ, IQLearn

ALGOS = [LSIQ, IQLearn]


class CountCalls(BaseCallback):
    def _on_step(self) -> bool:
        return self.n_calls < 25  # stops training after 25 updates


OFFLINE_SETTINGS = [("v0", "policy"), ("value_expert", "policy"), ("value_expert", "soft_max")]


@pytest.mark.parametrize("algo", ALGOS)
@pytest.mark.parametrize(("policy_term", "value"), OFFLINE_SETTINGS)
def test_learn_offline_takes_no_environment_step(algo, policy_term, value, pendulum_demos, small_kwargs):
    model = algo("MlpPolicy", "Pendulum-v1", demonstrations=pendulum_demos, seed=0, **small_kwargs)
    critic_before = copy.deepcopy(model.critic.state_dict())
    actor_before = copy.deepcopy(model.actor.state_dict())
    model.learn_offline(40, log_interval=20, policy_term=policy_term, value=value)
    assert model.replay_buffer.size() == 0  # no environment step: num_timesteps counts the updates
    assert model.num_timesteps == 40
    assert model._n_updates == 40
    for name, value in model.critic.state_dict().items():
        assert not th.equal(value, critic_before[name]), name
    assert any(not th.equal(value, actor_before[name]) for name, value in model.actor.state_dict().items())
    assert "train/q_policy" not in model.logger.name_to_value  # no policy rows offline, no NaN logged


def test_callbacks_see_every_update_and_can_stop(pendulum_demos, small_kwargs):
    model = LSIQ("MlpPolicy", "Pendulum-v1", demonstrations=pendulum_demos, **small_kwargs)
    callback = CountCalls()
    model.learn_offline(100, callback=callback, log_interval=0)
    assert callback.n_calls == 25 and model._n_updates == 25


def test_behaviour_cloning_objective_trains_the_actor_only(pendulum_demos, small_kwargs):
    model = LSIQ("MlpPolicy", "Pendulum-v1", demonstrations=pendulum_demos, seed=0, actor_learning_rate=1e-3, **small_kwargs)
    critic_before = copy.deepcopy(model.critic.state_dict())
    obs = th.as_tensor(pendulum_demos.observations[:256])
    expert_actions = th.as_tensor(model.policy.scale_action(pendulum_demos.actions[:256]))
    error_before = (model.actor(obs, deterministic=True) - expert_actions).abs().mean()
    model.learn_offline(300, objective="bc", log_interval=0)
    for name, value in model.critic.state_dict().items():
        assert th.equal(value, critic_before[name]), name
    error_after = (model.actor(obs, deterministic=True) - expert_actions).abs().mean()
    assert error_after < 0.7 * error_before


def test_offline_option_errors(pendulum_demos, small_kwargs):
    model = LSIQ("MlpPolicy", "Pendulum-v1", demonstrations=pendulum_demos, **small_kwargs)
    with pytest.raises(ValueError, match="Unknown objective='dagger'; valid values: 'iq', 'bc'"):
        model.learn_offline(10, objective="dagger")
    with pytest.raises(ValueError, match=r"Unknown policy_term \(offline\)='value'"):
        model.learn_offline(10, policy_term="value")
    with pytest.raises(ValueError, match=r"Unknown value \(offline\)='max'; valid values: 'policy', 'soft_max'"):
        model.learn_offline(10, value="max")
    with pytest.raises(ValueError, match="value_samples must be >= 1"):
        model.learn_offline(10, value="soft_max", value_samples=0)
    with pytest.raises(ValueError, match="Unknown offline_value='max'"):
        LSIQ("MlpPolicy", "Pendulum-v1", demonstrations=pendulum_demos, offline_objective="iq", offline_value="max")
    state_only = LSIQ("MlpPolicy", "Pendulum-v1", demonstrations=pendulum_demos.without_actions(), expert_actions="idm")
    with pytest.raises(ValueError, match="learn_offline cannot use expert_actions='idm'"):
        state_only.learn_offline(10)


def test_offline_from_observations_with_policy_labels(pendulum_demos, small_kwargs):
    model = IQLearn("MlpPolicy", "Pendulum-v1", demonstrations=pendulum_demos.without_actions(), expert_actions="policy",
                    **small_kwargs)  # fmt: skip
    model.learn_offline(20, log_interval=0)
    assert model._n_updates == 20


@pytest.mark.parametrize("objective", ["iq", "bc"])
def test_offline_objective_makes_learn_train_offline(objective, pendulum_demos, small_kwargs):
    """rl-zoo3 only calls learn(): with offline_objective set, learn(n) is n offline updates with its callbacks."""
    model = LSIQ("MlpPolicy", "Pendulum-v1", demonstrations=pendulum_demos, offline_objective=objective, **small_kwargs)
    callback = CountCalls()
    model.learn(20, callback=callback)
    assert model.replay_buffer.size() == 0 and model._n_updates == 20 and callback.n_calls == 20
    assert model.num_timesteps == 20
    with pytest.raises(ValueError, match="offline_objective"):
        LSIQ("MlpPolicy", "Pendulum-v1", demonstrations=pendulum_demos, offline_objective="cql")


def test_soft_max_value_estimates_the_log_integral(pendulum_demos, small_kwargs):
    """V(s) = alpha log int_{-1}^{1} exp(Q(s, a) / alpha) da for a known Q(s, a) = -k (a - a0)^2 (per critic: k differs),
    against the integral by quadrature; many samples, so the importance-sampling error is small."""
    model = LSIQ("MlpPolicy", "Pendulum-v1", demonstrations=pendulum_demos, ent_coef=0.5, **small_kwargs)
    a0, curvatures = 0.3, (2.0, 6.0)

    def known_critic(obs: th.Tensor, actions: th.Tensor) -> tuple[th.Tensor, ...]:
        return tuple(-k * (actions - a0).pow(2) + 0.0 * obs[:, :1] for k in curvatures)

    model.critic = known_critic  # type: ignore[assignment]
    th.manual_seed(0)
    states = th.as_tensor(pendulum_demos.observations[:3])
    value = model._soft_max_value(states, n_action_samples=20_000)
    assert value.shape == (3, 2)
    grid = np.linspace(-1.0, 1.0, 200_001)
    for column, k in enumerate(curvatures):
        integral = np.trapezoid(np.exp(-k * (grid - a0) ** 2 / 0.5), grid)
        expected = 0.5 * math.log(integral)
        np.testing.assert_allclose(value[:, column].numpy(), expected, atol=0.02)


def test_soft_max_value_gradient_reaches_the_critic_only(pendulum_demos, small_kwargs):
    """The gradient of V(s) reaches every critic parameter (the contrastive push-down) and no actor parameter."""
    model = LSIQ("MlpPolicy", "Pendulum-v1", demonstrations=pendulum_demos, **small_kwargs)
    states = th.as_tensor(pendulum_demos.observations[:8])
    model._soft_max_value(states, n_action_samples=4).sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.critic.parameters())
    assert all(p.grad is None for p in model.actor.parameters())
