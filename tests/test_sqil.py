"""SQIL as an SB3-native algorithm of the package: its loss by hand, terminated vs truncated, save/load, learning."""

import numpy as np
import pytest
import torch as th

from sb3_lsiq import SQIL
from sb3_lsiq.common.losses import IQBatch, sqil_critic_loss


def test_sqil_loss_by_hand():
    # rows 0-1 policy (reward 0), rows 2-3 expert (reward 1); y already holds gamma (1 - d) V_target(s')
    batch = IQBatch(
        q=th.tensor([[1.0], [2.0], [3.0], [0.0]]),
        v=th.tensor([[0.5], [0.5], [1.0], [1.0]]),
        target=th.tensor([[0.5], [1.0], [1.0], [0.0]]),
        done=th.tensor([[0.0], [0.0], [0.0], [1.0]]),
        n_policy=2,
    )
    terms = sqil_critic_loss(batch)
    expert = 0.5 * ((3.0 - 2.0) ** 2 + (0.0 - 1.0) ** 2) / 2  # Q_E -> 1 + y
    policy = 0.5 * ((1.0 - 0.5) ** 2 + (2.0 - 1.0) ** 2) / 2  # Q_pi -> 0 + y
    assert terms.expert_term.item() == pytest.approx(expert)
    assert terms.policy_term.item() == pytest.approx(policy)
    assert terms.loss.item() == pytest.approx(expert + policy)
    value = sqil_critic_loss(batch, policy_term="value").policy_term.item()
    assert value == pytest.approx(0.5 * ((0.0) ** 2 + (-0.5) ** 2 + 0.0**2 + 1.0**2) / 4)
    value_policy = sqil_critic_loss(batch, policy_term="value_policy").policy_term.item()
    assert value_policy == pytest.approx(0.5 * (0.0 + 0.25) / 2)


def test_time_limit_truncations_bootstrap_and_terminations_do_not(small_kwargs):
    """The expert buffer keeps the termination flag only for true terminations: imitation's SQIL marks every
    time-out as terminal, here a truncated last step still bootstraps (done = 0)."""
    n = 300
    rng = np.random.default_rng(0)
    demos = {
        "obs": rng.normal(size=(n, 3)).astype(np.float32),
        "acts": rng.uniform(-2, 2, size=(n, 1)).astype(np.float32),
        "next_obs": rng.normal(size=(n, 3)).astype(np.float32),
        "terminated": (np.arange(n) % 100) == 49,
        "truncated": (np.arange(n) % 100) == 99,
    }
    model = SQIL("MlpPolicy", "Pendulum-v1", demonstrations=demos, **small_kwargs)
    model.learn(100)
    dones = model.expert_buffer.dones.reshape(-1).numpy()
    assert dones.sum() == 3 and np.all(dones[49::100] == 1) and np.all(dones[99::100] == 0)


def test_sqil_trains_saves_and_loads(pendulum_demos, small_kwargs, tmp_path):
    model = SQIL("MlpPolicy", "Pendulum-v1", demonstrations=pendulum_demos, seed=0, **small_kwargs)
    assert model.ent_coef == "auto" and model.log_ent_coef is not None  # SAC's learned temperature by default
    model.learn(300)
    obs = pendulum_demos.observations[:20]
    model.save(tmp_path / "sqil")
    loaded = SQIL.load(tmp_path / "sqil")
    np.testing.assert_array_equal(loaded.predict(obs, deterministic=True)[0], model.predict(obs, deterministic=True)[0])
    assert loaded.policy_term == "q_old_policy"


def test_sqil_errors(pendulum_demos):
    with pytest.raises(ValueError, match="Unknown policy_term='v0'; valid values: 'q_old_policy', 'value', 'value_policy'"):
        SQIL("MlpPolicy", "Pendulum-v1", demonstrations=pendulum_demos, policy_term="v0")
    model = SQIL("MlpPolicy", "Pendulum-v1", demonstrations=pendulum_demos)
    with pytest.raises(ValueError, match="SQIL has no offline form"):
        model.learn_offline(10)
