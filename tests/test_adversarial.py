"""GAIL and VAIL on a PPO generator: the discriminator, the reward wrapper, training, save/load and bad input."""

import numpy as np
import pytest
import torch as th
from stable_baselines3.common.env_util import make_vec_env

from sb3_lsiq import GAIL, VAIL
from sb3_lsiq.adversarial import Discriminator
from sb3_lsiq.adversarial.reward_wrapper import DiscriminatorRewardVecEnv
from sb3_lsiq.common.losses import adversarial_reward

FAST = dict(n_steps=128, batch_size=64, n_epochs=2, discriminator_batch_size=64, seed=0)


def test_discriminator_shapes_and_modes():
    th.manual_seed(0)
    plain = Discriminator(3, 1, "state_action", net_arch=[16])
    logits, kl = plain(th.randn(5, 3), th.rand(5, 1))
    assert logits.shape == (5,) and kl is None
    variational = Discriminator(3, 1, "state", net_arch=[16], latent_dim=4)
    obs = th.randn(5, 3)
    logits, kl = variational(obs, None)
    assert logits.shape == (5,) and kl.dim() == 0 and kl >= 0
    # Training mode samples the code; evaluation mode (rewards) uses its mean, so rewards are deterministic
    assert not th.allclose(variational(obs, None).logits, variational(obs, None).logits)
    th.testing.assert_close(variational.reward(obs, None), variational.reward(obs, None))
    assert variational.training  # reward() restores the mode
    variational.eval()
    th.testing.assert_close(variational.reward(obs, None), adversarial_reward(variational(obs, None).logits))
    with pytest.raises(ValueError, match="discriminator inputs='next_state' is not one of"):
        Discriminator(3, 1, "next_state")


def test_reward_wrapper_hands_out_the_discriminator_reward():
    venv = make_vec_env("Pendulum-v1", n_envs=2, seed=0)
    seen = []

    def reward_fn(observations, actions):
        seen.append((observations.copy(), actions.copy()))
        return observations[:, 0] + actions[:, 0]

    wrapped = DiscriminatorRewardVecEnv(venv, reward_fn)
    first = wrapped.reset()
    actions = np.array([[0.5], [-1.0]], dtype=np.float32)
    second, rewards, _, infos = wrapped.step(actions)
    np.testing.assert_allclose(rewards, first[:, 0] + actions[:, 0], rtol=1e-6)  # reward of (s, a), not of s'
    assert all("env_reward" in info for info in infos)
    wrapped.step(actions)
    np.testing.assert_array_equal(seen[1][0], second)  # the next step's state is the last observation


@pytest.mark.parametrize("algo", [GAIL, VAIL])
def test_discriminator_learns_to_tell_expert_from_random(algo, pendulum_demos):
    """Discriminator updates alone (the generator stays random): the expert's and the policy's accuracy rise."""
    model = algo("MlpPolicy", "Pendulum-v1", demonstrations=pendulum_demos, discriminator_learning_rate=1e-3, **FAST)
    model.learn(128)  # fills the rollout buffer with random-policy rows
    for _ in range(30):
        model._train_discriminator()
    values = model.logger.name_to_value
    assert values["discriminator/expert_accuracy"] > 0.8 and values["discriminator/policy_accuracy"] > 0.8
    expert_reward = model.predict_reward(pendulum_demos.observations[:128], pendulum_demos.actions[:128]).mean()
    rollout = model.rollout_buffer  # (n_steps, n_envs, dim) -> (n_steps * n_envs, dim)
    policy_reward = model.predict_reward(rollout.observations.reshape(-1, 3), rollout.actions.reshape(-1, 1)).mean()
    assert expert_reward > policy_reward
    if algo is VAIL:
        assert "discriminator/kl" in values and values["discriminator/beta"] >= 0


@pytest.mark.parametrize("algo", [GAIL, VAIL])
def test_learn_save_load_reproduces_policy_and_reward(algo, pendulum_demos, tmp_path):
    model = algo("MlpPolicy", "Pendulum-v1", demonstrations=pendulum_demos, **FAST)
    model.learn(256)
    assert isinstance(model.get_env(), DiscriminatorRewardVecEnv)  # outermost without VecNormalize
    # Monitor sits inside the reward wrapper: episode returns logged are the task's, not the learned reward's
    assert all(info["r"] < 0 for info in model.ep_info_buffer)
    model.save(tmp_path / "model.zip")
    loaded = algo.load(tmp_path / "model.zip", env=make_vec_env("Pendulum-v1", n_envs=1), demonstrations=pendulum_demos)
    obs = np.random.default_rng(1).normal(size=(6, 3)).astype(np.float32)
    actions = np.random.default_rng(2).uniform(-2, 2, size=(6, 1)).astype(np.float32)
    np.testing.assert_allclose(loaded.predict(obs, deterministic=True)[0], model.predict(obs, deterministic=True)[0])
    np.testing.assert_allclose(loaded.predict_reward(obs, actions), model.predict_reward(obs, actions), rtol=1e-6)
    assert float(loaded.beta) == pytest.approx(float(model.beta))
    assert isinstance(loaded.get_env(), DiscriminatorRewardVecEnv)
    loaded.learn(128)  # continues training


def test_state_only_discriminator_trains_from_demonstrations_without_actions(pendulum_demos):
    model = VAIL(
        "MlpPolicy", "Pendulum-v1", demonstrations=pendulum_demos.without_actions(), discriminator_inputs="state", **FAST
    )
    model.learn(256)
    assert model.expert_buffer.actions is None


def test_bad_input_raises_clear_errors(pendulum_demos):
    with pytest.raises(ValueError, match="demonstrations have no actions"):
        GAIL("MlpPolicy", "Pendulum-v1", demonstrations=pendulum_demos.without_actions(), **FAST).learn(128)
    with pytest.raises(ValueError, match="discriminator_inputs='pixels' is not one of"):
        GAIL("MlpPolicy", "Pendulum-v1", demonstrations=pendulum_demos, discriminator_inputs="pixels")
    with pytest.raises(ValueError, match="GAIL has no bottleneck"):
        GAIL("MlpPolicy", "Pendulum-v1", demonstrations=pendulum_demos, latent_dim=8)
    with pytest.raises(ValueError, match=r"Unknown discriminator_kwargs \['layers'\]"):
        VAIL("MlpPolicy", "Pendulum-v1", demonstrations=pendulum_demos, discriminator_kwargs={"layers": [8]})
    with pytest.raises(ValueError, match="GAIL has no demonstrations"):
        GAIL("MlpPolicy", "Pendulum-v1", **FAST).learn(128)


def test_with_vec_normalize_the_reward_sits_under_it_and_evaluation_syncs(pendulum_demos):
    from stable_baselines3.common.callbacks import EvalCallback
    from stable_baselines3.common.vec_env import VecNormalize

    venv = VecNormalize(make_vec_env("Pendulum-v1", n_envs=2, seed=0))
    model = GAIL("MlpPolicy", venv, demonstrations=pendulum_demos, **FAST)
    assert isinstance(model.get_env(), VecNormalize) and isinstance(model.get_env().venv, DiscriminatorRewardVecEnv)
    eval_env = VecNormalize(make_vec_env("Pendulum-v1", n_envs=1), training=False)
    model.learn(512, callback=EvalCallback(eval_env, eval_freq=128, n_eval_episodes=1))
    # SB3's lock-step sync found the evaluation env's VecNormalize: its statistics are the training env's
    np.testing.assert_allclose(eval_env.obs_rms.mean, model.get_env().obs_rms.mean)
    # The wrapper gets raw observations; the reward normalises them as the discriminator's training rows are
    raw = np.array([[1.0, 0.0, 0.5]], dtype=np.float32)
    action = np.zeros((1, 1), dtype=np.float32)
    normalized = th.as_tensor(model.get_env().normalize_obs(raw))
    expected = model.discriminator.reward(normalized, th.zeros(1, 1) + 0.0).numpy()  # action 0 is mid-range: 0 scaled
    np.testing.assert_allclose(model.predict_reward(raw, action), expected, rtol=1e-5)
