"""Learning from observations: the inverse dynamics model, and LSIQ / IQ-Learn on demonstrations without actions."""

import pytest
import torch as th

from sb3_lsiq import LSIQ, IQLearn, load_demonstrations
from sb3_lsiq.common.inverse_dynamics import GaussianInverseDynamics
from sb3_lsiq.common.losses import squashed_gaussian_nll

ALGOS = [LSIQ, IQLearn]


@pytest.mark.parametrize("inputs", ["pair", "delta"])
def test_idm_learns_known_inverse_dynamics(inputs):
    """s' = s + 0.1 a: after fitting on transitions, the sampled labels recover the actions."""
    th.manual_seed(0)
    idm = GaussianInverseDynamics(3, 2, net_arch=[64, 64], learning_rate=3e-3, inputs=inputs)
    projection = th.randn(2, 3)

    def transitions(n):
        obs, actions = th.randn(n, 3), th.rand(n, 2) * 1.8 - 0.9
        return obs, actions, obs + 0.1 * actions @ projection

    for _ in range(800):
        terms = idm.fit(*transitions(128))
    obs, actions, next_obs = transitions(500)
    labels = idm.sample(obs, next_obs)
    assert labels.shape == (500, 2) and labels.abs().max() <= 1.0
    assert (labels - actions).abs().mean() < 0.1
    assert terms.kl == 0  # the plain Gaussian IDM has no KL term


def test_idm_delta_inputs_feed_the_state_change():
    """inputs='delta': the network sees (s, s' - s), so it equals the pair network on the transformed input."""
    th.manual_seed(0)
    idm = GaussianInverseDynamics(4, 2, net_arch=[8], inputs="delta", observation_indices=[0, 2, 3])
    obs, next_obs = th.randn(5, 4), th.randn(5, 4)
    mean, log_std = idm.distribution(obs, next_obs)
    kept = [0, 2, 3]
    output = idm.net(th.cat([obs[:, kept], next_obs[:, kept] - obs[:, kept]], dim=1))  # (5, 2A)
    th.testing.assert_close(mean, output[:, :2])
    th.testing.assert_close(log_std, output[:, 2:].clamp(-5.0, 2.0))
    pair = GaussianInverseDynamics(4, 2, net_arch=[8], observation_indices=kept)
    pair.net.load_state_dict(idm.net.state_dict())
    assert not th.allclose(pair.distribution(obs, next_obs)[0], mean)  # the default still sees (s, s')


def test_idm_action_clip_bounds_the_targets_of_saturated_actions():
    th.manual_seed(0)
    idm = GaussianInverseDynamics(2, 1, net_arch=[8], action_clip=0.5)
    obs, next_obs, saturated = th.randn(4, 2), th.randn(4, 2), th.ones(4, 1)
    mean, log_std = idm.distribution(obs, next_obs)
    expected = squashed_gaussian_nll(mean, log_std, th.full((4, 1), 0.5))  # a = 1 is read as a = 0.5
    assert idm.loss(obs, saturated, next_obs).nll.item() == pytest.approx(expected.item(), rel=1e-6)


def test_kl_regularised_idm_keeps_expert_labels_near_its_target():
    th.manual_seed(0)
    idm = GaussianInverseDynamics(3, 1, net_arch=[32], kl_coef=1.0, target_update_interval=5)
    obs, actions, next_obs = th.randn(64, 3), th.rand(64, 1) * 2 - 1, th.randn(64, 3)
    expert_obs, expert_next_obs = th.randn(16, 3), th.randn(16, 3)
    first = idm.fit(obs, actions, next_obs, expert_obs, expert_next_obs)
    assert first.kl.item() == pytest.approx(0.0, abs=1e-7)  # the target starts as a copy
    for _ in range(3):
        terms = idm.fit(obs, actions, next_obs, expert_obs, expert_next_obs)
    assert terms.kl > 0 and terms.loss == pytest.approx((terms.nll + terms.kl).item(), rel=1e-5)
    idm.fit(obs, actions, next_obs, expert_obs, expert_next_obs)  # the 5th fit refreshes the target
    for online, target in zip(idm.net.parameters(), idm.target_net.parameters()):
        th.testing.assert_close(online, target)


@pytest.mark.parametrize("algo", ALGOS)
@pytest.mark.parametrize("source", ["idm", "policy"])
def test_train_from_observations_only(algo, source, pendulum_demos, small_kwargs, tmp_path):
    state_only = pendulum_demos.without_actions()
    path = state_only.save(tmp_path / "state_only.npz")  # the native format with actions omitted
    assert load_demonstrations(path).actions is None
    model = algo("MlpPolicy", "Pendulum-v1", demonstrations=path, expert_actions=source, seed=0, **small_kwargs)
    model.learn(300)
    assert model.expert_buffer.actions is None
    assert (model.inverse_dynamics is not None) == (source == "idm")
    labels = model._expert_actions(model.replay_buffer.sample(8), model.expert_buffer.sample(8))
    assert labels.shape == (8, 1) and labels.abs().max() <= 1.0


def test_recorded_actions_are_not_read_when_learning_from_observations(pendulum_demos, small_kwargs):
    model = LSIQ("MlpPolicy", "Pendulum-v1", demonstrations=pendulum_demos, expert_actions="idm", seed=0, **small_kwargs)
    model.learn(200)
    model.expert_buffer.actions = th.full_like(model.expert_buffer.actions, 0.123)  # if read, these would come back
    labels = model._expert_actions(model.replay_buffer.sample(8), model.expert_buffer.sample(8))
    assert not th.any(labels == 0.123)


def test_idm_is_saved_and_loaded(pendulum_demos, small_kwargs, tmp_path):
    kwargs = {**small_kwargs, "idm_kwargs": {"net_arch": [16], "kl_coef": 0.1}}
    model = LSIQ("MlpPolicy", "Pendulum-v1", demonstrations=pendulum_demos.without_actions(), expert_actions="idm", **kwargs)
    model.learn(300)
    model.save(tmp_path / "model")
    loaded = LSIQ.load(tmp_path / "model")
    assert loaded.inverse_dynamics.kl_coef == 0.1
    obs = th.as_tensor(pendulum_demos.observations[:20])
    next_obs = th.as_tensor(pendulum_demos.next_observations[:20])
    for got, want in zip(
        loaded.inverse_dynamics.distribution(obs, next_obs), model.inverse_dynamics.distribution(obs, next_obs)
    ):
        th.testing.assert_close(got, want)
    assert loaded.inverse_dynamics.optimizer.state_dict()["state"]  # Adam's moments came back too


def test_an_idm_saved_without_its_fit_count_still_loads():
    """Models saved before the fit count rode in the state dict have no extra state: they load, counting from 0."""
    idm = GaussianInverseDynamics(2, 1, net_arch=[8])
    idm.n_fits = 7
    state = idm.state_dict()
    assert state.pop("_extra_state") == {"n_fits": 7}
    fresh = GaussianInverseDynamics(2, 1, net_arch=[8])
    fresh.n_fits = 3
    fresh.load_state_dict(state)  # strict, as SB3's load is
    assert fresh.n_fits == 0
    th.testing.assert_close(fresh.net[0].weight, idm.net[0].weight)
    fresh.load_state_dict(idm.state_dict())
    assert fresh.n_fits == 7


def test_state_only_option_errors(pendulum_demos):
    with pytest.raises(ValueError, match="Unknown expert_actions='labels'; valid values: 'demonstrations', 'idm', 'policy'"):
        LSIQ("MlpPolicy", "Pendulum-v1", demonstrations=pendulum_demos, expert_actions="labels")
    with pytest.raises(ValueError, match="idm_kwargs only apply with expert_actions='idm'"):
        LSIQ("MlpPolicy", "Pendulum-v1", demonstrations=pendulum_demos, idm_kwargs={"kl_coef": 1.0})
    with pytest.raises(ValueError, match=r"Unknown idm_kwargs \['hidden'\]; valid keys: action_clip, activation_fn, inputs"):
        IQLearn("MlpPolicy", "Pendulum-v1", demonstrations=pendulum_demos, expert_actions="idm", idm_kwargs={"hidden": 3})
    with pytest.raises(ValueError, match="idm kl_coef must be >= 0"):
        LSIQ("MlpPolicy", "Pendulum-v1", expert_actions="idm", idm_kwargs={"kl_coef": -1.0})
    with pytest.raises(ValueError, match="idm pretrain_fits must be >= 0, got -5"):
        LSIQ("MlpPolicy", "Pendulum-v1", expert_actions="idm", idm_kwargs={"pretrain_fits": -5})
    with pytest.raises(ValueError, match="Unknown idm inputs='diff'; valid values: 'pair', 'delta'"):
        LSIQ("MlpPolicy", "Pendulum-v1", expert_actions="idm", idm_kwargs={"inputs": "diff"})
    with pytest.raises(ValueError, match=r"idm action_clip must be in \(0, 1\), got 1.0"):
        LSIQ("MlpPolicy", "Pendulum-v1", expert_actions="idm", idm_kwargs={"action_clip": 1.0})


def _replay_nll(model, batch) -> float:
    return model.inverse_dynamics.loss(batch.observations, batch.actions, batch.next_observations).nll.item()


def test_idm_pretraining_runs_once_before_the_first_label(pendulum_demos, small_kwargs, tmp_path):
    kwargs = {**small_kwargs, "seed": 0, "demonstrations": pendulum_demos.without_actions(), "expert_actions": "idm"}
    pretrained = LSIQ("MlpPolicy", "Pendulum-v1", idm_kwargs={"net_arch": [32], "pretrain_fits": 300}, **kwargs)
    plain = LSIQ("MlpPolicy", "Pendulum-v1", idm_kwargs={"net_arch": [32]}, **kwargs)
    for model in (pretrained, plain):
        model.learn(small_kwargs["learning_starts"] + 10)  # the first gradient steps
    # 300 pre-training fits at the first gradient step, then one fit per gradient step
    assert pretrained.inverse_dynamics.n_fits == 300 + pretrained._n_updates
    assert plain.inverse_dynamics.n_fits == plain._n_updates
    assert pretrained._n_updates == plain._n_updates > 0
    # the same seed, the same replay data: the pre-trained model explains the agent's actions better (measured: NLL
    # 1.40 against 1.76 after 10 updates)
    batch = pretrained.replay_buffer.sample(256)
    assert _replay_nll(pretrained, batch) < _replay_nll(plain, batch) - 0.2

    # a loaded (resumed) model keeps its fit count and has trained already: it is never pre-trained again
    pretrained.save(tmp_path / "model")
    loaded = LSIQ.load(tmp_path / "model", env=pretrained.get_env(), demonstrations=pendulum_demos.without_actions())
    assert loaded.inverse_dynamics.pretrain_fits == 300 and loaded.inverse_dynamics.n_fits == 300 + loaded._n_updates
    loaded.learn(20, reset_num_timesteps=False)
    assert loaded.inverse_dynamics.n_fits == 300 + loaded._n_updates


def test_idm_labels_use_the_normalised_expert_states(pendulum_demos, small_kwargs):
    """With VecNormalize, the IDM trains on normalised replay states and must label normalised expert states
    (the reference fed it raw expert states)."""
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import VecNormalize

    env = VecNormalize(make_vec_env("Pendulum-v1", n_envs=1, seed=0), norm_reward=False)
    model = LSIQ("MlpPolicy", env, demonstrations=pendulum_demos.without_actions(), expert_actions="idm", **small_kwargs)
    model.learn(300)
    seen = {}
    original = model.inverse_dynamics.sample

    def record(observations, next_observations):
        seen["obs"] = observations
        return original(observations, next_observations)

    model.inverse_dynamics.sample = record
    expert = model.expert_buffer.sample(8, env)
    model._expert_actions(model.replay_buffer.sample(8, env=env), expert)
    th.testing.assert_close(seen["obs"], expert.observations)  # what the critic sees, normalised
    raw = th.as_tensor(pendulum_demos.observations)  # (1000, 3)
    distances = th.cdist(expert.observations, raw).min(dim=1).values
    assert th.all(distances > 1e-3)  # no raw expert state reaches the IDM
