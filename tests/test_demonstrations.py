"""Demonstration conversion for every supported input kind, and the terminated-versus-truncated rule."""

import warnings

import numpy as np
import pytest

from sb3_lsiq import Demonstrations, load_demonstrations

types = pytest.importorskip("imitation.data.types")
pytestmark = pytest.mark.stack_smoke  # also run on imitation's pinned stack

OBS_DIM, ACT_DIM = 3, 1


def make_trajectory(length, terminal=True, truncated=None, rng=None, with_rew=False, infos=True):
    """A synthetic imitation trajectory; ``truncated`` is recorded in the last info when not None."""
    rng = rng or np.random.default_rng(0)
    obs = rng.normal(size=(length + 1, OBS_DIM)).astype(np.float32)
    acts = rng.uniform(-2, 2, size=(length, ACT_DIM)).astype(np.float32)
    info_list = None
    if infos:
        info_list = [{} for _ in range(length)]
        if truncated is not None:
            info_list[-1] = {"TimeLimit.truncated": truncated}
        info_list = np.array(info_list, dtype=object)
    if with_rew:
        return types.TrajectoryWithRew(
            obs=obs, acts=acts, infos=info_list, terminal=terminal, rews=np.ones(length, np.float32)
        )
    return types.Trajectory(obs=obs, acts=acts, infos=info_list, terminal=terminal)


def test_trajectories_with_recorded_truncation_need_no_guess():
    trajs = [make_trajectory(5, truncated=False), make_trajectory(7, truncated=True)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no guessing, so no warning
        demos = load_demonstrations(trajs, max_episode_steps=7)
    assert demos.n_transitions == 12 and demos.n_episodes == 2
    np.testing.assert_array_equal(np.flatnonzero(demos.episode_ends), [4, 11])
    np.testing.assert_array_equal(np.flatnonzero(demos.terminated), [4])  # the time-limit cut is not absorbing
    np.testing.assert_array_equal(demos.observations[:5], trajs[0].obs[:-1])
    np.testing.assert_array_equal(demos.next_observations[:5], trajs[0].obs[1:])
    np.testing.assert_array_equal(demos.actions[5:], trajs[1].acts)
    assert demos.observations.dtype == np.float32 and demos.observations.flags.c_contiguous


def test_unlabelled_ends_follow_the_length_rule_with_a_warning():
    trajs = [make_trajectory(5, infos=False), make_trajectory(10, infos=False)]
    with pytest.warns(UserWarning, match="2 demonstration episode end"):
        demos = load_demonstrations(trajs, max_episode_steps=10)
    np.testing.assert_array_equal(np.flatnonzero(demos.terminated), [4])  # length 10 = time limit: truncated
    with pytest.warns(UserWarning, match="no time limit is known"):
        demos = load_demonstrations(trajs)
    np.testing.assert_array_equal(np.flatnonzero(demos.terminated), [4, 14])


@pytest.mark.parametrize(("rule", "expected"), [("terminated", [4, 14]), ("truncated", [])])
def test_explicit_episode_end_rule_overrides_everything(rule, expected):
    trajs = [make_trajectory(5, truncated=True), make_trajectory(10, infos=False)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        demos = load_demonstrations(trajs, episode_end=rule, max_episode_steps=10)
    np.testing.assert_array_equal(np.flatnonzero(demos.terminated), expected)
    np.testing.assert_array_equal(np.flatnonzero(demos.episode_ends), [4, 14])


def test_non_terminal_trajectory_is_never_absorbing():
    demos = load_demonstrations([make_trajectory(4, terminal=False)], episode_end="terminated")
    assert not demos.terminated.any() and not demos.episode_ends.any()
    assert demos.n_episodes == 1


def test_trajectories_with_rewards_give_episode_returns():
    demos = load_demonstrations(
        [make_trajectory(3, truncated=True, with_rew=True), make_trajectory(6, truncated=True, with_rew=True)]
    )
    np.testing.assert_allclose(demos.episode_returns, [3.0, 6.0])


def test_flattened_transitions_keep_the_truncation_info():
    rollout = pytest.importorskip("imitation.data.rollout")
    trajs = [make_trajectory(5, truncated=False), make_trajectory(7, truncated=True)]
    transitions = rollout.flatten_trajectories(trajs)
    assert transitions.dones.sum() == 2  # imitation marks both ends as done: the trap
    demos = load_demonstrations(transitions)
    np.testing.assert_array_equal(np.flatnonzero(demos.terminated), [4])
    np.testing.assert_array_equal(np.flatnonzero(demos.episode_ends), [4, 11])


def test_transitions_without_infos_use_episode_lengths():
    rollout = pytest.importorskip("imitation.data.rollout")
    transitions = rollout.flatten_trajectories([make_trajectory(5, infos=False), make_trajectory(8, infos=False)])
    with pytest.warns(UserWarning):
        demos = load_demonstrations(transitions, max_episode_steps=8)
    np.testing.assert_array_equal(np.flatnonzero(demos.terminated), [4])


def test_transition_mapping_and_copy_of_read_only_arrays():
    rollout = pytest.importorskip("imitation.data.rollout")
    transitions = rollout.flatten_trajectories([make_trajectory(5, truncated=True)])
    mapping = {"obs": transitions.obs, "acts": transitions.acts, "next_obs": transitions.next_obs, "dones": transitions.dones,
               "infos": transitions.infos}  # fmt: skip
    demos = load_demonstrations(mapping)
    assert not demos.terminated.any()
    demos.observations[0, 0] = 123.0  # our arrays are writable copies, imitation's stay untouched
    assert transitions.obs[0, 0] != 123.0


def test_native_npz_round_trip(tmp_path):
    trajs = [make_trajectory(5, truncated=False, with_rew=True), make_trajectory(7, truncated=True, with_rew=True)]
    demos = load_demonstrations(trajs)
    path = Demonstrations(**{**demos.__dict__, "metadata": {"env_id": "X-v0"}}).save(tmp_path / "demo.npz")
    loaded = load_demonstrations(path)
    for name in ("observations", "actions", "next_observations", "terminated", "episode_ends", "episode_returns"):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(demos, name))
    assert loaded.metadata["env_id"] == "X-v0"
    assert load_demonstrations(str(path)).n_transitions == 12  # str paths work too


def test_native_npz_without_actions(tmp_path):
    demos = load_demonstrations([make_trajectory(5, truncated=False)]).without_actions()
    loaded = load_demonstrations(demos.save(tmp_path / "states_only.npz"))
    assert loaded.actions is None and loaded.n_transitions == 5


def test_reference_npz_format(tmp_path):
    rng = np.random.default_rng(1)
    n = 6
    path = tmp_path / "reference.npz"
    np.savez(path, states=rng.normal(size=(n, OBS_DIM)), actions=rng.uniform(-1, 1, (n, ACT_DIM)),
             next_states=rng.normal(size=(n, OBS_DIM)), absorbing=np.array([0, 0, 1, 0, 0, 0]),
             episode_starts=np.array([1, 0, 0, 1, 0, 0]))  # fmt: skip
    demos = load_demonstrations(path)
    np.testing.assert_array_equal(np.flatnonzero(demos.terminated), [2])
    np.testing.assert_array_equal(np.flatnonzero(demos.episode_ends), [2, 5])
    assert demos.actions.dtype == np.float32


def test_reference_mapping_with_last_flags():
    n = 4
    data = {"states": np.zeros((n, OBS_DIM)), "next_states": np.zeros((n, OBS_DIM)), "actions": np.zeros((n, ACT_DIM)),
            "absorbing": np.zeros(n), "last": np.array([0, 1, 0, 1])}  # fmt: skip
    demos = load_demonstrations(data)
    assert demos.n_episodes == 2 and not demos.terminated.any()


def test_imitation_hf_format_on_disk_and_lazy_sequence(tmp_path):
    serialize = pytest.importorskip("imitation.data.serialize")
    trajs = [make_trajectory(5, truncated=False, with_rew=True), make_trajectory(7, truncated=True, with_rew=True)]
    serialize.save(tmp_path / "hf", trajs)
    from_disk = load_demonstrations(tmp_path / "hf")
    np.testing.assert_array_equal(np.flatnonzero(from_disk.terminated), [4])
    np.testing.assert_allclose(from_disk.observations[5:], trajs[1].obs[:-1])
    np.testing.assert_allclose(from_disk.episode_returns, [5.0, 7.0])
    lazy = serialize.load(tmp_path / "hf")  # imitation's TrajectoryDatasetSequence
    from_lazy = load_demonstrations(lazy)
    np.testing.assert_array_equal(from_lazy.actions, from_disk.actions)
    np.testing.assert_array_equal(from_lazy.terminated, from_disk.terminated)


def test_real_rollouts_with_infos_are_all_truncations_on_pendulum():
    """rollout.rollout(..., exclude_infos=False) on a time-limited env: every end is a truncation."""
    rollout = pytest.importorskip("imitation.data.rollout")
    from imitation.data.wrappers import RolloutInfoWrapper
    from stable_baselines3.common.env_util import make_vec_env

    venv = make_vec_env("Pendulum-v1", n_envs=2, seed=0, wrapper_class=RolloutInfoWrapper)
    rng = np.random.default_rng(0)
    trajs = rollout.rollout(None, venv, rollout.make_sample_until(min_episodes=2), rng=rng, exclude_infos=False)
    assert all(t.terminal for t in trajs)  # imitation says "terminal"...
    demos = load_demonstrations(trajs)
    assert not demos.terminated.any()  # ...but none was a termination
    assert demos.n_episodes == len(trajs)


def test_select_episodes():
    demos = load_demonstrations([make_trajectory(n, truncated=True, with_rew=True) for n in (3, 4, 5)])
    first_two = demos.select_episodes(2)
    assert first_two.n_transitions == 7 and first_two.n_episodes == 2
    np.testing.assert_allclose(first_two.episode_returns, [3.0, 4.0])
    assert load_demonstrations(demos, n_episodes=1).n_transitions == 3
    with pytest.raises(ValueError, match="n_episodes=4 is out of range"):
        demos.select_episodes(4)


# -------------------------------------------------------------------------------------------------------------
# Bad input: each error names the field and the fix
# -------------------------------------------------------------------------------------------------------------


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="Demonstration file not found"):
        load_demonstrations(tmp_path / "nope.npz")


def test_empty_demonstrations():
    with pytest.raises(ValueError, match="empty"):
        load_demonstrations([])
    with pytest.raises(ValueError, match="empty"):
        load_demonstrations(
            {"obs": np.zeros((0, 3)), "next_obs": np.zeros((0, 3)), "terminated": np.zeros(0), "truncated": np.zeros(0)}
        )


def test_nan_values_are_rejected():
    traj = make_trajectory(5, truncated=True)
    traj.obs[2, 1] = np.nan
    with pytest.raises(ValueError, match=r"observations holds NaN or inf values in 1 row\(s\) \(first: row 2\)"):
        load_demonstrations([traj])
    traj = make_trajectory(5, truncated=True)
    traj.acts[3, 0] = np.inf
    with pytest.raises(ValueError, match=r"Demonstrations\.actions holds NaN or inf"):
        load_demonstrations([traj])


def test_unknown_keys_and_types_and_rules():
    with pytest.raises(ValueError, match="Unrecognised demonstration keys"):
        load_demonstrations({"foo": np.zeros(3)})
    with pytest.raises(TypeError, match="Unsupported demonstrations of type int"):
        load_demonstrations(42)
    with pytest.raises(ValueError, match="episode_end='maybe' is not one of"):
        load_demonstrations([make_trajectory(3)], episode_end="maybe")


def test_transitions_without_next_obs_are_rejected():
    minimal = types.TransitionsMinimal(obs=np.zeros((3, 3)), acts=np.zeros((3, 1)), infos=np.array([{}] * 3))
    with pytest.raises((ValueError, TypeError)):
        load_demonstrations(minimal)


def test_iterables_of_batches_and_of_trajectories():
    rollout = pytest.importorskip("imitation.data.rollout")
    trajs = [make_trajectory(5, truncated=False), make_trajectory(7, terminal=False)]
    from_generator = load_demonstrations(traj for traj in trajs)
    assert from_generator.n_transitions == 12 and from_generator.terminated.sum() == 1
    transitions = rollout.flatten_trajectories(trajs)
    fields = ("obs", "acts", "next_obs", "dones", "infos")
    batches = [{key: getattr(transitions, key)[i : i + 4] for key in fields} for i in range(0, 12, 4)]
    from_batches = load_demonstrations(iter(batches))
    np.testing.assert_array_equal(from_batches.observations, from_generator.observations)
    np.testing.assert_array_equal(from_batches.terminated, from_generator.terminated)
    with pytest.raises(TypeError, match="an iterable whose items are int"):
        load_demonstrations(iter([1, 2]))
    with pytest.raises(ValueError, match="yielded nothing"):
        load_demonstrations(iter([]))
