"""The expert pipeline (train -> evaluate -> record -> export) and the packaged datasets."""

import json
import subprocess
import sys

import numpy as np
import pytest

from sb3_lsiq import load_demonstrations
from sb3_lsiq.common.demonstrations import Demonstrations
from sb3_lsiq.data import packaged_dataset_path, packaged_datasets
from sb3_lsiq.experts.pipeline import latest_checkpoint, train_command, trained_steps

EXPERTS = [sys.executable, "-m", "sb3_lsiq.experts"]


def run(command, cwd, check=True):
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=600, check=False)
    if check:
        assert result.returncode == 0, f"{result.stdout[-2000:]}\n{result.stderr[-3000:]}"
    return result


def test_train_command_uses_the_packaged_expert_settings():
    command = train_command("Hopper-v5", extra_args=["-n", "1000"])
    assert command[1:3] == ["-m", "rl_zoo3.train"]
    assert command[command.index("--conf-file") + 1].endswith("experts/sac.yml")
    assert command[command.index("--num-threads") + 1] == "1" and command[-2:] == ["-n", "1000"]
    # an env the packaged file lacks: rl-zoo3's own file for that algorithm is used
    assert "--conf-file" not in train_command("LunarLanderContinuous-v3", algo="tqc")


@pytest.mark.slow
def test_pipeline_on_pendulum_with_a_tiny_budget(tmp_path):
    pytest.importorskip("rl_zoo3")
    run([*EXPERTS, "train", "--env", "Pendulum-v1", "-f", "experts", "--eval-freq", "300", "--save-freq", "300",
         "-n", "600", "-params", "learning_starts:100"], tmp_path)  # fmt: skip
    run_dir = tmp_path / "experts" / "sac" / "Pendulum-v1_1"
    assert (run_dir / "best_model.zip").is_file() and (run_dir / "rl_model_600_steps.zip").is_file()

    out = run([*EXPERTS, "evaluate", "--env", "Pendulum-v1", "--model", str(run_dir), "--episodes", "2"], tmp_path).stdout
    assert "over 2 episodes" in out

    out = run([*EXPERTS, "record", "--env", "Pendulum-v1", "--model", str(run_dir), "--episodes", "3",
               "--random-episodes", "2", "-o", "data"], tmp_path).stdout  # fmt: skip
    assert "0 terminated / 3 truncated" in out
    demos = load_demonstrations(tmp_path / "data" / "Pendulum-v1.npz")
    meta = demos.metadata
    assert demos.n_episodes == 3 and demos.n_transitions == 600 and not demos.terminated.any()
    assert meta["env_id"] == "Pendulum-v1" and meta["env_version"] == 1 and meta["expert_algo"] == "sac"
    assert meta["expert_steps"] in (300, 600) and meta["seed"] == 1000 and meta["episode_lengths"] == [200] * 3
    assert meta["episode_terminated"] == [False] * 3 and "stable-baselines3" in meta["versions"]
    np.testing.assert_allclose(meta["episode_returns"], demos.episode_returns)
    np.testing.assert_allclose(demos.rewards.reshape(3, 200).sum(axis=1), demos.episode_returns, rtol=1e-5)

    # imitation's on-disk format, read back without imitation, and with it when installed
    hf_demos = load_demonstrations(tmp_path / "data" / "Pendulum-v1-imitation")
    np.testing.assert_array_equal(hf_demos.observations, demos.observations)
    np.testing.assert_array_equal(hf_demos.next_observations, demos.next_observations)
    assert not hf_demos.terminated.any() and hf_demos.episode_ends.sum() == 3
    assert json.loads((tmp_path / "data" / "Pendulum-v1-imitation" / "sb3_lsiq_metadata.json").read_text())["seed"] == 1000

    # a resumed run: rl-zoo3 counts its checkpoints from 0, the recorded provenance counts all steps
    out = run([*EXPERTS, "train", "--env", "Pendulum-v1", "-f", "experts", "--eval-freq", "300", "--save-freq", "300",
               "--resume", "-n", "300", "-params", "learning_starts:100"], tmp_path).stdout  # fmt: skip
    assert "continuing experts/sac/Pendulum-v1_1/rl_model_600_steps.zip: 600 steps so far" in out
    resumed = tmp_path / "experts" / "sac" / "Pendulum-v1_2" / "rl_model_300_steps.zip"
    out = run([*EXPERTS, "record", "--env", "Pendulum-v1", "--model", str(resumed), "--episodes", "1",
               "--random-episodes", "1", "-o", "resumed", "--no-imitation-format"], tmp_path).stdout  # fmt: skip
    assert load_demonstrations(tmp_path / "resumed" / "Pendulum-v1.npz").metadata["expert_steps"] == 900

    # a failed quality gate writes nothing
    result = run([*EXPERTS, "record", "--env", "Pendulum-v1", "--model", str(run_dir), "--episodes", "1",
                  "--random-episodes", "1", "--min-return", "0", "-o", "gated"], tmp_path, check=False)  # fmt: skip
    assert result.returncode != 0 and "below --min-return 0" in result.stderr and not (tmp_path / "gated").exists()


def test_imitation_reads_the_exported_format(tmp_path):
    serialize = pytest.importorskip("imitation.data.serialize")
    run([*EXPERTS, "export", "sb3_lsiq:Pendulum-v1", "-o", str(tmp_path / "pendulum")], tmp_path)
    trajectories = serialize.load(tmp_path / "pendulum")
    assert len(trajectories) == 25 and type(trajectories[0]).__name__ == "TrajectoryWithRew"
    assert trajectories[0].obs.shape == (201, 3) and trajectories[0].acts.shape == (200, 1)
    assert trajectories[0].terminal and trajectories[0].infos[-1] == {"TimeLimit.truncated": True}
    demos = load_demonstrations("sb3_lsiq:Pendulum-v1")
    np.testing.assert_allclose([t.rews.sum() for t in trajectories], demos.episode_returns, rtol=1e-5)


@pytest.mark.parametrize("name", packaged_datasets())
def test_packaged_datasets_hold_25_expert_episodes(name):
    demos = load_demonstrations(f"sb3_lsiq:{name}")
    meta = demos.metadata
    assert demos.n_episodes == 25 and meta["env_id"] == name
    assert meta["mean_return"] > meta["random_mean_return"]
    assert demos.observations.dtype == np.float32 and demos.actions.dtype == np.float32
    # only true terminations are absorbing: every time-limit episode is a truncation
    lengths = demos.episode_lengths
    assert not demos.terminated[np.cumsum(lengths)[lengths == meta["max_episode_steps"]] - 1].any()


def test_unknown_packaged_dataset_lists_the_available_ones():
    with pytest.raises(FileNotFoundError, match=r"ships no demonstrations for 'Nope-v0' \(available: .*Pendulum-v1"):
        load_demonstrations("sb3_lsiq:Nope-v0")
    assert packaged_dataset_path("Pendulum-v1").name == "Pendulum-v1.npz"


def test_compact_native_format_round_trip(tmp_path, pendulum_demos):
    path = pendulum_demos.save(tmp_path / "demos.npz")
    with np.load(path) as data:
        assert "next_obs" not in data.files and len(data["boundary_next_obs"]) == 5
    again = load_demonstrations(path)
    for field in ("observations", "actions", "next_observations", "terminated", "episode_ends", "rewards"):
        np.testing.assert_array_equal(getattr(again, field), getattr(pendulum_demos, field))


def test_native_format_keeps_next_obs_that_are_not_the_next_rows(tmp_path, pendulum_demos):
    rng = np.random.default_rng(0)
    shuffled = Demonstrations(
        observations=pendulum_demos.observations,
        actions=pendulum_demos.actions,
        next_observations=rng.normal(size=pendulum_demos.next_observations.shape).astype(np.float32),
        terminated=pendulum_demos.terminated,
        episode_ends=pendulum_demos.episode_ends,
    )
    path = shuffled.save(tmp_path / "demos.npz")
    with np.load(path) as data:
        assert "next_obs" in data.files
    np.testing.assert_array_equal(load_demonstrations(path).next_observations, shuffled.next_observations)


def test_native_boundary_rows_must_match(tmp_path, pendulum_demos):
    path = pendulum_demos.save(tmp_path / "demos.npz")
    with np.load(path) as data:
        arrays = {key: data[key] for key in data.files}
    arrays["boundary_next_obs"] = arrays["boundary_next_obs"][:-1]
    np.savez(tmp_path / "broken.npz", **arrays)
    with pytest.raises(ValueError, match="boundary_next_obs has 4 rows but there are 5 episode boundaries"):
        load_demonstrations(tmp_path / "broken.npz")


def test_resume_finds_the_newest_checkpoint(tmp_path):
    import os

    for run, steps, mtime in (("Hopper-v5_1", 50_000, 100), ("Hopper-v5_1", 100_000, 200), ("Hopper-v5_2", 50_000, 300)):
        path = tmp_path / "sac" / run / f"rl_model_{steps}_steps.zip"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")
        os.utime(path, (mtime, mtime))
    assert latest_checkpoint(tmp_path, "Hopper-v5") == tmp_path / "sac" / "Hopper-v5_2" / "rl_model_50000_steps.zip"
    with pytest.raises(FileNotFoundError, match="No checkpoint to resume"):
        latest_checkpoint(tmp_path, "Walker2d-v5")


def _fake_model(path, num_timesteps):
    """A zip with the ``data`` entry SB3 saves (the only part trained_steps reads)."""
    import zipfile

    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("data", json.dumps({"num_timesteps": num_timesteps}))
    return path


def _zoo_run_args(run_dir, env_id, trained_agent):
    """args.yml as rl-zoo3 writes it: an OrderedDict dumped with PyYAML's default dumper (Python tags)."""
    from collections import OrderedDict

    import yaml

    (run_dir / env_id).mkdir(parents=True, exist_ok=True)
    args = OrderedDict([("algo", "sac"), ("env", env_id), ("trained_agent", str(trained_agent)), ("seed", 3)])
    (run_dir / env_id / "args.yml").write_text(yaml.dump(args))


def test_trained_steps_adds_the_runs_a_model_was_resumed_from(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # rl-zoo3 keeps the -i path as given, relative to where training ran
    first = _fake_model(tmp_path / "sac" / "Ant-v5_1" / "rl_model_350000_steps.zip", 350_000)
    _zoo_run_args(first.parent, "Ant-v5", "")
    second = _fake_model(tmp_path / "sac" / "Ant-v5_2" / "rl_model_200000_steps.zip", 200_000)
    _zoo_run_args(second.parent, "Ant-v5", "sac/Ant-v5_1/rl_model_350000_steps.zip")
    third = _fake_model(tmp_path / "sac" / "Ant-v5_3" / "best_model.zip", 75_000)
    _zoo_run_args(third.parent, "Ant-v5", "sac/Ant-v5_2/rl_model_200000_steps.zip")

    assert trained_steps(first) == 350_000
    assert trained_steps(second) == 550_000
    assert trained_steps(third) == 625_000
    # a copy outside its run folder has no args.yml: its own counter is the total
    copy = _fake_model(tmp_path / "copies" / "Ant-v5_sac_625000_steps.zip", 625_000)
    assert trained_steps(copy) == 625_000

    # a run whose args.yml names a model of its own folder is counted once, not forever
    looped = _fake_model(tmp_path / "sac" / "Ant-v5_4" / "Ant-v5.zip", 10_000)
    _zoo_run_args(looped.parent, "Ant-v5", "sac/Ant-v5_4/Ant-v5.zip")
    assert trained_steps(looped) == 10_000

    first.unlink()
    with pytest.warns(UserWarning, match="which is gone: its steps are not counted"):
        assert trained_steps(second) == 200_000
