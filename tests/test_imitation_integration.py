"""imitation pipelines: the trainer classes, every demonstration type imitation hands out, the recovered RewardNet."""

import gymnasium as gym
import numpy as np
import pytest
from stable_baselines3.common.vec_env import DummyVecEnv

pytest.importorskip("imitation")
from imitation.algorithms import base as imitation_base
from imitation.data import rollout, serialize, types
from imitation.data.wrappers import RolloutInfoWrapper
from imitation.rewards.reward_nets import RewardNet
from imitation.rewards.reward_wrapper import RewardVecEnvWrapper
from imitation.util import logger as imitation_logger

from sb3_lsiq import LSIQ, IQLearn
from sb3_lsiq.integrations.imitation import ImplicitAdvantageRewardNet, ImplicitRewardNet, IQLearnTrainer, LSIQTrainer

pytestmark = pytest.mark.stack_smoke
FAST = dict(learning_starts=64, batch_size=32, buffer_size=5_000, policy_kwargs=dict(net_arch=[32, 32]))


def pendulum_venv(n_envs=1):
    return DummyVecEnv([lambda: RolloutInfoWrapper(gym.make("Pendulum-v1"))] * n_envs)


@pytest.fixture(scope="module")
def expert_rollouts():
    """Real imitation rollouts (a weak LSIQ policy stands in for the expert: only the data types matter)."""
    model = LSIQ("MlpPolicy", "Pendulum-v1", demonstrations="sb3_lsiq:Pendulum-v1", seed=0, **FAST)
    rng = np.random.default_rng(0)
    with_infos = rollout.rollout(model, pendulum_venv(), rollout.make_sample_until(min_episodes=2), rng=rng,
                                 exclude_infos=False)  # fmt: skip
    without_infos = rollout.rollout(model, pendulum_venv(), rollout.make_sample_until(min_episodes=2), rng=rng)
    return with_infos, without_infos


@pytest.mark.parametrize("trainer_class", [LSIQTrainer, IQLearnTrainer])
def test_trainer_contract(trainer_class, expert_rollouts, tmp_path):
    trajectories, _ = expert_rollouts
    custom_logger = imitation_logger.configure(str(tmp_path), ["csv"])
    trainer = trainer_class(venv=pendulum_venv(), demonstrations=trajectories, custom_logger=custom_logger,
                            rl_kwargs=dict(FAST, verbose=0), rng=np.random.default_rng(1))  # fmt: skip
    assert isinstance(trainer, imitation_base.DemonstrationAlgorithm)
    assert isinstance(trainer.rl_algo, LSIQ if trainer_class is LSIQTrainer else IQLearn)
    assert trainer.rl_algo.expert_buffer.n_transitions == 400
    trainer.train(total_timesteps=900)
    trainer.train(total_timesteps=100)  # continues, as imitation's trainers do
    assert trainer.rl_algo.num_timesteps == 1000
    assert trainer.policy is trainer.rl_algo.policy
    action, _ = trainer.policy.predict(np.zeros(3, dtype=np.float32), deterministic=True)
    assert action.shape == (1,)
    header = (tmp_path / "progress.csv").read_text().splitlines()[0].split(",")
    assert {"train/critic_loss", "train/q_expert", "train/reward_policy"} <= set(header)  # the custom logger is used


def test_rng_seeds_the_algorithm_reproducibly(expert_rollouts):
    trajectories, _ = expert_rollouts
    params = []
    for _ in range(2):
        trainer = LSIQTrainer(venv=pendulum_venv(), demonstrations=trajectories, rl_kwargs=FAST, rng=np.random.default_rng(7))
        trainer.train(total_timesteps=200)
        params.append(np.concatenate([p.detach().numpy().ravel() for p in trainer.policy.parameters()]))
    np.testing.assert_array_equal(params[0], params[1])


def test_set_demonstrations_accepts_every_type_imitation_hands_out(expert_rollouts, tmp_path):
    with_infos, without_infos = expert_rollouts
    trainer = LSIQTrainer(venv=pendulum_venv(), demonstrations=None, rl_kwargs=FAST)
    transitions = rollout.flatten_trajectories(with_infos)
    serialize.save(tmp_path / "demos", with_infos)
    sources = {
        "trajectories with infos": with_infos,
        "transitions": transitions,
        "transition mapping": dict(
            obs=transitions.obs,
            acts=transitions.acts,
            next_obs=transitions.next_obs,
            dones=transitions.dones,
            infos=transitions.infos,
        ),
        "data loader batches": imitation_base.make_data_loader(transitions, batch_size=50),
        "serialize folder": tmp_path / "demos",
        "lazy serialize.load sequence": serialize.load(tmp_path / "demos"),
    }
    for name, source in sources.items():
        trainer.set_demonstrations(source)
        buffer = trainer.rl_algo.expert_buffer
        assert buffer is not None and buffer.n_transitions == 400, name
        # Pendulum episodes end by time limit only: nothing may be absorbing
        assert not buffer.dones.any(), name

    # without infos the documented length rule applies, with a warning
    with pytest.warns(UserWarning, match="carry no terminated/truncated information"):
        trainer.set_demonstrations(without_infos)
    assert not trainer.rl_algo.expert_buffer.dones.any()

    with pytest.raises(ValueError, match="no next_obs"):
        minimal = types.TransitionsMinimal(obs=transitions.obs, acts=transitions.acts, infos=transitions.infos)
        trainer.set_demonstrations(minimal)


def test_seals_fixed_horizon_episodes_are_all_truncations():
    pytest.importorskip("seals")
    pytest.importorskip("mujoco")
    venv = DummyVecEnv([lambda: RolloutInfoWrapper(gym.make("seals/Hopper-v1", max_episode_steps=50))])
    model = LSIQ("MlpPolicy", venv, demonstrations=None, **FAST)
    trajectories = rollout.rollout(model, venv, rollout.make_sample_until(min_episodes=2), rng=np.random.default_rng(0),
                                   exclude_infos=False)  # fmt: skip
    assert all(len(t) == 50 and t.terminal for t in trajectories)  # imitation calls every end "terminal"
    trainer = LSIQTrainer(venv=venv, demonstrations=trajectories, rl_kwargs=FAST)
    assert trainer.rl_algo.expert_buffer.n_transitions == 100 and not trainer.rl_algo.expert_buffer.dones.any()


def test_reward_net_equals_predict_reward_and_wraps_a_venv(expert_rollouts):
    trajectories, _ = expert_rollouts
    trainer = LSIQTrainer(venv=pendulum_venv(), demonstrations=trajectories, rl_kwargs=FAST)
    trainer.train(total_timesteps=300)
    reward_net = trainer.reward_net()
    assert isinstance(reward_net, RewardNet) and isinstance(reward_net, ImplicitRewardNet)
    transitions = rollout.flatten_trajectories(trajectories)
    dones = np.zeros(len(transitions), dtype=bool)
    dones[::7] = True  # exercise the absorbing branch too
    expected = trainer.rl_algo.predict_reward(transitions.obs, transitions.acts, transitions.next_obs, dones)
    got = reward_net.predict(transitions.obs, transitions.acts, transitions.next_obs, dones)
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6)
    assert not np.allclose(expected[::7], trainer.rl_algo.predict_reward(
        transitions.obs, transitions.acts, transitions.next_obs, np.zeros_like(dones))[::7])  # fmt: skip
    # use_done=False ignores the flags (for envs whose episodes only end by truncation)
    no_done = ImplicitRewardNet(trainer.rl_algo, use_done=False)
    np.testing.assert_allclose(no_done.predict(transitions.obs, transitions.acts, transitions.next_obs, dones),
                               trainer.rl_algo.predict_reward(transitions.obs, transitions.acts, transitions.next_obs,
                                                              np.zeros_like(dones)), rtol=1e-6, atol=1e-6)  # fmt: skip

    wrapped = RewardVecEnvWrapper(pendulum_venv(), reward_fn=reward_net.predict_processed)
    wrapped.reset()
    _, rewards, _, _ = wrapped.step(np.zeros((1, 1), dtype=np.float32))
    assert rewards.shape == (1,) and np.isfinite(rewards).all()


def test_advantage_reward_net_equals_predict_advantage_and_wraps_a_venv(expert_rollouts):
    trajectories, _ = expert_rollouts
    trainer = IQLearnTrainer(venv=pendulum_venv(), demonstrations=trajectories, rl_kwargs=FAST)
    trainer.train(total_timesteps=300)
    reward_net = trainer.advantage_reward_net(n_action_samples=32, seed=3)
    assert isinstance(reward_net, RewardNet) and isinstance(reward_net, ImplicitAdvantageRewardNet)
    transitions = rollout.flatten_trajectories(trajectories)
    advantage = trainer.rl_algo.predict_advantage(transitions.obs, transitions.acts, n_action_samples=32, seed=3)
    expected = (1.0 - trainer.rl_algo.gamma) * advantage  # the default scale brings A to a per-step reward's size
    dones = np.ones(len(transitions), dtype=bool)  # not used: A(s, a) needs neither s' nor the flag
    got = reward_net.predict(transitions.obs, transitions.acts, transitions.next_obs, dones)
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6)
    assert not np.allclose(got, trainer.reward_net().predict(transitions.obs, transitions.acts, transitions.next_obs, dones))

    unscaled = ImplicitAdvantageRewardNet(trainer.rl_algo, scale=1.0, n_action_samples=32, seed=3)
    np.testing.assert_allclose(unscaled.predict(transitions.obs, transitions.acts, transitions.next_obs, dones), advantage,
                               rtol=1e-6, atol=1e-6)  # fmt: skip
    with pytest.raises(ValueError, match="scale must be positive"):
        ImplicitAdvantageRewardNet(trainer.rl_algo, scale=-1.0)

    wrapped = RewardVecEnvWrapper(pendulum_venv(), reward_fn=reward_net.predict_processed)
    wrapped.reset()
    _, rewards, _, _ = wrapped.step(np.full((1, 1), 2.0, dtype=np.float32))
    assert rewards.shape == (1,) and np.isfinite(rewards).all()


def test_trainer_rejects_demonstrations_inside_rl_kwargs():
    with pytest.raises(ValueError, match="not inside rl_kwargs"):
        LSIQTrainer(venv=pendulum_venv(), demonstrations=None, rl_kwargs={"demonstrations": "x.npz"})
