"""One benchmark run: an algorithm on an env from N demonstrations with a seed for S steps, trained by rl-zoo3's own
train script with the package's hyperparameter file, evaluated every 10k steps, resumable, its curve kept as data
(the files of a run: ``spec``; its results: ``export``; stopping it: ``stopping``).
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import yaml

from sb3_lsiq.benchmarks.callbacks import RESUME_MODEL, read_resume_state
from sb3_lsiq.benchmarks.export import export
from sb3_lsiq.benchmarks.spec import DEFAULT_ROOT, RunSpec, next_segment, results_finished
from sb3_lsiq.benchmarks.stopping import raise_if_stopping, train_process
from sb3_lsiq.common.hyperparams import load_hyperparams

# The package's PPO-based baselines: no replay buffer
ON_POLICY_ALGOS = ("gail", "vail")


def run_conf(spec: RunSpec, run_dir: Path, resume_timesteps: int) -> dict[str, Any]:
    """The hyperparameter entry of one process: the packaged one, the run's settings and the callbacks."""
    entry = load_hyperparams(spec.algo, spec.env_id)
    entry.update(spec.overrides)
    entry["n_timesteps"] = spec.steps
    entry["n_demo_episodes"] = spec.n_demos
    if spec.algo not in ON_POLICY_ALGOS:
        # Why: SB3 allocates (and a resume point pickles) the whole buffer; a run never holds more than its steps
        entry["buffer_size"] = min(int(entry.get("buffer_size", 1_000_000)), spec.steps)
    if "env_wrapper" in entry:
        # the stochastic evaluation env below is made from the env id alone: a wrapper would be missing there
        raise ValueError(
            f"[{spec.name}] env_wrapper is not supported by the benchmark runner (its stochastic evaluation env would "
            "miss the wrapper); pass constructor arguments through env_kwargs instead."
        )
    stochastic_eval = {
        "env_id": spec.env_id, "eval_freq": spec.eval_freq, "n_eval_episodes": spec.eval_episodes,
        "log_path": str(run_dir / "evaluations_stochastic.npz"), "seed": 10_000 + spec.seed,
    }  # fmt: skip
    if entry.get("env_kwargs"):
        stochastic_eval["env_kwargs"] = entry["env_kwargs"]  # rl-zoo3 makes its envs with them: the same here
    entry["callback"] = [
        {"sb3_lsiq.benchmarks.callbacks.ResumeCheckpointCallback": {
            "save_freq": spec.resume_freq, "save_path": str(run_dir / "resume"), "resume_timesteps": resume_timesteps,
            "stop_freq": spec.eval_freq}},
        {"sb3_lsiq.benchmarks.callbacks.StochasticEvalCallback": stochastic_eval},
        {"sb3_lsiq.benchmarks.callbacks.CSVLogCallback": {"path": str(run_dir / f"progress_{next_segment(run_dir)}.csv")}},
    ]  # fmt: skip
    return {spec.env_id: entry}


def train_command(
    spec: RunSpec, run_dir: Path, conf_file: Path, resume_timesteps: int, env_kwargs: dict[str, Any] | None = None
) -> list[str]:
    """rl-zoo3's train script, through the package's wrapper (it registers the algorithms first).

    ``env_kwargs``: the entry's; rl-zoo3 (2.9) makes its training env with a YAML entry's ``env_kwargs`` but its
    evaluation env only with the command line's, so they are repeated as ``--eval-env-kwargs``."""
    command = [sys.executable, "-m", "sb3_lsiq", "train", "--algo", spec.algo, "--env", spec.env_id]
    command += ["-f", str(run_dir / "zoo"), "--conf-file", str(conf_file), "--seed", str(spec.seed)]
    command += ["--num-threads", "1", "-n", str(spec.steps), "--save-freq", "-1"]
    command += ["--eval-freq", str(spec.eval_freq), "--eval-episodes", str(spec.eval_episodes), "--n-eval-envs", "1"]
    if env_kwargs:
        # rl-zoo3 evaluates each value as Python: repr round-trips the YAML's numbers, booleans, strings and lists
        command += ["--eval-env-kwargs", *(f"{key}:{value!r}" for key, value in env_kwargs.items())]
    if resume_timesteps > 0:
        command += ["-i", str(run_dir / "resume" / RESUME_MODEL)]
    return command


def display_command(command: list[str]) -> str:
    """The command as a user would type it: ``python`` for this interpreter, paths as given (relative by default)."""
    return " ".join(["python" if part == sys.executable else part for part in command])


def committed_finished(spec: RunSpec, root: Path = DEFAULT_ROOT) -> bool:
    """Whether the results folder holds this very run (same spec), finished, while its run folder has nothing to
    resume from: its training state stays on the machine that ran it, its curve is committed. Such a run counts as
    done, so a suite started on a fresh checkout goes on where the committed results end."""
    _, json_path = spec.result_paths(root)
    if not json_path.exists() or read_resume_state(spec.run_dir(root) / "resume") != (0, False):
        return False
    provenance = json.loads(json_path.read_text())
    return provenance.get("spec") == asdict(spec) and results_finished(provenance, spec.steps)


def run(spec: RunSpec, root: Path = DEFAULT_ROOT, quiet: bool = False) -> Path:
    """Train (or continue) the run, then export its curve; returns the result CSV. A finished run only re-exports;
    one finished elsewhere (its results committed, no run folder here) is left as it is."""
    if committed_finished(spec, root):
        csv_path, json_path = spec.result_paths(root)
        if not quiet:
            print(f"[{spec.name}] finished, results in {json_path}; delete them to train it again", flush=True)
        return csv_path
    if spec.algo == "bc":  # not an RL algorithm: imitation's BC, outside rl-zoo3
        from sb3_lsiq.benchmarks.bc import run_bc

        return run_bc(spec, root)
    raise_if_stopping()  # a stopped suite starts no further run
    run_dir = spec.run_dir(root)
    run_dir.mkdir(parents=True, exist_ok=True)
    resume_timesteps, finished = read_resume_state(run_dir / "resume")
    if not (finished and resume_timesteps >= spec.steps):  # a finished run asked for more steps is extended
        segment = next_segment(run_dir)
        conf_file = run_dir / f"conf_{segment}.yml"
        conf = run_conf(spec, run_dir, resume_timesteps)
        conf_file.write_text(yaml.safe_dump(conf, sort_keys=False))
        command = train_command(spec, run_dir, conf_file, resume_timesteps, conf[spec.env_id].get("env_kwargs"))
        if not quiet:
            start = f"resuming at {resume_timesteps}" if resume_timesteps else "new run"
            print(f"[{spec.name}] {start}; log: {run_dir / 'train.log'}", flush=True)
        started = time.time()
        with (run_dir / "train.log").open("a") as log:
            log.write(f"$ {display_command(command)}\n")
            log.flush()
            returncode = train_process(command, log)
        _record_segment(run_dir, segment, resume_timesteps, time.time() - started, command, returncode)
        if returncode != 0:
            raise RuntimeError(f"[{spec.name}] rl-zoo3 exited with {returncode}; see {run_dir / 'train.log'}")
    return export(spec, root)


def _record_segment(run_dir: Path, segment: int, start: int, seconds: float, command: list[str], returncode: int) -> None:
    path = run_dir / "segments.json"
    segments = json.loads(path.read_text()) if path.exists() else []
    segments.append({"segment": segment, "start_timesteps": start, "seconds": round(seconds, 1),
                     "command": display_command(command), "returncode": returncode})  # fmt: skip
    path.write_text(json.dumps(segments, indent=1))
