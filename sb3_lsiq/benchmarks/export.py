"""A run's results: its learning curve (deterministic and stochastic evaluations, merged over the processes that
trained it), its training log and its provenance, written to ``<root>/results`` (see ``spec`` for the layout)."""

from __future__ import annotations

import json
import platform
import re
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from sb3_lsiq.benchmarks.callbacks import read_resume_state
from sb3_lsiq.benchmarks.spec import DEFAULT_ROOT, RunSpec, next_segment, result_file

# What the claims experiments need from the training logs: the critic's values and the implicit reward over a run
TRAIN_LOG_COLUMNS = (
    "time/total_timesteps", "train/q_expert", "train/q_policy", "train/reward_expert", "train/reward_policy",
    "train/target", "train/critic_loss", "rollout/ep_len_mean", "rollout/ep_rew_mean",
)  # fmt: skip
TRAIN_LOG_ROWS = 400
CURVE_COLUMNS = ("timesteps", "det_mean", "det_std", "det_ep_len", "stoch_mean", "stoch_std", "stoch_ep_len")


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
    last_conf = run_dir / f"conf_{next_segment(run_dir) - 1}.yml"
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
