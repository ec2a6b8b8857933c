"""LSIQ-H and LSIQ-HC: the entropy critic's targets by hand, the reference's defects staying fixed, training, save/load."""

import math

import pytest
import torch as th

from sb3_lsiq import LSIQ
from sb3_lsiq.common.losses import (
    entropy_critic_target,
    hc_target_bounds,
    regularization_reward,
    running_entropy_max,
)

MODES = ["entropy", "entropy_regularizer"]


def test_running_entropy_max_by_hand():
    nan = th.tensor(float("nan"))
    assert running_entropy_max(nan, th.tensor(3.0)).item() == 3.0  # the first batch sets it
    assert running_entropy_max(th.tensor(1.0), th.tensor(2.0)).item() == pytest.approx(0.99 * 1 + 0.01 * 2)
    assert running_entropy_max(th.tensor(1.0), th.tensor(0.0)).item() == pytest.approx(1 - 1e-4)


def test_regularization_reward_by_hand():
    # c = 0.5 (rewards clipped to +-2), gamma = 0.9, Q bounds +-20
    q_target = th.tensor([[1.0], [5.0], [3.0], [0.0]])
    next_v = th.tensor([[0.0], [0.0], [50.0], [100.0]])
    done = th.tensor([[0.0], [0.0], [1.0], [0.0]])
    reward = regularization_reward(q_target, next_v, done, reg_mult=0.5, gamma=0.9, q_min=-20.0, q_max=20.0)
    # r = 1 -> 0.5; r = 5 clipped to 2 -> 2; absorbing r = 3 (V' ignored) -> (1 - 0.9) 0.5 9;
    # r = 0 - 0.9 * clip(100) = -18, clipped to -2 -> 2
    th.testing.assert_close(reward, th.tensor([[0.5], [2.0], [0.45], [2.0]]))


def test_entropy_critic_target_by_hand():
    next_h, entropy = th.tensor([[1.0], [2.0]]), th.tensor([[0.5], [0.5]])
    done = th.tensor([[0.0], [1.0]])
    target = entropy_critic_target(next_h, entropy, done, gamma=0.9, ent_coef=0.1, bounds=(-1e4, 1e3))
    th.testing.assert_close(target, th.tensor([[0.9 * 1.05], [0.0]]))  # per row: no batch-averaged mask
    with_reward = entropy_critic_target(next_h, entropy, done, 0.9, 0.1, (-1e4, 1e3), extra_reward=th.tensor([[1.0], [2.0]]))
    th.testing.assert_close(with_reward, th.tensor([[0.9 * 1.05 + 1.0], [2.0]]))
    assert entropy_critic_target(th.full((1, 1), 1e6), th.zeros(1, 1), th.zeros(1, 1), 0.9, 0.1, (-5.0, 5.0)).item() == 5.0
    low, high = hc_target_bounds(0.5, 0.99)
    assert (low, high) == (-1000.0, pytest.approx(4.0 / 0.01 + 100.0))


@pytest.mark.parametrize("mode", MODES)
def test_entropy_critic_trains_and_fixes_the_reference_defects(mode, pendulum_demos, small_kwargs):
    model = LSIQ("MlpPolicy", "Pendulum-v1", demonstrations=pendulum_demos, entropy_critic=mode, seed=0, **small_kwargs)
    critic = model.entropy_critic
    # the target network starts as a copy of H (the reference left it at its own random initialisation)
    for online, target in zip(critic.net.parameters(), critic.target.parameters()):
        assert th.equal(online, target)
    assert critic.loss == ("huber" if mode == "entropy_regularizer" else "mse")
    before = [p.clone() for p in critic.net.parameters()]
    model.learn(300)
    assert math.isfinite(critic.policy_entropy_max.item())
    assert all(not th.equal(old, new) for old, new in zip(before, critic.net.parameters()))  # H learned


def test_entropy_critic_regresses_each_row_to_its_own_target(pendulum_demos, small_kwargs):
    """With a zero learning rate the returned loss must equal the per-row MSE (the reference's (N,) vs (N, 1)
    broadcast regressed each row to the batch-averaged termination mask)."""
    model = LSIQ("MlpPolicy", "Pendulum-v1", demonstrations=pendulum_demos, entropy_critic="entropy", seed=0,
                 entropy_critic_kwargs={"clip_expert_entropy": False}, **small_kwargs)  # fmt: skip
    critic = model.entropy_critic
    for group in critic.optimizer.param_groups:
        group["lr"] = 0.0
    critic.tau = 0.0
    n = 8
    obs, next_obs = th.randn(n, 3), th.randn(n, 3)
    actions, next_actions = th.rand(n, 1) * 2 - 1, th.rand(n, 1) * 2 - 1
    next_log_prob = th.randn(n, 1)
    dones = th.tensor([[1.0], [0.0]] * (n // 2))
    loss = critic.update(obs, actions, next_obs, next_actions, next_log_prob, dones, n_policy=n, ent_coef=th.tensor(0.1))
    with th.no_grad():
        next_h = critic.target(next_obs, next_actions)[0]
        expected_target = (1 - dones) * model.gamma * (next_h - 0.1 * next_log_prob)
        expected = (critic.net(obs, actions)[0] - expected_target).pow(2).mean()
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)


def test_expert_entropy_is_lower_clipped_to_the_policy_running_max(pendulum_demos, small_kwargs):
    model = LSIQ("MlpPolicy", "Pendulum-v1", demonstrations=pendulum_demos, entropy_critic="entropy", **small_kwargs)
    critic = model.entropy_critic
    next_log_prob = th.tensor([[-1.0], [-3.0], [5.0], [-0.5]])  # policy entropies 1, 3; expert -5, 0.5
    entropy = critic.next_entropy(next_log_prob, n_policy=2)
    th.testing.assert_close(entropy, th.tensor([[1.0], [3.0], [3.0], [3.0]]))


@pytest.mark.parametrize("mode", MODES)
def test_entropy_critic_is_saved_and_loaded(mode, pendulum_demos, small_kwargs, tmp_path):
    model = LSIQ("MlpPolicy", "Pendulum-v1", demonstrations=pendulum_demos, entropy_critic=mode, **small_kwargs)
    model.learn(300)
    model.save(tmp_path / "model")
    loaded = LSIQ.load(tmp_path / "model")
    assert loaded.entropy_critic.mode == mode
    th.testing.assert_close(loaded.entropy_critic.policy_entropy_max, model.entropy_critic.policy_entropy_max)
    obs, actions = th.randn(5, 3), th.rand(5, 1)
    th.testing.assert_close(loaded.entropy_critic.value(obs, actions), model.entropy_critic.value(obs, actions))


def test_entropy_critic_option_errors(pendulum_demos):
    with pytest.raises(ValueError, match="Unknown entropy_critic='H'; valid values: 'off', 'entropy', 'entropy_regularizer'"):
        LSIQ("MlpPolicy", "Pendulum-v1", demonstrations=pendulum_demos, entropy_critic="H")
    with pytest.raises(ValueError, match="entropy_critic_kwargs only apply with entropy_critic="):
        LSIQ("MlpPolicy", "Pendulum-v1", entropy_critic_kwargs={"tau": 0.01})
    with pytest.raises(ValueError, match=r"Unknown entropy_critic_kwargs \['H_tau'\]"):
        LSIQ("MlpPolicy", "Pendulum-v1", entropy_critic="entropy_regularizer", entropy_critic_kwargs={"H_tau": 0.01})
    with pytest.raises(ValueError, match="Unknown entropy critic loss='l1'"):
        LSIQ("MlpPolicy", "Pendulum-v1", entropy_critic="entropy", entropy_critic_kwargs={"loss": "l1"})


@pytest.mark.parametrize("mode", MODES)
def test_learned_entropy_coefficient_with_an_entropy_critic_warns(mode, pendulum_demos, recwarn):
    with pytest.warns(UserWarning, match=rf"entropy_critic='{mode}' with a learned entropy coefficient .* pass a float"):
        LSIQ("MlpPolicy", "Pendulum-v1", demonstrations=pendulum_demos, entropy_critic=mode, ent_coef="auto")
    recwarn.clear()
    LSIQ("MlpPolicy", "Pendulum-v1", demonstrations=pendulum_demos, entropy_critic=mode, ent_coef=0.1)
    assert not [w for w in recwarn if "learned entropy coefficient" in str(w.message)]
