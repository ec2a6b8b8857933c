"""Expert observations that are a subset or another layout of the agent's (ObservationMap)."""

import json
from dataclasses import replace

import numpy as np
import pytest
import torch as th
import yaml

from sb3_lsiq import LSIQ, SQIL, IQLearn, ObservationMap
from sb3_lsiq.common.observation_map import ObservationSubsetExtractor, as_observation_map

ALGOS = [LSIQ, IQLearn, SQIL]


def pendulum_without_velocity(demos):
    """Pendulum demos that observe (cos, sin) only: the expert columns are agent entries 0 and 1."""
    return replace(demos, observations=demos.observations[:, :2], next_observations=demos.next_observations[:, :2])


def test_lift_places_columns_and_fills_the_rest():
    obs_map = ObservationMap([2, 0], agent_dim=4, fill=[9.0, 8.0, 7.0, 6.0])
    lifted = obs_map.lift(np.array([[1.0, 2.0], [3.0, 4.0]]))
    np.testing.assert_array_equal(lifted, [[2.0, 8.0, 1.0, 6.0], [4.0, 8.0, 3.0, 6.0]])
    assert lifted.dtype == np.float32 and not obs_map.is_relayout
    assert ObservationMap([1, 0], agent_dim=2).is_relayout


def test_from_names_matches_positions():
    obs_map = ObservationMap.from_names(["qvel", "qpos"], ["qpos", "goal", "qvel"], fill=-1.0)
    assert obs_map.shared_indices == [2, 0] and obs_map.agent_dim == 3
    np.testing.assert_array_equal(obs_map.lift(np.array([[5.0, 6.0]])), [[6.0, -1.0, 5.0]])
    with pytest.raises(ValueError, match=r"\['force'\] are not in the agent.*drop=\[\.\.\.\]"):
        ObservationMap.from_names(["force"], ["qpos"])


def test_dropped_expert_columns_are_left_out_explicitly():
    # the expert also observed a force (column 1) the agent's environment leaves out
    obs_map = ObservationMap([1, None, 0], agent_dim=2)
    np.testing.assert_array_equal(obs_map.lift(np.array([[5.0, 99.0, 6.0]])), [[6.0, 5.0]])
    assert obs_map.expert_dim == 3 and obs_map.shared_indices == [1, 0] and obs_map.is_relayout
    by_name = ObservationMap.from_names(["qvel", "force", "qpos"], ["qpos", "qvel"], drop=["force"])
    assert by_name == obs_map
    # numpy integers as given by np.arange: the provenance written into lifted demonstrations stays JSON
    assert ObservationMap([np.int64(1), None, np.int64(0)], agent_dim=2).column_indices == [1, None, 0]
    assert json.dumps(ObservationMap(np.arange(2), agent_dim=2).column_indices) == "[0, 1]"
    partial = ObservationMap([None, 2], agent_dim=3, fill=-1.0)  # a dropped column and unobserved agent entries
    np.testing.assert_array_equal(partial.lift(np.array([[7.0, 8.0]])), [[-1.0, -1.0, 8.0]])
    assert not partial.is_relayout and partial.shared_indices == [2]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(agent_indices=[0, 3], agent_dim=3), r"\[3\] are outside \[0, 3\)"),
        (dict(agent_indices=[1, 1], agent_dim=3), "repeated entries"),
        (dict(agent_indices=[], agent_dim=3), "with at least one integer"),
        (dict(agent_indices=[None, None], agent_dim=3), "with at least one integer"),
        (dict(agent_indices=[0], agent_dim=3, fill=[0.0, 1.0]), r"fill must be a scalar or have shape \(3,\)"),
    ],
)
def test_bad_map_raises_clear_error(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ObservationMap(**kwargs)


def test_lift_rejects_wrong_expert_width():
    with pytest.raises(ValueError, match="have 3 entries but expert_observation_map maps 2"):
        ObservationMap([0, 1], agent_dim=3).lift(np.zeros((4, 3)))


def test_subset_extractor_selects_in_order():
    from gymnasium import spaces

    extractor = ObservationSubsetExtractor(spaces.Box(-1, 1, (4,)), [3, 1])
    obs = th.arange(8.0).reshape(2, 4)
    th.testing.assert_close(extractor(obs), th.tensor([[3.0, 1.0], [7.0, 5.0]]))
    assert extractor.features_dim == 2 and "indices" not in extractor.state_dict()


@pytest.mark.parametrize("algo", ALGOS)
def test_subset_demos_train_and_the_critic_ignores_unobserved_entries(algo, pendulum_demos, small_kwargs, tmp_path):
    obs_map = ObservationMap([0, 1], agent_dim=3, fill=0.0)
    demos = pendulum_without_velocity(pendulum_demos)
    model = algo("MlpPolicy", "Pendulum-v1", demonstrations=demos, expert_observation_map=obs_map, seed=0, **small_kwargs)
    model.learn(200)
    # The expert buffer holds agent-shaped rows, with the unobserved velocity filled in
    assert model.expert_buffer.observations.shape[1] == 3
    assert th.all(model.expert_buffer.observations[:, 2] == 0.0)
    th.testing.assert_close(model.expert_buffer.observations[:, :2], th.as_tensor(demos.observations))
    # The critic (and its target) see (cos, sin) only: changing the velocity entry cannot change Q
    for critic in (model.critic, model.critic_target):
        assert critic.features_extractor.features_dim == 2
    obs, actions = th.randn(16, 3), th.rand(16, 1) * 2 - 1
    shifted = obs.clone()
    shifted[:, 2] += 5.0
    th.testing.assert_close(model.critic(obs, actions)[0], model.critic(shifted, actions)[0])
    # ... while the actor sees all of it
    assert model.actor.features_dim == 3
    # save/load keeps the critic's view, and reproduces predictions and Q values
    model.save(tmp_path / "model.zip")
    loaded = algo.load(tmp_path / "model.zip", demonstrations=demos)
    assert loaded.critic.features_extractor.features_dim == 2
    query = np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32)
    np.testing.assert_allclose(loaded.predict(query, deterministic=True)[0], model.predict(query, deterministic=True)[0])
    th.testing.assert_close(loaded.critic(obs, actions)[0], model.critic(obs, actions)[0])


def test_subset_with_inverse_dynamics_labels(pendulum_demos, small_kwargs):
    demos = pendulum_without_velocity(pendulum_demos).without_actions()
    model = LSIQ(
        "MlpPolicy", "Pendulum-v1", demonstrations=demos, expert_observation_map=ObservationMap([0, 1], 3),
        expert_actions="idm", seed=0, **small_kwargs,
    )  # fmt: skip
    model.learn(200)
    assert model.inverse_dynamics.net[0].in_features == 4  # (cos, sin) of s and of s'
    labels = model._expert_actions(model.replay_buffer.sample(8), model.expert_buffer.sample(8))
    assert labels.shape == (8, 1)


def test_relayout_permutes_back_and_keeps_the_full_critic(pendulum_demos, small_kwargs):
    permutation = [2, 0, 1]  # expert column j is agent entry permutation[j]
    shuffled = replace(
        pendulum_demos,
        observations=pendulum_demos.observations[:, permutation],
        next_observations=pendulum_demos.next_observations[:, permutation],
    )
    obs_map = ObservationMap(permutation, agent_dim=3)
    model = LSIQ("MlpPolicy", "Pendulum-v1", demonstrations=shuffled, expert_observation_map=obs_map, **small_kwargs)
    model.learn(100)
    assert model.critic.features_extractor.features_dim == 3
    np.testing.assert_array_equal(obs_map.lift(shuffled.observations), pendulum_demos.observations)
    th.testing.assert_close(model.expert_buffer.observations, th.as_tensor(pendulum_demos.observations))


def test_map_that_does_not_fit_the_env_names_the_problem(pendulum_demos, small_kwargs):
    with pytest.raises(ValueError, match="agent_dim=4 but the env's observations have 3 entries"):
        LSIQ("MlpPolicy", "Pendulum-v1", demonstrations=pendulum_demos, expert_observation_map=ObservationMap([0], 4))
    with pytest.raises(ValueError, match=r"must be an sb3_lsiq\.ObservationMap or a mapping of its fields"):
        LSIQ("MlpPolicy", "Pendulum-v1", demonstrations=pendulum_demos, expert_observation_map=[0, 1])
    with pytest.raises(ValueError, match="needs share_features_extractor=False"):
        LSIQ(
            "MlpPolicy", "Pendulum-v1", demonstrations=pendulum_demos, expert_observation_map=ObservationMap([0, 1], 3),
            policy_kwargs=dict(share_features_extractor=True),
        )  # fmt: skip


def test_subset_demos_without_a_map_say_how_to_fix_it(pendulum_demos, small_kwargs):
    model = LSIQ("MlpPolicy", "Pendulum-v1", demonstrations=pendulum_without_velocity(pendulum_demos), **small_kwargs)
    with pytest.raises(ValueError, match="expert_observation_map"):
        model.learn(100)


def test_a_mapping_of_the_fields_as_a_yaml_file_holds_them_builds_the_map():
    entry = yaml.safe_load("expert_observation_map: {agent_indices: [2, 0], agent_dim: 4, fill: -1.0}")
    obs_map = as_observation_map(entry["expert_observation_map"])
    assert obs_map == ObservationMap([2, 0], agent_dim=4, fill=-1.0)
    np.testing.assert_array_equal(obs_map.lift(np.array([[1.0, 2.0]])), [[2.0, -1.0, 1.0, -1.0]])
    by_name = as_observation_map({"expert_names": ["qvel"], "agent_names": ["qpos", "qvel"]})
    assert by_name.shared_indices == [1] and by_name.agent_dim == 2
    assert as_observation_map(None) is None and as_observation_map(obs_map) is obs_map


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ({"agent_indices": [0]}, r"missing keys \['agent_dim'\]"),
        ({"agent_indices": [0], "agent_dim": 3, "fil": 0.0}, r"unknown keys \['fil'\]"),
        ({"expert_names": ["x"]}, r"missing keys \['agent_names'\]; give expert_names, agent_names"),
        ({"agent_indices": [0, 5], "agent_dim": 3}, r"\[5\] are outside \[0, 3\)"),
    ],
)
def test_a_bad_mapping_names_the_bad_key(mapping, message):
    with pytest.raises(ValueError, match=message):
        as_observation_map(mapping)


def test_the_mapping_form_trains_like_the_map_and_survives_save_load(pendulum_demos, small_kwargs, tmp_path):
    demos = pendulum_without_velocity(pendulum_demos)
    model = LSIQ(
        "MlpPolicy", "Pendulum-v1", demonstrations=demos, expert_observation_map={"agent_indices": [0, 1], "agent_dim": 3},
        seed=0, **small_kwargs,
    )  # fmt: skip
    model.learn(200)
    assert model.expert_observation_map == ObservationMap([0, 1], agent_dim=3)
    assert model.critic.features_extractor.features_dim == 2
    model.save(tmp_path / "model.zip")
    loaded = LSIQ.load(tmp_path / "model.zip", demonstrations=demos)
    assert loaded.expert_observation_map == model.expert_observation_map


def test_an_expert_column_the_agent_lacks_is_dropped_in_training(pendulum_demos, small_kwargs):
    # demos with a 4th column the Pendulum agent does not observe; the map drops it, the critic keeps its full view
    extra = np.ones((pendulum_demos.n_transitions, 1), dtype=np.float32)
    wider = replace(
        pendulum_demos,
        observations=np.hstack([pendulum_demos.observations, extra]),  # (N, 4)
        next_observations=np.hstack([pendulum_demos.next_observations, extra]),  # (N, 4)
    )
    model = LSIQ(
        "MlpPolicy", "Pendulum-v1", demonstrations=wider,
        expert_observation_map={"agent_indices": [0, 1, 2, None], "agent_dim": 3}, seed=0, **small_kwargs,
    )  # fmt: skip
    model.learn(200)
    th.testing.assert_close(model.expert_buffer.observations, th.as_tensor(pendulum_demos.observations))
    assert model.critic.features_extractor.features_dim == 3
    # numpy indices: the lifted demonstrations' provenance still saves (metadata is JSON)
    lifted = ObservationMap([*np.arange(3), None], agent_dim=3).lift_demonstrations(wider)
    assert json.loads(json.dumps(lifted.metadata))["observation_map"]["agent_indices"] == [0, 1, 2, None]
    with pytest.raises(ValueError, match="have 4 entries but expert_observation_map maps 3"):
        LSIQ("MlpPolicy", "Pendulum-v1", demonstrations=wider, expert_observation_map=ObservationMap([0, 1, 2], 3)).learn(1)
