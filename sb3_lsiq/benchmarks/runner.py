"""One benchmark run: an algorithm on an env from N demonstrations with a seed for S steps, trained by rl-zoo3's own
train script with the package's hyperparameter file, evaluated every 10k steps, resumable, its curve kept as data.

Layout under the benchmark root (``benchmarks/`` by default)::

    runs/<label>/<env>/demos<N>_seed<S>/      everything of a run (models, buffers, logs): not committed
        conf_<k>.yml                          the hyperparameter file of the k-th process (segment)
        zoo/<algo>/<env>_<k>/                 rl-zoo3's folder of that segment (evaluations.npz, best_model.zip)
        resume/                               the resume point (model, replay buffer, step count)
        evaluations_stochastic.npz            the stochastic-policy curve
        progress_<k>.csv                      every logged value (train/q_expert, rollout/ep_len_mean, ...)
        train.log                             rl-zoo3's output
    results/<label>__<env>__demos<N>__seed<S>.csv / .json   the curve and the run's provenance: committed
"""

from __future__ import annotations

import json
import platform
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from sb3_lsiq.benchmarks.callbacks import RESUME_MODEL, read_resume_state
from sb3_lsiq.common.hyperparams import load_hyperparams

DEFAULT_ROOT = Path("benchmarks")
# What the claims experiments need from the training logs: the critic's values and the implicit reward over a run
TRAIN_LOG_COLUMNS = (
    "time/total_timesteps", "train/q_expert", "train/q_policy", "train/reward_expert", "train/reward_policy",
    "train/target", "train/critic_loss", "rollout/ep_len_mean", "rollout/ep_rew_mean",
)  # fmt: skip
TRAIN_LOG_ROWS = 400
CURVE_COLUMNS = ("timesteps", "det_mean", "det_std", "det_ep_len", "stoch_mean", "stoch_std", "stoch_ep_len")


@dataclass
class RunSpec:
    """What a benchmark run is; two runs with the same spec write to the same folder (and resume each other).

    :param algo: rl-zoo3 name of the algorithm (``lsiq``, ``iqlearn``)
    :param env_id: gymnasium env id with a dataset and an entry in ``hyperparams/<algo>.yml``
    :param n_demos: expert episodes used (the first N of the dataset)
    :param seed: the run's seed (nothing is tuned per seed)
    :param steps: environment steps
    :param tag: names a variant (with ``overrides``): the run's label is ``<algo>-<tag>``
    :param overrides: hyperparameters replacing the packaged entry's, e.g. ``{"treat_absorbing": False}``
    :param eval_freq: environment steps between evaluations
    :param eval_episodes: episodes per evaluation (deterministic and stochastic each)
    :param resume_freq: environment steps between resume points (a multiple of ``eval_freq``)
    """

    algo: str
    env_id: str
    n_demos: int
    seed: int
    steps: int
    tag: str = ""
    overrides: dict[str, Any] = field(default_factory=dict)
    eval_freq: int = 10_000
    eval_episodes: int = 10
    resume_freq: int = 50_000

    def __post_init__(self) -> None:
        if self.resume_freq % self.eval_freq:
            raise ValueError(
                f"resume_freq={self.resume_freq} must be a multiple of eval_freq={self.eval_freq}, "
                "so that a resumed run evaluates at the same steps."
            )
        if self.overrides and not self.tag:
            raise ValueError(
                f"overrides {self.overrides} need a tag naming the variant (--tag), so that runs with other settings "
                "never share a folder or a results file with the packaged settings."
            )
        if self.tag and not re.fullmatch(r"[A-Za-z0-9_.-]+", self.tag):
            raise ValueError(f"tag={self.tag!r} may hold letters, digits and _ . - only (it names files).")

    @property
    def label(self) -> str:
        return f"{self.algo}-{self.tag}" if self.tag else self.algo

    @property
    def name(self) -> str:
        return f"{self.label}__{self.env_id}__demos{self.n_demos}__seed{self.seed}"

    def command(self) -> str:
        """The command line that makes (or resumes) this run."""
        parts = ["python -m sb3_lsiq.benchmarks run", f"--algo {self.algo} --env {self.env_id} --demos {self.n_demos}",
                 f"--seed {self.seed} --steps {self.steps}"]  # fmt: skip
        if self.tag:
            parts.append(f"--tag {self.tag}")
        if self.overrides:
            # shell-quoted where a value needs it (a mapping or list holds spaces and braces), so the line can be pasted
            pairs = (f"{key}={json.dumps(value)}" for key, value in self.overrides.items())
            parts.append(
                "--set " + " ".join(pair if re.fullmatch(r'[\w.=:"+-]+', pair) else shlex.quote(pair) for pair in pairs)
            )
        defaults = RunSpec(self.algo, self.env_id, self.n_demos, self.seed, self.steps)
        for option in ("eval_freq", "eval_episodes", "resume_freq"):
            if getattr(self, option) != getattr(defaults, option):
                parts.append(f"--{option.replace('_', '-')} {getattr(self, option)}")
        return " ".join(parts)

    def run_dir(self, root: Path) -> Path:
        return root / "runs" / self.label / self.env_id / f"demos{self.n_demos}_seed{self.seed}"

    def result_paths(self, root: Path) -> tuple[Path, Path]:
        return result_file(root, self.name, "csv"), result_file(root, self.name, "json")


def result_file(root: Path, name: str, kind: str) -> Path:
    """A run's committed result file: ``kind`` is ``csv`` (curve), ``json`` (provenance) or ``train.csv``."""
    # appended, never with_suffix: a tag such as "ent0.01" holds a dot that with_suffix would cut the name at
    return root / "results" / f"{name}.{kind}"


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
        {"sb3_lsiq.benchmarks.callbacks.CSVLogCallback": {"path": str(run_dir / f"progress_{_segment(run_dir)}.csv")}},
    ]  # fmt: skip
    return {spec.env_id: entry}


def _segment(run_dir: Path) -> int:
    """1 + the number of processes that already worked on this run."""
    return len(list(run_dir.glob("conf_*.yml"))) + 1


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


def results_finished(provenance: dict[str, Any], steps: int) -> bool:
    """Whether a run's results (its provenance JSON) say it finished ``steps`` steps."""
    return bool(provenance.get("finished")) and int(provenance.get("completed_timesteps", 0)) >= steps


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
        segment = _segment(run_dir)
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


# The rl-zoo3 processes this process started and that still run (several with --jobs 2, one per worker thread)
_TRAINING_PROCESSES: set[subprocess.Popen] = set()
_TRAINING_PROCESSES_LOCK = threading.RLock()  # re-entrant: the handler may interrupt the main thread holding it
# Set by the signal handler: no run starts once the runner is being stopped; holds the signal's number
_STOP_SIGNAL: list[int] = []
# How long a stopped rl-zoo3 process may take to reach its next evaluation step and save a resume point there
# (10k steps at ~40 steps/s, plus the evaluation) before it is killed
STOP_GRACE_SECONDS = 600.0


def train_process(command: list[str], log: Any) -> int:
    """Run one rl-zoo3 process to its end and return its exit code. If this process is interrupted, the child is
    stopped too: left alone it would keep a core busy for hours with nobody to export its curve."""
    with _TRAINING_PROCESSES_LOCK:  # the handler's snapshot and a start cannot interleave
        raise_if_stopping()
        # Its own session: Ctrl-C in a terminal signals the whole foreground group, and a child that got the
        # terminal's SIGINT and then the forwarded SIGTERM would take the second as "stop at once"
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        _TRAINING_PROCESSES.add(process)
    try:
        return process.wait()
    finally:
        with _TRAINING_PROCESSES_LOCK:
            _TRAINING_PROCESSES.discard(process)
        if process.poll() is None:  # an exception (e.g. Ctrl-C without stop_training_on_signals) ends the wait
            process.terminate()
            _wait_or_kill(process, STOP_GRACE_SECONDS)


def stop_signal() -> int | None:
    """The signal that is stopping the runner, if one is."""
    return _STOP_SIGNAL[0] if _STOP_SIGNAL else None


def raise_if_stopping() -> None:
    if _STOP_SIGNAL:
        raise RuntimeError("stopped by a signal before this run started")


def _wait_or_kill(process: subprocess.Popen, seconds: float) -> None:
    try:
        process.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def stop_training_on_signals() -> None:
    """Make SIGTERM and SIGINT stop the runner gracefully: each running rl-zoo3 process is asked to stop (it
    trains on to its next evaluation step, saves a resume point there and exits, see ``ResumeCheckpointCallback``),
    its curve is exported, and no further run starts. A second signal stops the processes at once; one that has
    not stopped after ``STOP_GRACE_SECONDS`` is killed. The handler does not block: signals reach the main thread
    only, while a suite's runs wait in worker threads."""

    def handler(signum: int, frame: Any) -> None:
        with _TRAINING_PROCESSES_LOCK:
            first = not _STOP_SIGNAL
            if first:
                _STOP_SIGNAL.append(signum)
            processes = list(_TRAINING_PROCESSES)
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        if first:
            print(f"Stopping: {len(processes)} training process(es) save a resume point at their next evaluation step"
                  f" (at most {STOP_GRACE_SECONDS:.0f} s); signal again to stop them at once", flush=True)  # fmt: skip
            for process in processes:
                threading.Thread(target=_wait_or_kill, args=(process, STOP_GRACE_SECONDS), daemon=True).start()

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, handler)


def _record_segment(run_dir: Path, segment: int, start: int, seconds: float, command: list[str], returncode: int) -> None:
    path = run_dir / "segments.json"
    segments = json.loads(path.read_text()) if path.exists() else []
    segments.append({"segment": segment, "start_timesteps": start, "seconds": round(seconds, 1),
                     "command": display_command(command), "returncode": returncode})  # fmt: skip
    path.write_text(json.dumps(segments, indent=1))


def merged_evaluations(run_dir: Path) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """rl-zoo3's deterministic evaluations of every segment, by step; a later segment replaces what an interrupted
    one logged after the later one's start. The start comes from the segment's conf file, written before it runs:
    segments.json is written after, so a killed segment has no record there."""
    merged: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    folders = sorted(run_dir.glob("zoo/*/*_[0-9]*"), key=lambda p: int(p.name.rsplit("_", 1)[1]))
    for index, folder in enumerate(folders, start=1):
        npz = folder / "evaluations.npz"
        if not npz.exists():
            continue
        start = conf_start_timesteps(run_dir / f"conf_{index}.yml")
        merged = {step: value for step, value in merged.items() if step <= start}
        with np.load(npz) as data:
            for step, returns, lengths in zip(data["timesteps"], data["results"], data["ep_lengths"]):
                merged[int(step)] = (np.asarray(returns), np.asarray(lengths))
    return merged


def conf_start_timesteps(conf_file: Path) -> int:
    """The step a segment resumed from, as its conf file gave it to the resume callback (0: a new run or no file)."""
    if not conf_file.exists():
        return 0
    for env_settings in (yaml.safe_load(conf_file.read_text()) or {}).values():
        for entry in env_settings.get("callback", []):
            for name, kwargs in entry.items():
                if name.endswith("ResumeCheckpointCallback"):
                    return int(kwargs.get("resume_timesteps", 0))
    return 0


def curve(run_dir: Path) -> np.ndarray:
    """The run's learning curve, one row per evaluation: the columns of ``CURVE_COLUMNS``."""
    deterministic = merged_evaluations(run_dir)
    stochastic: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    stochastic_file = run_dir / "evaluations_stochastic.npz"
    if stochastic_file.exists():
        with np.load(stochastic_file) as data:
            for step, returns, lengths in zip(data["timesteps"], data["results"], data["ep_lengths"]):
                stochastic[int(step)] = (np.asarray(returns), np.asarray(lengths))
    rows = []
    for step in sorted(set(deterministic) | set(stochastic)):
        row = [float(step)]
        for source in (deterministic, stochastic):
            if step in source:
                returns, lengths = source[step]
                row += [float(np.mean(returns)), float(np.std(returns)), float(np.mean(lengths))]
            else:
                row += [np.nan, np.nan, np.nan]
        rows.append(row)
    return np.asarray(rows, dtype=np.float64).reshape(-1, len(CURVE_COLUMNS))  # (n_evaluations, 7)


def train_log(run_dir: Path, max_rows: int = TRAIN_LOG_ROWS) -> np.ndarray:
    """The logged training values of ``TRAIN_LOG_COLUMNS`` over the run (every process), at most ``max_rows`` rows
    evenly spread over it; NaN where a value was not logged."""
    by_step: dict[int, list[float]] = {}
    for path in sorted(run_dir.glob("progress_*.csv"), key=lambda p: int(p.stem.rsplit("_", 1)[1])):
        with path.open() as file:
            header = file.readline().strip().split(",")
            for line in file:
                values = dict(zip(header, line.rstrip("\n").split(",")))
                if not values.get("train/critic_loss"):
                    continue  # an evaluation-only row
                row = [float(values[c]) if values.get(c) else np.nan for c in TRAIN_LOG_COLUMNS]
                if np.isnan(row[0]):
                    # offline training logs its step as offline/updates (num_timesteps counts the updates there)
                    row[0] = float(values["offline/updates"])
                step = int(row[0])
                # a resumed process logs again from its resume point: later lines replace earlier ones
                by_step = {s: r for s, r in by_step.items() if s < step}
                by_step[step] = row
    rows = np.asarray([by_step[step] for step in sorted(by_step)], dtype=np.float64).reshape(-1, len(TRAIN_LOG_COLUMNS))
    if len(rows) > max_rows:
        rows = rows[np.linspace(0, len(rows) - 1, max_rows).round().astype(int)]
    return rows


def export(spec: RunSpec, root: Path = DEFAULT_ROOT) -> Path:
    """Write the run's curve (CSV) and provenance (JSON) to ``<root>/results``."""
    run_dir = spec.run_dir(root)
    csv_path, json_path = spec.result_paths(root)
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    run_curve = curve(run_dir)
    np.savetxt(csv_path, run_curve, delimiter=",", header=",".join(CURVE_COLUMNS), comments="", fmt="%.6g")
    train_log_rows = train_log(run_dir)
    np.savetxt(result_file(root, spec.name, "train.csv"), train_log_rows, delimiter=",", header=",".join(TRAIN_LOG_COLUMNS),
               comments="", fmt="%.6g")  # fmt: skip
    segments_file = run_dir / "segments.json"
    segments = json.loads(segments_file.read_text()) if segments_file.exists() else []
    resume_timesteps, finished = read_resume_state(run_dir / "resume")
    provenance = {
        "spec": asdict(spec),
        # How far the run got: its resume point, or its last evaluation when a process is (or was cut) past it
        "completed_timesteps": max(resume_timesteps, int(run_curve[-1, 0]) if len(run_curve) else 0),
        "resume_timesteps": resume_timesteps,
        "finished": finished,
        "wall_seconds": round(sum(s["seconds"] for s in segments), 1),
        "segments": segments,
        # The settings the last process trained with, so a row stays explained after the packaged files change
        "hyperparameters": run_hyperparameters(spec, run_dir),
        "machine": machine_description(),
    }
    json_path.write_text(json.dumps(provenance, indent=1))
    return csv_path


def run_hyperparameters(spec: RunSpec, run_dir: Path) -> dict[str, Any]:
    """The hyperparameter entry of the run's last process (its conf file without the benchmark's callbacks); empty
    for a run that has none (BC)."""
    last_conf = run_dir / f"conf_{_segment(run_dir) - 1}.yml"
    if not last_conf.exists():
        return {}
    entry = yaml.safe_load(last_conf.read_text())[spec.env_id]
    return {key: value for key, value in entry.items() if key != "callback"}


def machine_description() -> dict[str, Any]:
    """CPU model, core count, OS and the versions of the packages that shape the numbers."""
    import importlib.metadata
    import os

    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        match = re.search(r"model name\s*:\s*(.+)", cpuinfo.read_text())
        if match:
            cpu = match.group(1).strip()
    versions = {}
    for package in ("sb3-lsiq", "stable-baselines3", "rl_zoo3", "gymnasium", "mujoco", "torch", "imitation"):
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            continue
    return {"cpu": cpu, "cores": os.cpu_count(), "os": platform.platform(terse=True),
            "python": platform.python_version(), "versions": versions}  # fmt: skip
