"""The benchmark runner, its resume logic, the report and the throughput script (small versions, so they cannot rot)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
import yaml

pytest.importorskip("rl_zoo3")

from sb3_lsiq import load_demonstrations
from sb3_lsiq.benchmarks.__main__ import parse_overrides
from sb3_lsiq.benchmarks.callbacks import (
    RESUME_MODEL,
    RESUME_STATE,
    ResumeCheckpointCallback,
    StochasticEvalCallback,
    read_resume_state,
)
from sb3_lsiq.benchmarks.export import CURVE_COLUMNS, TRAIN_LOG_COLUMNS, merged_evaluations, train_log
from sb3_lsiq.benchmarks.goals import goal_rows
from sb3_lsiq.benchmarks.report import (
    compile_note,
    expert_and_random_returns,
    late_normalised,
    progress_section,
    quality_rows,
    read_results,
    reference_rows,
    write_report,
)
from sb3_lsiq.benchmarks.runner import committed_finished, run, run_conf, train_command
from sb3_lsiq.benchmarks.spec import RunSpec
from sb3_lsiq.benchmarks.suites import quality_suite
from sb3_lsiq.benchmarks.throughput_tables import history_table, with_history

SMALL_NETS = "dict(net_arch=[32, 32])"
TINY = ["--env", "Pendulum-v1", "--demos", "2", "--eval-freq", "500", "--resume-freq", "500", "--eval-episodes", "2",
        "--tag", "tiny", "--set", "learning_starts=200"]  # fmt: skip


def benchmarks(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "sb3_lsiq.benchmarks", *args], cwd=cwd, capture_output=True, text=True, timeout=600
    )


def test_run_resume_and_report(tmp_path: Path) -> None:
    first = benchmarks("run", "--algo", "lsiq", "--steps", "1000", *TINY, "--root", "bench", cwd=tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    spec = RunSpec("lsiq", "Pendulum-v1", n_demos=2, seed=0, steps=1000, eval_freq=500, resume_freq=500, eval_episodes=2,
                   tag="tiny", overrides={"learning_starts": 200})  # fmt: skip
    assert read_resume_state(spec.run_dir(tmp_path / "bench") / "resume") == (1000, True)

    # Asking the same run for more steps continues it from its resume point (replay buffer and step count kept)
    second = benchmarks("run", "--algo", "lsiq", "--steps", "1500", *TINY, "--root", "bench", cwd=tmp_path)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "resuming at 1000" in second.stdout
    run_dir = spec.run_dir(tmp_path / "bench")
    log = (run_dir / "train.log").read_text()
    assert "Loading replay buffer" in log

    csv_path, json_path = RunSpec(**{**spec.__dict__, "steps": 1500}).result_paths(tmp_path / "bench")
    curve = np.loadtxt(csv_path, delimiter=",", skiprows=1, ndmin=2)
    assert curve.shape == (3, len(CURVE_COLUMNS))
    # absolute step numbers across the two processes, both evaluations present, Pendulum's 200-step episodes
    np.testing.assert_array_equal(curve[:, 0], [500, 1000, 1500])
    assert np.all(np.isfinite(curve[:, 1:]))
    np.testing.assert_array_equal(curve[:, CURVE_COLUMNS.index("det_ep_len")], 200)
    provenance = json.loads(json_path.read_text())
    assert provenance["finished"] and provenance["completed_timesteps"] == 1500
    assert [s["start_timesteps"] for s in provenance["segments"]] == [0, 1000]
    hyperparameters = provenance["hyperparameters"]  # the packaged entry with the run's settings, no callbacks
    assert hyperparameters["learning_starts"] == 200 and hyperparameters["n_timesteps"] == 1500
    assert hyperparameters["reg_mult"] == 2.0 and "callback" not in hyperparameters
    assert all(s["command"].startswith("python -m sb3_lsiq train --algo lsiq") for s in provenance["segments"])
    train_log = np.loadtxt(csv_path.with_suffix(".train.csv"), delimiter=",", skiprows=1, ndmin=2)
    assert len(train_log) > 0 and np.all(np.diff(train_log[:, 0]) > 0)

    # A finished run is not trained again
    third = benchmarks("run", "--algo", "lsiq", "--steps", "1500", *TINY, "--root", "bench", cwd=tmp_path)
    assert third.returncode == 0 and "resuming" not in third.stdout and "new run" not in third.stdout

    output = tmp_path / "BENCHMARKS.md"
    write_report(tmp_path / "bench", output)
    text = output.read_text()
    assert "| Pendulum-v1 | lsiq-tiny | 2 | 0 | 1k |" in text
    assert (tmp_path / "bench" / "plots" / "Pendulum-v1.png").stat().st_size > 1000
    assert "python -m sb3_lsiq.benchmarks run --algo lsiq --env Pendulum-v1 --demos 2 --seed 0 --steps 1500 --tag tiny" in text
    assert read_results(tmp_path / "bench")[0].finished


def _processes_mentioning(text: str) -> list[int]:
    """PIDs of the live processes whose command line contains ``text`` (Linux /proc)."""
    pids = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if text in cmdline.read_bytes().decode(errors="replace") and cmdline.parent.name != str(os.getpid()):
                pids.append(int(cmdline.parent.name))
        except OSError:  # the process ended while we looked
            continue
    return pids


@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="finds the training process through /proc")
def test_stopping_a_suite_saves_a_resume_point_exports_and_starts_no_other_run(tmp_path: Path) -> None:
    root = tmp_path / "bench"
    # Two long runs one after the other, the way `suite --jobs 1` runs them (worker threads, signal in the main thread)
    script = f"""
from pathlib import Path
from sb3_lsiq.benchmarks.__main__ import run_specs
from sb3_lsiq.benchmarks.spec import RunSpec
from sb3_lsiq.benchmarks.stopping import stop_signal, stop_training_on_signals
stop_training_on_signals()
specs = [RunSpec("lsiq", "Pendulum-v1", n_demos=2, seed=seed, steps=1_000_000, eval_freq=200, resume_freq=100_000,
                 eval_episodes=1, tag="tiny", overrides={{"learning_starts": 100, "policy_kwargs": {SMALL_NETS!r}}})
         for seed in (0, 1)]
run_specs(specs, Path({str(root)!r}), jobs=1)
raise SystemExit(128 + stop_signal())
"""
    suite = subprocess.Popen([sys.executable, "-c", script], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True)  # fmt: skip
    run_dir = root / "runs" / "lsiq-tiny" / "Pendulum-v1" / "demos2_seed0"
    try:
        deadline = time.monotonic() + 120
        # the training process is past its first evaluation (200 steps): it has trained
        while not list((run_dir / "zoo").glob("*/*/evaluations.npz")) and time.monotonic() < deadline:
            time.sleep(0.5)
        run_folders = str(root / "runs")  # in the training process's command line, not in the suite's
        assert _processes_mentioning(run_folders), "the training process did not start"
        suite.send_signal(signal.SIGTERM)
        output, _ = suite.communicate(timeout=120)
    finally:
        suite.kill()
    assert suite.returncode == 128 + signal.SIGTERM, output
    assert not _processes_mentioning(run_folders), f"training process left running after the suite stopped:\n{output}"
    # The stopped run saved a resume point at an evaluation step (no resume point was due before 100k) ...
    steps, finished = read_resume_state(run_dir / "resume")
    assert steps > 0 and steps % 200 == 0 and not finished, output
    assert f"Stopped at {steps} steps" in (run_dir / "train.log").read_text()
    # ... its curve was exported up to there, and the next run of the suite never started
    csv_path = root / "results" / "lsiq-tiny__Pendulum-v1__demos2__seed0.csv"
    assert np.loadtxt(csv_path, delimiter=",", skiprows=1, ndmin=2)[-1, 0] == steps
    assert "1 run(s) not started: lsiq-tiny__Pendulum-v1__demos2__seed1" in output
    assert not (root / "runs" / "lsiq-tiny" / "Pendulum-v1" / "demos2_seed1").exists()
    # The run continues from that resume point
    same_run = ["--env", "Pendulum-v1", "--demos", "2", "--eval-freq", "200", "--resume-freq", "100000", "--eval-episodes",
                "1", "--tag", "tiny", "--set", "learning_starts=100", f"policy_kwargs={SMALL_NETS}"]  # fmt: skip
    resumed = benchmarks("run", "--algo", "lsiq", *same_run, "--steps", str(steps + 200), "--root", str(root), cwd=tmp_path)
    assert resumed.returncode == 0 and f"resuming at {steps}" in resumed.stdout, resumed.stdout + resumed.stderr
    assert read_resume_state(run_dir / "resume") == (steps + 200, True)


def test_a_stop_signal_ends_training_at_the_next_evaluation_step_with_a_resume_point(tmp_path: Path, pendulum_demos) -> None:
    from stable_baselines3.common.callbacks import BaseCallback

    from sb3_lsiq import LSIQ

    class SignalAt(BaseCallback):
        """Sends this process SIGTERM once, at the given step (as the runner forwards a stop to rl-zoo3)."""

        def __init__(self, step: int) -> None:
            super().__init__()
            self.step = step

        def _on_step(self) -> bool:
            if self.num_timesteps == self.step:
                os.kill(os.getpid(), signal.SIGTERM)
            return True

    handler_before = signal.getsignal(signal.SIGTERM)
    resume = ResumeCheckpointCallback(save_freq=10_000, save_path=str(tmp_path / "resume"), stop_freq=100)
    model = LSIQ("MlpPolicy", "Pendulum-v1", demonstrations=pendulum_demos, learning_starts=64, batch_size=32,
                 buffer_size=5_000, policy_kwargs=dict(net_arch=[32, 32]), seed=0)  # fmt: skip
    model.learn(5_000, callback=[resume, SignalAt(130)])
    assert resume.stop_requested and model.num_timesteps == 200  # the next multiple of stop_freq after 130
    assert read_resume_state(tmp_path / "resume") == (200, False)
    assert LSIQ.load(tmp_path / "resume" / RESUME_MODEL).num_timesteps == 200
    assert signal.getsignal(signal.SIGTERM) is handler_before  # the process's own handler is back


def _write_evaluations(folder: Path, steps: list[int], value: float) -> None:
    folder.mkdir(parents=True)
    n = len(steps)
    np.savez(folder / "evaluations.npz", timesteps=np.asarray(steps), results=np.full((n, 2), value),
             ep_lengths=np.full((n, 2), 200))  # fmt: skip


def test_merged_evaluations_drop_what_an_interrupted_segment_logged_after_the_resume_point(tmp_path: Path) -> None:
    # segment 1 logged 10k..30k, was killed; its resume point was 20k; segment 2 evaluates 30k and 40k again. Neither
    # segment has a record in segments.json (a killed one never gets one): the conf files give the starts
    _write_evaluations(tmp_path / "zoo" / "lsiq" / "Hopper-v5_1", [10_000, 20_000, 30_000], 1.0)
    _write_evaluations(tmp_path / "zoo" / "lsiq" / "Hopper-v5_2", [30_000, 40_000], 2.0)
    for segment, start in ((1, 0), (2, 20_000)):
        resume_callback = {"sb3_lsiq.benchmarks.callbacks.ResumeCheckpointCallback": {"resume_timesteps": start}}
        (tmp_path / f"conf_{segment}.yml").write_text(yaml.safe_dump({"Hopper-v5": {"callback": [resume_callback]}}))
    merged = merged_evaluations(tmp_path)
    assert sorted(merged) == [10_000, 20_000, 30_000, 40_000]
    assert [float(merged[step][0].mean()) for step in sorted(merged)] == [1.0, 1.0, 2.0, 2.0]


def test_resume_state(tmp_path: Path) -> None:
    assert read_resume_state(tmp_path) == (0, False)
    (tmp_path / RESUME_STATE).write_text(json.dumps({"num_timesteps": 50_000, "finished": False}))
    assert read_resume_state(tmp_path) == (0, False)  # no model to resume from
    (tmp_path / RESUME_MODEL).write_bytes(b"zip")
    assert read_resume_state(tmp_path) == (50_000, False)


def test_a_run_finished_elsewhere_counts_as_done_on_a_fresh_checkout(tmp_path: Path) -> None:
    """Run folders stay on the machine that trained; a new checkout holds only the committed results. A suite must
    not train those runs again (the export would overwrite their curves), but must train what is not finished."""
    spec = RunSpec("lsiq", "Hopper-v5", n_demos=5, seed=0, steps=300_000)
    csv_path, json_path = spec.result_paths(tmp_path)
    json_path.parent.mkdir(parents=True)
    csv_path.write_text("timesteps,det_mean\n300000,3296\n")
    provenance = {"spec": asdict(spec), "completed_timesteps": 300_000, "finished": True}
    json_path.write_text(json.dumps(provenance))
    assert committed_finished(spec, tmp_path)
    assert run(spec, tmp_path, quiet=True) == csv_path  # returns at once: no rl-zoo3 process, no run folder
    assert not spec.run_dir(tmp_path).exists() and csv_path.read_text() == "timesteps,det_mean\n300000,3296\n"

    # more steps than were committed, another setting under the same name, an unfinished run: not done
    assert not committed_finished(RunSpec("lsiq", "Hopper-v5", n_demos=5, seed=0, steps=400_000), tmp_path)
    json_path.write_text(json.dumps({**provenance, "spec": {**asdict(spec), "eval_freq": 5_000}}))
    assert not committed_finished(spec, tmp_path)
    json_path.write_text(json.dumps({**provenance, "finished": False, "completed_timesteps": 150_000}))
    assert not committed_finished(spec, tmp_path)
    json_path.write_text(json.dumps(provenance))
    listing = benchmarks("suite", "quality", "--list", "--env", "Hopper-v5", "--seed", "0", "--root", ".", cwd=tmp_path)
    assert "lsiq__Hopper-v5__demos5__seed0                               done (committed results)" in listing.stdout
    assert "iqlearn__Hopper-v5__demos5__seed0                            0/300000" in listing.stdout

    # a run folder here with a resume point takes precedence over the committed results
    resume = spec.run_dir(tmp_path) / "resume"
    resume.mkdir(parents=True)
    (resume / RESUME_STATE).write_text(json.dumps({"num_timesteps": 50_000, "finished": False}))
    (resume / RESUME_MODEL).write_bytes(b"zip")
    assert not committed_finished(spec, tmp_path)


def test_train_log_of_an_offline_run_counts_updates(tmp_path: Path) -> None:
    """Offline training logs no time/total_timesteps on its training rows: the step is offline/updates."""
    header = "train/critic_loss,offline/updates,train/q_expert,time/total_timesteps,eval/mean_reward"
    lines = ["-0.2,1000,0.5,,", "-0.1,2000,0.7,,", ",,,2000,150.0", "-0.3,3000,0.9,,"]
    (tmp_path / "progress_1.csv").write_text("\n".join([header, *lines]) + "\n")
    rows = train_log(tmp_path)
    np.testing.assert_array_equal(rows[:, 0], [1000, 2000, 3000])  # the evaluation-only row is skipped
    np.testing.assert_array_equal(rows[:, TRAIN_LOG_COLUMNS.index("train/q_expert")], [0.5, 0.7, 0.9])


def test_stochastic_curve_replaces_entries_a_killed_process_logged(tmp_path: Path) -> None:
    callback = StochasticEvalCallback("Pendulum-v1", eval_freq=10, n_eval_episodes=2, log_path=str(tmp_path / "s.npz"))
    for step in (10, 20, 30):
        callback._append(step, np.array([float(step), 0.0]), np.array([200, 200]))
    callback._append(30, np.array([99.0, 0.0]), np.array([200, 200]))  # resumed at 20, evaluates 30 again
    with np.load(tmp_path / "s.npz") as data:
        np.testing.assert_array_equal(data["timesteps"], [10, 20, 30])
        assert data["results"][-1, 0] == 99.0


def test_run_spec_and_overrides_errors() -> None:
    with pytest.raises(ValueError, match="resume_freq=15000 must be a multiple of eval_freq=10000"):
        RunSpec("lsiq", "Hopper-v5", 5, 0, 100_000, resume_freq=15_000)
    with pytest.raises(ValueError, match="tag='no abs'"):
        RunSpec("lsiq", "Hopper-v5", 5, 0, 100_000, tag="no abs")
    with pytest.raises(ValueError, match="need a tag naming the variant"):
        RunSpec("lsiq", "Hopper-v5", 5, 0, 100_000, overrides={"treat_absorbing": False})
    assert parse_overrides(["treat_absorbing=false", "reg_mult=1.0", "policy_term=value"]) == {
        "treat_absorbing": False, "reg_mult": 1.0, "policy_term": "value"}  # fmt: skip
    with pytest.raises(SystemExit, match="key=value"):
        parse_overrides(["reg_mult"])
    # the printed command pastes back into a shell: a mapping's braces and spaces are quoted
    import shlex

    overrides = {"env_kwargs": {"a": False}, "policy_term": "value", "reg_mult": 1.0}
    command = shlex.split(RunSpec("lsiq", "Ant-v5", 5, 0, 100_000, tag="x", overrides=overrides).command())
    assert parse_overrides(command[command.index("--set") + 1 :]) == overrides


def test_env_kwargs_reach_every_evaluation_env_and_env_wrapper_is_refused(tmp_path: Path) -> None:
    import argparse

    from rl_zoo3.utils import StoreDict

    overrides = {"env_kwargs": {"include_cfrc_ext_in_observation": False, "frame_skip": 5}}
    spec = RunSpec("lsiq", "Ant-v5", 5, 0, 20_000, tag="nocontact", overrides=overrides)
    conf = run_conf(spec, tmp_path, 0)["Ant-v5"]
    assert conf["env_kwargs"] == overrides["env_kwargs"]  # rl-zoo3's training env
    stochastic = next(c for c in conf["callback"] if "StochasticEvalCallback" in next(iter(c)))
    assert next(iter(stochastic.values()))["env_kwargs"] == overrides["env_kwargs"]  # the stochastic curve's env
    # rl-zoo3's own evaluation env only reads the command line: the runner repeats them there, in its syntax
    command = train_command(spec, tmp_path, tmp_path / "conf.yml", 0, conf["env_kwargs"])
    start = command.index("--eval-env-kwargs")
    parser = argparse.ArgumentParser()
    parser.add_argument("--eval-env-kwargs", nargs="+", action=StoreDict)
    assert parser.parse_args(command[start : start + 3]).eval_env_kwargs == overrides["env_kwargs"]
    assert "--eval-env-kwargs" not in train_command(spec, tmp_path, tmp_path / "conf.yml", 0, None)
    wrapped = RunSpec("lsiq", "Ant-v5", 5, 0, 20_000, tag="wrapped", overrides={"env_wrapper": "gymnasium.wrappers.X"})
    with pytest.raises(ValueError, match="env_wrapper is not supported by the benchmark runner"):
        run_conf(wrapped, tmp_path, 0)


def test_throughput_script_small(tmp_path: Path) -> None:
    output = tmp_path / "throughput.json"
    earlier_rates = {"LSIQ (batch 256 + 256 expert)": 90.0, "IQ-Learn (batch 256 + 256 expert)": 85.0,
                     "SAC batch 256": 100.0, "SAC batch 512": 60.0}  # fmt: skip
    earlier = {"env_id": "Pendulum-v1", "repeats": 5, "configs": {
        name: {"env_steps_per_second": rate, "gemm_floor_ms": 8.0, "update_ms": 10.0} for name, rate in earlier_rates.items()
    }}  # fmt: skip
    output.write_text(json.dumps(earlier))  # a file from before measurements kept a history
    result = subprocess.run(
        [sys.executable, "-m", "sb3_lsiq.benchmarks", "throughput", "--env", "Pendulum-v1", "--steps", "100",
         "--repeats", "1", "--output", str(output)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    data = json.loads(output.read_text())
    assert set(data["configs"]) == {
        "LSIQ (batch 256 + 256 expert)",
        "IQ-Learn (batch 256 + 256 expert)",
        "SAC batch 256",
        "SAC batch 512",
    }
    for row in data["configs"].values():
        assert row["env_steps_per_second"] > 0 and row["gemm_floor_ms"] > 0
        # the replayed products account for most of the counted FLOPs (the rest: element-wise ops FlopCounter skips)
        assert 0.8 < row["gemm_gflop_per_update"] / row["gflop_per_update"] < 1.25
    sac256, sac512 = data["configs"]["SAC batch 256"], data["configs"]["SAC batch 512"]
    assert sac512["gflop_per_update"] == pytest.approx(2 * sac256["gflop_per_update"], rel=0.02)
    assert "| SAC batch 512 |" in result.stdout
    compiled = data["compile"]  # the torch.compile comparison ran and timed both updates
    assert compiled["eager_update_ms"] > 0 and compiled["compiled_update_ms"] > 0 and compiled["compile_seconds"] > 0
    assert "torch.compile" in result.stdout
    # the earlier measurement is kept (without the fields the goals do not need), the new one is dated
    assert len(data["history"]) == 2
    assert data["history"][0]["configs"]["SAC batch 512"] == {"env_steps_per_second": 60.0, "gemm_floor_ms": 8.0}
    assert data["history"][0]["date"] is None and data["history"][1]["date"] == data["date"]
    assert data["history"][1]["configs"]["SAC batch 256"]["env_steps_per_second"] == sac256["env_steps_per_second"]


def test_bc_baseline_writes_a_curve(tmp_path: Path) -> None:
    pytest.importorskip("imitation")
    args = ["run", "--algo", "bc", "--env", "Pendulum-v1", "--demos", "2", "--steps", "200", "--eval-freq", "100",
            "--resume-freq", "200", "--eval-episodes", "2", "--root", "bench"]  # fmt: skip
    result = benchmarks(*args, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    spec = RunSpec("bc", "Pendulum-v1", n_demos=2, seed=0, steps=200, eval_freq=100, resume_freq=200, eval_episodes=2)
    csv_path, json_path = spec.result_paths(tmp_path / "bench")
    curve = np.loadtxt(csv_path, delimiter=",", skiprows=1, ndmin=2)
    np.testing.assert_array_equal(curve[:, 0], [100, 200])  # gradient steps: BC takes no environment step
    assert np.all(np.isfinite(curve[:, 1:]))
    assert json.loads(json_path.read_text())["finished"]


def _synthetic_result(root: Path, spec: RunSpec, returns: list[float], lengths: list[float], q: float) -> None:
    """A result as export() writes it: curve, provenance and training log."""
    results = root / "results"
    results.mkdir(parents=True, exist_ok=True)
    steps = np.arange(1, len(returns) + 1) * spec.eval_freq
    curve = np.column_stack([steps, returns, np.zeros(len(steps)), lengths, returns, np.zeros(len(steps)), lengths])
    np.savetxt(results / f"{spec.name}.csv", curve, delimiter=",", header=",".join(CURVE_COLUMNS), comments="")
    train = np.column_stack([steps, *[np.full(len(steps), value) for value in (q, q / 2, 1.0, -1.0, q, 0.1, 200, 0)]])
    np.savetxt(results / f"{spec.name}.train.csv", train, delimiter=",", header=",".join(TRAIN_LOG_COLUMNS), comments="")
    segment = {"segment": 1, "start_timesteps": 0, "seconds": 1.0, "command": "python -m sb3_lsiq train", "returncode": 0}
    provenance = {"spec": spec.__dict__, "completed_timesteps": spec.steps, "finished": True, "wall_seconds": 1.0,
                  "segments": [segment], "machine": {"cpu": "test"}}  # fmt: skip
    (results / f"{spec.name}.json").write_text(json.dumps(provenance))


def test_progress_counts_finished_unfinished_and_steps_left(tmp_path: Path) -> None:
    finished = RunSpec("lsiq", "Hopper-v5", n_demos=5, seed=0, steps=300_000)
    _synthetic_result(tmp_path, finished, [3000.0] * 30, [1000] * 30, 100.0)
    unfinished = RunSpec("iqlearn", "Hopper-v5", n_demos=5, seed=0, steps=300_000)
    _synthetic_result(tmp_path, unfinished, [3000.0] * 10, [1000] * 10, 100.0)
    provenance = json.loads(unfinished.result_paths(tmp_path)[1].read_text())
    unfinished.result_paths(tmp_path)[1].write_text(
        json.dumps({**provenance, "finished": False, "completed_timesteps": 100_000})
    )
    quality_row = next(line for line in progress_section(tmp_path).splitlines() if line.startswith("| quality |"))
    # the unfinished run has no run folder here: all of its steps are left
    steps_left = sum(spec.steps for spec in quality_suite()) - finished.steps
    n_runs = len(quality_suite())
    assert quality_row == f"| quality | {n_runs} | 1 | {unfinished.name} (100k) | {n_runs - 2} | {steps_left / 1e6:.2f}M |"


def test_goals_met_missed_so_far_and_pending(tmp_path: Path) -> None:
    def result(label: str, env_id: str, seed: int, normalised: float) -> None:
        expert, random = expert_and_random_returns(env_id)
        algo, _, tag = label.partition("-")
        spec = RunSpec(algo, env_id, n_demos=5, seed=seed, steps=20_000, tag=tag, overrides={"x": 1} if tag else {})
        _synthetic_result(tmp_path, spec, [random, random + normalised * (expert - random)], [1000, 1000], 100.0)

    for seed in (0, 1, 2):
        result("lsiq", "Hopper-v5", seed, 0.95)
    result("iqlearn", "Hopper-v5", 0, 1.0)  # one seed: compared on seed 0 alone, where LSIQ has 0.95
    result("lsiq", "Walker2d-v5", 0, 0.5)
    result("lsiq-fo", "Hopper-v5", 0, 0.8)  # 0.8 against 0.85 x 0.95
    throughput = {"env_id": "Hopper-v5", "configs": {
        "LSIQ (batch 256 + 256 expert)": {"env_steps_per_second": 90.0, "gemm_floor_ms": 8.0},  # floor: 125 steps/s
        "IQ-Learn (batch 256 + 256 expert)": {"env_steps_per_second": 80.0, "gemm_floor_ms": 5.0},  # 200 steps/s
        "SAC batch 512": {"env_steps_per_second": 60.0, "gemm_floor_ms": 12.0}}}  # fmt: skip
    rows = {(row["goal"], row["env"]): row for row in goal_rows(read_results(tmp_path), throughput)}

    lsiq_5 = "LSIQ, 5 demos, final normalised"
    assert rows[lsiq_5, "Hopper-v5"]["measured"] == "0.95" and rows[lsiq_5, "Hopper-v5"]["status"] == "met"
    assert rows[lsiq_5, "Walker2d-v5"]["status"] == "missed by 0.40 so far (1 of 3 seeds)"
    # each synthetic curve is [random, final]: its last-5 mean is half its final normalised return
    assert rows[lsiq_5, "Walker2d-v5"]["last 5 evaluations"] == "0.25"
    assert rows[lsiq_5, "Ant-v5"]["last 5 evaluations"] == "-"
    assert rows[lsiq_5, "Ant-v5"]["status"] == "pending"
    versus = rows["LSIQ >= IQ-Learn, 5 demos, final normalised", "Hopper-v5"]
    assert versus["seeds finished"] == "0" and versus["measured"] == "0.95 vs 1.00"
    assert versus["status"] == "missed by 0.05 so far (1 of 3 seeds)"
    assert versus["last 5 evaluations"] == f"{0.95 / 2:.2f} vs {1.0 / 2:.2f}"
    assert (
        rows["LSIQ-fO within 15% of LSIQ, final normalised", "Hopper-v5"]["status"] == "missed by 0.01 so far (1 of 3 seeds)"
    )
    assert rows["LSIQ env-steps/s over SAC batch 512", "Hopper-v5"]["status"] == "met"  # 1.50x
    assert rows["IQ-Learn env-steps/s over SAC batch 512", "Hopper-v5"]["status"] == "missed by 0.17"  # 1.33x
    assert rows["LSIQ time over the GEMM floor", "Hopper-v5"]["measured"] == "1.39x"
    assert rows["IQ-Learn time over the GEMM floor", "Hopper-v5"]["status"] == "missed by 1.00"  # 2.50x


def test_report_renders_the_claims_sections(tmp_path: Path) -> None:
    root = tmp_path / "bench"
    for seed in (0, 1):
        for label, q in (("lsiq", 150.0), ("iqlearn", 900.0)):
            spec = RunSpec(label, "Hopper-v5", n_demos=5, seed=seed, steps=30_000)
            _synthetic_result(root, spec, [500.0, 1500.0, 3000.0], [300, 600, 1000], q)
        _synthetic_result(
            root, RunSpec("lsiq", "Hopper-v5", n_demos=1, seed=seed, steps=30_000), [400.0, 800, 1600], [200] * 3, 150.0
        )
        survival = {
            "env_id": "GoalReach-v0",
            "n_demos": 10,
            "seed": seed,
            "steps": 6_000,
            "eval_freq": 2_000,
            "resume_freq": 2_000,
        }
        _synthetic_result(root, RunSpec("lsiq", **survival), [-200.0, -30.0, -13.0], [200, 30, 13], 100.0)  # type: ignore[arg-type]
        _synthetic_result(root, RunSpec("iqlearn", **survival), [-200.0, -200.0, -200.0], [200, 200, 200], 100.0)  # type: ignore[arg-type]
    labels_table = "model.zip: 5000 expert transitions (5 episodes)\n| labels | mean MSE |\n|---|---|\n| zero | 0.230 |\n"
    (root / "results" / "labels__lsiq-fo__Hopper-v5__demos5__seed0.md").write_text(labels_table)
    output = tmp_path / "BENCHMARKS.md"
    write_report(root, output)
    text = output.read_text()
    assert "## State-only labels" in text and labels_table.strip() in text
    assert "| LSIQ, 5 demos, final normalised | HalfCheetah-v5 | - | - | >= 0.9 | pending |" in text  # the goals table
    assert "### (a) Bounded Q and implicit reward" in text and "| lsiq | 0, 1 | [150, 150] |" in text
    assert "### (b) No survival bias" in text
    # the synthetic iqlearn never reaches the goal, the synthetic lsiq ends at 13 steps (<= 1.5 x 12.8)
    assert "| iqlearn | 0, 1 | 200.0 ± 0.0 | -200.0 ± 0.0 | 200.0 ± 0.0 | 0 of 2 |" in text
    assert "| lsiq | 0, 1 | 13.0 ± 0.0 | -13.0 ± 0.0 | 81.0 ± 0.0 | 2 of 2 |" in text
    assert "### (c) 1 vs 5 vs 25 demonstrations" in text
    # normalised (R - 19.8) / 3275.1: 5 demos 0.15, 0.45, 0.91 (first >= 0.8 at 30k, mean 0.50); 1 demo 0.12, 0.24,
    # 0.48 (never, mean 0.28); the "last 5" mean covers all 3 evaluations here
    assert "| 1 | 0, 1 | not by 30k, not by 30k |" in text
    assert "| 5 | 0, 1 | 30k, 30k |" in text
    # final return, R/R_E, final, best, last 5 normalised
    assert "| Hopper-v5 | lsiq | 1 | 0, 1 | 30k, 30k | 1600 ± 0 | 0.49 ± 0.00 | 0.48 ± 0.00 | 0.48 ± 0.00 | 0.28 ± 0.00 |" in (
        text
    )
    for plot in ("Hopper-v5", "claim_bounded", "claim_survival", "claim_demos"):
        assert (root / "plots" / f"{plot}.png").stat().st_size > 1000
    assert "(bench/plots/claim_survival.png)" in text
    # Hopper's quality row: normalised by the shipped expert (3294.9) and random (19.8) returns
    assert (
        "| Hopper-v5 | lsiq | 5 | 0, 1 | 30k, 30k | 3000 ± 0 | 0.91 ± 0.00 | 0.91 ± 0.00 | 0.91 ± 0.00 | 0.50 ± 0.00 |" in text
    )


def test_the_late_column_averages_only_the_last_five_evaluations(tmp_path: Path) -> None:
    expert, random = expert_and_random_returns("Hopper-v5")
    returns = [0.0, 5000.0, 100.0, 200.0, 300.0, 400.0, 500.0]  # the early 5000 must not count
    _synthetic_result(tmp_path, RunSpec("lsiq", "Hopper-v5", n_demos=5, seed=0, steps=70_000), returns, [100] * 7, 10.0)
    [result] = read_results(tmp_path)
    assert late_normalised(result, expert, random) == pytest.approx((300.0 - random) / (expert - random))
    [row] = quality_rows([result])
    assert row["last 5 normalised"] == f"{(300.0 - random) / (expert - random):.2f} ± 0.00"
    assert row["best normalised"] == f"{(5000.0 - random) / (expert - random):.2f} ± 0.00"


def test_reference_levels_show_falls_and_the_demonstrations_level() -> None:
    hopper, walker = reference_rows(["Hopper-v5", "Walker2d-v5"])
    demos = load_demonstrations("sb3_lsiq:Walker2d-v5")
    returns = np.asarray(demos.metadata["episode_returns"])
    assert walker["episodes"] == 25 and walker["terminated early"] == int(demos.metadata["episode_terminated"].count(True))
    assert walker["terminated early"] > 0 and hopper["terminated early"] == 0
    assert walker["expert (all episodes)"] == f"{returns.mean():.0f} ± {returns.std():.0f}"
    assert walker["first 5 demos"] == f"{returns[:5].mean():.0f}" and float(walker["first 5 demos"]) > returns.mean()


def test_a_tag_with_a_dot_keeps_its_whole_name_in_the_results(tmp_path: Path) -> None:
    # with_suffix cut "lsiq-ent0.01__..." at its dot, so such a run was exported and read back as "lsiq-ent0"
    spec = RunSpec("lsiq", "HalfCheetah-v5", n_demos=5, seed=0, steps=300_000, tag="ent0.01", overrides={"ent_coef": 0.01})
    csv_path, json_path = spec.result_paths(tmp_path)
    assert csv_path.name == "lsiq-ent0.01__HalfCheetah-v5__demos5__seed0.csv" and json_path.name.endswith("seed0.json")
    _synthetic_result(tmp_path, spec, [1000.0] * 30, [1000] * 30, 10.0)
    [result] = read_results(tmp_path)
    assert result.name == spec.name and result.label == "lsiq-ent0.01"


def _measurement(lsiq: float, iqlearn: float, sac512: float, date: str | None = None) -> dict:
    rates = {"LSIQ (batch 256 + 256 expert)": lsiq, "IQ-Learn (batch 256 + 256 expert)": iqlearn, "SAC batch 512": sac512}
    configs = {name: {"env_steps_per_second": rate, "gemm_floor_ms": 8.0} for name, rate in rates.items()}
    return {"env_id": "Hopper-v5", "date": date, "repeats": 5, "configs": configs}


def test_throughput_history_accumulates_per_env() -> None:
    first, second, third = _measurement(90, 80, 60), _measurement(84, 84, 60, "2026-12-01"), _measurement(75, 75, 50, "x")
    merged = with_history(third, with_history(second, first))
    assert [m["date"] for m in merged["history"]] == [None, "2026-12-01", "x"]
    assert merged["configs"] == third["configs"]  # the file's own fields stay the latest measurement's
    other_env = {**_measurement(1, 1, 1), "env_id": "Pendulum-v1"}
    assert len(with_history(third, other_env)["history"]) == 1  # another env's measurements are not mixed in
    assert len(with_history(third, None)["history"]) == 1
    table = history_table(merged).splitlines()
    assert len(table) == 2 + 3
    # LSIQ 90/60 = 1.50x, IQ-Learn 80/60 = 1.33x; floors 125 steps/s: 125/90 = 1.39x, 125/80 = 1.56x
    assert table[2] == "| undated | 5 | 90.0 | 80.0 | 60.0 | 1.50x | 1.33x | 1.39x | 1.56x |"
    assert history_table(first) == "" and history_table(with_history(first, None)) == ""  # one measurement: no table


def test_throughput_goals_use_the_median_over_measurements() -> None:
    # LSIQ over SAC 512: 1.50x, 1.40x, 1.50x -> median 1.50x (met); IQ-Learn: 1.33x, 1.40x, 1.50x -> 1.40x (missed)
    history = with_history(_measurement(75, 75, 50), with_history(_measurement(84, 84, 60), _measurement(90, 80, 60)))
    rows = {row["goal"]: row for row in goal_rows([], history)}
    lsiq = rows["LSIQ env-steps/s over SAC batch 512"]
    assert lsiq["measured"] == "1.50x (median of 3: 1.50x, 1.40x, 1.50x)" and lsiq["status"] == "met"
    assert rows["IQ-Learn env-steps/s over SAC batch 512"]["status"] == "missed by 0.10"
    # time over the floor (125 steps/s): LSIQ 1.39x, 1.49x, 1.67x -> 1.49x, met
    assert rows["LSIQ time over the GEMM floor"]["measured"].startswith("1.49x (median of 3")
    assert rows["LSIQ time over the GEMM floor"]["status"] == "met"


def test_compile_note_states_whether_torch_compile_wins() -> None:
    slower = {"compile": {"eager_update_ms": 10.0, "compiled_update_ms": 12.5, "compile_seconds": 20.0}}
    assert "12.50 ms against 10.00 ms eager (1.25x; compiling took 20 s): it does not win" in compile_note(slower)
    faster = {"compile": {"eager_update_ms": 10.0, "compiled_update_ms": 8.0, "compile_seconds": 20.0}}
    assert compile_note(faster).endswith("(0.80x; compiling took 20 s): it wins.")
    assert compile_note({}) == ""  # measurements from before the comparison existed
