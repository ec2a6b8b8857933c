"""Behaviour of LSIQ and IQLearn as SB3 algorithms: training, options, logging, the reward, VecEnvs."""

import csv

import gymnasium as gym
import numpy as np
import pytest
import torch as th
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.logger import configure
from stable_baselines3.common.vec_env import VecNormalize

from sb3_lsiq import LSIQ, IQLearn, load_demonstrations
from sb3_lsiq.common.expert_buffer import ExpertBuffer, env_time_limit, normalize_observations
from sb3_lsiq.common.losses import q_bounds
from tests.conftest import random_demonstrations

ALGOS = [LSIQ, IQLearn]


@pytest.mark.stack_smoke
@pytest.mark.parametrize("algo", ALGOS)
def test_learn_and_predict_shapes(algo, pendulum_demos, small_kwargs):
    model = algo("MlpPolicy", "Pendulum-v1", demonstrations=pendulum_demos, **small_kwargs)
    model.learn(200)
    assert model._n_updates > 0
    obs = np.zeros((5, 3), dtype=np.float32)
    actions, _ = model.predict(obs, deterministic=True)
    assert actions.shape == (5, 1) and np.all(np.abs(actions) <= 2.0)


@pytest.mark.parametrize(
    "options",
    [
        dict(loss_type="least_squares", expert_term="bootstrap", policy_term="value_policy", q_loss="huber"),
        dict(loss_type="least_squares", policy_term="q_old_policy", treat_absorbing=False, target_clipping=False),
        dict(loss_type="iq", expert_term="fix", policy_term="v0", regularizer="expert"),
        dict(loss_type="iq", expert_term="bootstrap", policy_term="value_q_old_policy"),
        dict(ent_coef="auto_0.1", policy_kwargs=dict(net_arch=[32, 32], n_critics=2)),
        dict(q_max=50.0),
    ],
)
def test_lsiq_options_train(options, pendulum_demos, small_kwargs):
    kwargs = {**small_kwargs, **options}
    model = LSIQ("MlpPolicy", "Pendulum-v1", demonstrations=pendulum_demos, **kwargs)
    model.learn(150)
    assert all(th.isfinite(p).all() for p in model.policy.parameters())


@pytest.mark.parametrize(
    "options",
    [
        dict(policy_term="v0", regularizer="expert", gradient_penalty=1.0),
        dict(policy_term="value_expert", treat_absorbing=True, policy_kwargs=dict(net_arch=[32, 32], n_critics=2)),
        dict(ent_coef="auto", regularizer="off"),
    ],
)
def test_iqlearn_options_train(options, pendulum_demos, small_kwargs):
    model = IQLearn("MlpPolicy", "Pendulum-v1", demonstrations=pendulum_demos, **{**small_kwargs, **options})
    model.learn(150)
    assert all(th.isfinite(p).all() for p in model.policy.parameters())


def test_q_bounds_are_derived_from_c_and_gamma(pendulum_demos):
    model = LSIQ("MlpPolicy", "Pendulum-v1", demonstrations=pendulum_demos, reg_mult=2.0, gamma=0.95)
    assert model._target_clip_bounds() == pytest.approx(q_bounds(2.0, 0.95))
    assert q_bounds(2.0, 0.95) == pytest.approx((-10.0, 10.0))
    assert LSIQ("MlpPolicy", "Pendulum-v1", q_max=5.0)._target_clip_bounds() == (-5.0, 5.0)
    assert LSIQ("MlpPolicy", "Pendulum-v1", target_clipping=False)._target_clip_bounds() == (None, None)


def test_separate_learning_rates_and_schedules(pendulum_demos, small_kwargs):
    model = LSIQ("MlpPolicy", "Pendulum-v1", demonstrations=pendulum_demos, learning_rate=1e-3,
                 actor_learning_rate=lambda progress: 1e-4 * (0.5 + 0.5 * progress), **small_kwargs)  # fmt: skip
    assert model.critic.optimizer.param_groups[0]["lr"] == pytest.approx(1e-3)
    assert model.actor.optimizer.param_groups[0]["lr"] == pytest.approx(1e-4)
    model.learn(200)
    assert model.critic.optimizer.param_groups[0]["lr"] == pytest.approx(1e-3)
    assert 5e-5 <= model.actor.optimizer.param_groups[0]["lr"] < 1e-4  # the actor's schedule decayed


def test_actor_warmup_freezes_the_actor(pendulum_demos, small_kwargs):
    model = LSIQ("MlpPolicy", "Pendulum-v1", demonstrations=pendulum_demos, actor_learning_starts=10_000, **small_kwargs)
    before = [p.detach().clone() for p in model.actor.parameters()]
    critic_before = [p.detach().clone() for p in model.critic.parameters()]
    model.learn(200)
    assert all(th.equal(a, b) for a, b in zip(before, model.actor.parameters()))
    assert not all(th.equal(a, b) for a, b in zip(critic_before, model.critic.parameters()))


def test_expert_actions_are_scaled_like_the_replay_buffer(pendulum_demos, small_kwargs):
    model = LSIQ("MlpPolicy", "Pendulum-v1", demonstrations=pendulum_demos, **small_kwargs)
    model.learn(100)
    expected = model.policy.scale_action(pendulum_demos.actions)
    np.testing.assert_allclose(model.expert_buffer.actions.cpu().numpy(), expected, atol=1e-6)
    assert model.expert_buffer.actions.abs().max() <= 1.0


def test_expert_batches_hold_distinct_transitions():
    demos = load_demonstrations(random_demonstrations(n=1000))
    env = gym.make("Pendulum-v1")
    buffer = ExpertBuffer(demos, env.observation_space, env.action_space)
    for _ in range(3):  # three passes over the demonstrations
        seen = []
        for _ in range(10):
            batch = buffer.sample(100)
            assert len(th.unique(batch.observations, dim=0)) == 100  # no repeat inside a batch
            seen.append(batch.observations)
        assert len(th.unique(th.cat(seen), dim=0)) == 1000  # one pass visits every transition once


@pytest.mark.stack_smoke
def test_vec_normalize_expert_observations_match_the_agent(pendulum_demos, small_kwargs):
    venv = VecNormalize(make_vec_env("Pendulum-v1", n_envs=2, seed=0), norm_obs=True, norm_reward=False)
    model = LSIQ("MlpPolicy", venv, demonstrations=pendulum_demos, **small_kwargs)
    model.learn(300)
    assert model._vec_normalize_env is venv
    raw = pendulum_demos.observations[:50]
    ours = normalize_observations(th.as_tensor(raw), venv).numpy()
    np.testing.assert_allclose(ours, venv.normalize_obs(raw), rtol=1e-5, atol=1e-5)
    # and the sampled expert rows are normalised with the live statistics
    th.manual_seed(0)
    sample = model.expert_buffer.sample(32, venv)
    assert sample.observations.abs().max() <= venv.clip_obs
    assert not th.allclose(sample.observations, model.expert_buffer.observations[: len(sample.observations)])


def test_multi_env_training(pendulum_demos, small_kwargs):
    model = IQLearn("MlpPolicy", make_vec_env("Pendulum-v1", n_envs=3, seed=1), demonstrations=pendulum_demos, **small_kwargs)
    model.learn(300)
    assert model.num_timesteps >= 300 and model._n_updates > 0


def test_logs_hold_the_imitation_diagnostics(tmp_path, pendulum_demos, small_kwargs):
    model = LSIQ("MlpPolicy", "Pendulum-v1", demonstrations=pendulum_demos, **small_kwargs)
    model.set_logger(configure(str(tmp_path), ["csv"]))
    model.learn(600, log_interval=1)
    with open(tmp_path / "progress.csv") as file:
        rows = list(csv.DictReader(file))
    keys = set(rows[-1])
    for key in ("train/critic_loss", "train/actor_loss", "train/ent_coef", "train/n_updates", "train/learning_rate",
                "train/actor_learning_rate", "train/q_expert", "train/q_policy", "train/reward_expert",
                "train/reward_policy", "train/chi2_regularizer", "train/regularizer", "train/expert_loss",
                "train/policy_loss", "train/entropy"):  # fmt: skip
        assert key in keys, key
    assert float(rows[-1]["train/n_updates"]) > 0
    assert np.isfinite(float(rows[-1]["train/q_expert"]))


def test_absorbing_q_is_logged_only_when_absorbing_rows_exist(pendulum_demos, small_kwargs):
    model = LSIQ("MlpPolicy", "Pendulum-v1", demonstrations=pendulum_demos, **small_kwargs)
    model.learn(100)
    recorded = model._train_stats.flush(model.logger)
    assert "train/q_absorbing" not in recorded  # Pendulum never terminates: no NaN is logged
    model._train_stats.add_ratio("train/q_absorbing", th.tensor(6.0), th.tensor(2.0))
    assert model._train_stats.flush(model.logger)["train/q_absorbing"] == pytest.approx(3.0)


@pytest.mark.stack_smoke
@pytest.mark.parametrize("algo", ALGOS)
def test_predict_reward(algo, pendulum_demos, small_kwargs):
    model = algo("MlpPolicy", "Pendulum-v1", demonstrations=pendulum_demos, **small_kwargs)
    model.learn(300)
    d = pendulum_demos
    rng_state = th.get_rng_state()
    reward = model.predict_reward(d.observations[:20], d.actions[:20], d.next_observations[:20], np.zeros(20))
    assert reward.shape == (20,) and reward.dtype == np.float32
    assert th.equal(rng_state, th.get_rng_state())  # the training RNG is untouched
    again = model.predict_reward(d.observations[:20], d.actions[:20], d.next_observations[:20], np.zeros(20))
    np.testing.assert_array_equal(reward, again)
    # absorbing transitions: r = Q(s, a) exactly
    absorbing = model.predict_reward(d.observations[:20], d.actions[:20], d.next_observations[:20], np.ones(20))
    with th.no_grad():
        obs = th.as_tensor(d.observations[:20])
        act = th.as_tensor(model.policy.scale_action(d.actions[:20]))
        q = th.cat(model.critic(obs, act), dim=1).min(dim=1)[0].numpy()
    np.testing.assert_allclose(absorbing, q, rtol=1e-5, atol=1e-5)
    # and r = Q(s, a) - gamma V(s') with V(s') estimated by the policy
    assert not np.allclose(reward, absorbing)
    with pytest.raises(ValueError, match="disagree in length"):
        model.predict_reward(d.observations[:3], d.actions[:2], d.next_observations[:3], np.zeros(3))


@pytest.mark.stack_smoke
@pytest.mark.parametrize("algo", ALGOS)
def test_predict_advantage_and_predict_greedy_against_a_grid_maximum(algo, pendulum_demos, small_kwargs):
    # seeded: over seeds 0-7 the sampled maximum falls short of the grid's by up to 1.7% of Q's spread (LSIQ seed 5)
    model = algo("MlpPolicy", "Pendulum-v1", demonstrations=pendulum_demos, seed=0, **small_kwargs)
    model.learn(300)
    obs, actions = pendulum_demos.observations[:20], pendulum_demos.actions[:20]
    rng_state = th.get_rng_state()
    advantage = model.predict_advantage(obs, actions, n_action_samples=256)
    assert advantage.shape == (20,) and advantage.dtype == np.float32
    assert th.equal(rng_state, th.get_rng_state())  # the training RNG is untouched
    np.testing.assert_array_equal(advantage, model.predict_advantage(obs, actions, n_action_samples=256))
    # A(s, a) = Q(s, a) - max_a' Q(s, a'), the maximum here over 2001 evenly spaced actions of Pendulum's [-2, 2]
    grid = np.linspace(-2.0, 2.0, 2001, dtype=np.float32).reshape(-1, 1)  # (G, 1), env scale

    def q_min(states: np.ndarray, env_actions: np.ndarray) -> np.ndarray:
        scaled = th.as_tensor(model.policy.scale_action(env_actions))
        with th.no_grad():
            return th.cat(model.critic(th.as_tensor(states), scaled), dim=1).min(dim=1)[0].numpy()

    q = q_min(obs, actions)  # (20,)
    q_grid = q_min(np.repeat(obs, len(grid), axis=0), np.tile(grid, (len(obs), 1))).reshape(len(obs), len(grid))
    # the sampled maximum is at most the grid's (up to the grid's resolution), within a few percent of Q's spread
    spread = q_grid.max(axis=1) - q_grid.min(axis=1)  # (20,)
    assert (spread > 0).all()
    exact = q - q_grid.max(axis=1)
    assert (advantage >= exact - 1e-3 * spread).all() and (advantage <= exact + 0.03 * spread).all()
    # the grid's own greedy actions score ~0: the maximum of A over actions is 0 at every state
    greedy = grid[q_grid.argmax(axis=1)]
    greedy_advantage = model.predict_advantage(obs, greedy, n_action_samples=256)
    assert (greedy_advantage >= -1e-3 * spread).all() and (greedy_advantage <= 0.03 * spread).all()
    # predict_greedy: the argmax over predict_advantage's candidates (same seed), so its advantage there is 0
    sampled_greedy = model.predict_greedy(obs, n_action_samples=256, seed=5)
    assert sampled_greedy.shape == (20, 1) and sampled_greedy.dtype == np.float32
    assert (np.abs(sampled_greedy) <= 2.0).all()  # the env's action scale
    assert th.equal(rng_state, th.get_rng_state())
    np.testing.assert_array_equal(sampled_greedy, model.predict_greedy(obs, n_action_samples=256, seed=5))
    np.testing.assert_allclose(model.predict_advantage(obs, sampled_greedy, n_action_samples=256, seed=5), 0, atol=1e-4)
    q_sampled_greedy = q_min(obs, sampled_greedy)
    assert (q_sampled_greedy >= q_grid.max(axis=1) - 0.05 * spread).all()  # near the grid's maximum (seeds 0-7: 3.1%)
    assert (q_sampled_greedy >= q_min(obs, grid[np.full(len(obs), 1000)]) - 1e-5).all()  # no worse than a = 0
    # greedy_policy(): the same actions behind SB3's predict, for a batch and for one unbatched observation
    greedy_policy = model.greedy_policy(n_action_samples=256, seed=5)
    batch_actions, state = greedy_policy.predict(obs)
    assert state is None
    np.testing.assert_array_equal(batch_actions, sampled_greedy)
    single_action, _ = greedy_policy.predict(obs[3])
    assert single_action.shape == (1,)
    # (the random candidates are drawn per batch, so a one-row batch is the reference, not row 3 of the 20)
    np.testing.assert_array_equal(single_action, model.predict_greedy(obs[3:4], n_action_samples=256, seed=5)[0])
    with pytest.raises(ValueError, match="observations 3, actions 2"):
        model.predict_advantage(obs[:3], actions[:2])


@pytest.mark.stack_smoke
def test_same_seed_gives_identical_parameters(pendulum_demos, small_kwargs):
    params = []
    for _ in range(2):
        model = LSIQ("MlpPolicy", "Pendulum-v1", demonstrations=pendulum_demos, seed=7, **small_kwargs)
        model.learn(300)
        params.append([p.detach().clone() for p in model.policy.parameters()])
    assert all(th.equal(a, b) for a, b in zip(*params))
    other = LSIQ("MlpPolicy", "Pendulum-v1", demonstrations=pendulum_demos, seed=8, **small_kwargs)
    other.learn(300)
    assert not all(th.equal(a, b) for a, b in zip(params[0], other.policy.parameters()))


def test_gymnasium_env_instance_and_time_limit(pendulum_demos, small_kwargs):
    model = LSIQ("MlpPolicy", gym.make("Pendulum-v1"), demonstrations=pendulum_demos, **small_kwargs)
    assert env_time_limit(model) == 200


@pytest.mark.stack_smoke
@pytest.mark.parametrize(("algo", "extra"), [(LSIQ, {}), (IQLearn, {}), (LSIQ, {"entropy_critic": "entropy"})])
def test_each_loss_moves_only_its_own_network(algo, extra, pendulum_demos, small_kwargs):
    """One update's gradients, recomputed by hand: the critic's is the critic loss's with the sampled actions held
    fixed, the actor's is the actor loss's against the critic before the update (Q(s, a~) serves both). With an
    entropy critic (LSIQ-H), Q is reward-only (no -alpha log pi in V and its target) and the actor maximises Q + H."""
    import copy

    from sb3_lsiq.common.losses import IQBatch, soft_bellman_target

    model = algo("MlpPolicy", "Pendulum-v1", demonstrations=pendulum_demos, seed=0, **small_kwargs, **extra)
    model.learn(200)
    replay, expert = model.replay_buffer.sample(16), model.expert_buffer.sample(16)
    model.replay_buffer.sample = lambda *args, **kwargs: replay
    model.expert_buffer.sample = lambda *args, **kwargs: expert
    actor, critic, critic_target = (copy.deepcopy(m) for m in (model.actor, model.critic, model.critic_target))
    entropy_critic = copy.deepcopy(model.entropy_critic) if model.entropy_critic is not None else None

    th.manual_seed(123)
    model._gradient_step(16, update_actor=True)
    critic_grads = [p.grad.clone() for p in model._critic_params]
    actor_grads = [p.grad.clone() for p in model._actor_params]

    th.manual_seed(123)  # the same draws of a~ (on s) and a' (on s'), in the same order
    obs = th.cat([replay.observations, expert.observations])
    actions = th.cat([replay.actions, expert.actions])
    next_obs = th.cat([replay.next_observations, expert.next_observations])
    dones = th.cat([replay.dones.reshape(-1, 1), expert.dones])
    alpha = model._current_ent_coef()
    sampled, log_prob = actor.action_log_prob(obs)
    log_prob = log_prob.reshape(-1, 1)
    with th.no_grad():
        next_actions, next_log_prob = actor.action_log_prob(next_obs)
        next_q = th.cat(critic_target(next_obs, next_actions), dim=1).min(dim=1, keepdim=True)[0]
        next_v = next_q - (0.0 if entropy_critic else alpha) * next_log_prob.reshape(-1, 1)
        target = soft_bellman_target(next_v, dones, model.gamma, *model._target_clip_bounds())
    q_data = th.cat(critic(obs, actions), dim=1)
    v = th.cat(critic(obs, sampled.detach()), dim=1) - (0.0 if entropy_critic else alpha) * log_prob.detach()
    critic_loss = model._critic_loss(IQBatch(q=q_data, v=v, target=target, done=dones, n_policy=16), obs, actions).loss
    expected_critic = th.autograd.grad(critic_loss, list(critic.parameters()))
    frozen_q = th.cat(critic(obs, sampled), dim=1).min(dim=1, keepdim=True)[0]
    if entropy_critic is not None:
        frozen_q = frozen_q + entropy_critic.value(obs, sampled)
    actor_loss = (alpha * log_prob - frozen_q).mean()
    expected_actor = th.autograd.grad(actor_loss, list(actor.parameters()))

    for got, want in zip(critic_grads, expected_critic):
        th.testing.assert_close(got, want, rtol=1e-4, atol=1e-6)
    for got, want in zip(actor_grads, expected_actor):
        th.testing.assert_close(got, want, rtol=1e-4, atol=1e-6)
