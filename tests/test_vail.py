"""VAIL on imitation's adversarial trainer: the network and a short run (its losses are in test_losses.py)."""

import gymnasium as gym
import numpy as np
import pytest
import torch as th
from stable_baselines3 import PPO
from stable_baselines3.common.vec_env import DummyVecEnv

pytest.importorskip("imitation")
from imitation.data import rollout
from imitation.data.wrappers import RolloutInfoWrapper

from sb3_lsiq.common.losses import kl_to_standard_normal
from sb3_lsiq.integrations.vail import VAIL, VariationalRewardNet

pytestmark = pytest.mark.stack_smoke


def test_variational_net_samples_when_training_and_uses_the_mean_otherwise():
    env = gym.make("Pendulum-v1")
    net = VariationalRewardNet(env.observation_space, env.action_space, use_action=False, encoder_arch=[16], latent_dim=4)
    obs, act, done = th.randn(8, 3), th.randn(8, 1), th.zeros(8)
    net.train()
    first, second = net(obs, act, obs, done), net(obs, act, obs, done)
    assert first.shape == (8,) and not th.equal(first, second) and net.last_kl.item() >= 0
    net.eval()
    th.testing.assert_close(net(obs, act, obs, done), net(obs, act, obs, done))
    with pytest.raises(ValueError, match="needs at least one input"):
        VariationalRewardNet(env.observation_space, env.action_space, use_state=False, use_action=False)


def test_vail_trains_with_the_bottleneck():
    venv = DummyVecEnv([lambda: RolloutInfoWrapper(gym.make("Pendulum-v1"))])
    rng = np.random.default_rng(0)
    generator = PPO("MlpPolicy", venv, n_steps=256, batch_size=64, n_epochs=1, seed=0)
    trajectories = rollout.rollout(generator, venv, rollout.make_sample_until(min_episodes=2), rng=rng)
    net = VariationalRewardNet(venv.observation_space, venv.action_space, encoder_arch=[32], latent_dim=8)
    vail = VAIL(demonstrations=trajectories, demo_batch_size=64, venv=venv, gen_algo=generator, reward_net=net,
                information_constraint=0.5, beta_init=0.1, beta_learning_rate=0.05, allow_variable_horizon=True)  # fmt: skip
    encoder_before = [p.clone() for p in net.encoder.parameters()]
    vail.train(512)
    assert vail._disc_step > 0
    assert vail.beta != 0.1  # the dual update ran after each discriminator step
    assert all(not th.equal(old, new) for old, new in zip(encoder_before, net.encoder.parameters()))
    with pytest.raises(TypeError, match="VAIL needs a VariationalRewardNet"):
        from imitation.rewards.reward_nets import BasicRewardNet

        VAIL(demonstrations=trajectories, demo_batch_size=64, venv=venv, gen_algo=generator,
             reward_net=BasicRewardNet(venv.observation_space, venv.action_space))  # fmt: skip


def test_the_bottleneck_gradient_joins_the_discriminator_step():
    """logits_expert_is_high back-propagates beta (KL - I_c), scaled like imitation's minibatch loss: exactly that
    gradient lands on the encoder, none on the decoder (the KL does not depend on it)."""
    venv = DummyVecEnv([lambda: RolloutInfoWrapper(gym.make("Pendulum-v1"))])
    generator = PPO("MlpPolicy", venv, n_steps=64, batch_size=64, seed=0)
    trajectories = rollout.rollout(generator, venv, rollout.make_sample_until(min_episodes=1), rng=np.random.default_rng(0))
    net = VariationalRewardNet(venv.observation_space, venv.action_space, encoder_arch=[16], latent_dim=4)
    vail = VAIL(demonstrations=trajectories, demo_batch_size=32, demo_minibatch_size=16, venv=venv, gen_algo=generator,
                reward_net=net, beta_init=2.0, allow_variable_horizon=True)  # fmt: skip
    obs, act, done = th.randn(32, 3), th.rand(32, 1), th.zeros(32)
    net.train()
    net.zero_grad()
    vail.logits_expert_is_high(obs, act, obs, done)
    got = [p.grad.clone() for p in net.encoder.parameters()]
    assert all(p.grad is None or th.count_nonzero(p.grad) == 0 for p in net.decoder.parameters())
    net.zero_grad()
    code = net.encoder(th.cat([obs, act], dim=1))
    kl = kl_to_standard_normal(code[:, :4], code[:, 4:].clamp(-10.0, 5.0))
    (0.5 * 2.0 * kl).backward()  # minibatch 16 of batch 32, beta 2
    for g, p in zip(got, net.encoder.parameters()):
        th.testing.assert_close(g, p.grad)
