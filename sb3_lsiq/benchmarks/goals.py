"""The benchmark goals of the issues, checked against the committed results: what is met, missed (by how much) or
still pending. Quality goals use the final deterministic evaluation of finished runs only; a goal over seeds is
decided once all its seeds have finished, and reads "so far" before."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from sb3_lsiq.benchmarks.report import RunResult, expert_and_random_returns, scores
from sb3_lsiq.benchmarks.suites import QUALITY_ENVS, SEEDS, VARIANT_ENVS

# The issues' targets
LSIQ_TARGET = {5: 0.9, 1: 0.85}
TERMINATING_ENVS = ("Hopper-v5", "Walker2d-v5", "Ant-v5")
STATE_ONLY_RATIO = 0.85  # LSIQ-fO within 15% of LSIQ
SPEEDUP_OVER_SAC_512 = 1.5
MAX_TIME_OVER_FLOOR = 1.5


def final_normalised(results: list[RunResult], label: str, env_id: str, n_demos: int = 5) -> dict[int, float]:
    """Seed -> expert-normalised final return of the finished runs of ``label``."""
    runs = [r for r in results if (r.label, r.env_id, r.n_demos) == (label, env_id, n_demos) and r.finished]
    if not runs:
        return {}
    expert, random = expert_and_random_returns(env_id)
    return {run.seed: float(scores(run.column("det_mean")[-1:], expert, random)["normalized"][0]) for run in runs}


def _status(measured: float, threshold: float, n_seeds: int | None = None, at_least: bool = True) -> str:
    """met / missed by how much; "so far" while fewer than all seeds have finished (None: not a per-seed goal)."""
    met = measured >= threshold if at_least else measured <= threshold
    verdict = "met" if met else f"missed by {abs(measured - threshold):.2f}"
    if n_seeds is None or n_seeds >= len(SEEDS):
        return verdict
    return f"{verdict} so far ({n_seeds} of {len(SEEDS)} seeds)"


def _row(goal: str, env_id: str, seeds: list[int], measured: str, target: str, status: str) -> dict[str, Any]:
    return {"goal": goal, "env": env_id, "seeds finished": ", ".join(map(str, seeds)) or "-", "measured": measured,
            "target": target, "status": status}  # fmt: skip


def _paired_goal(
    goal: str, env_id: str, ours: dict[int, float], theirs: dict[int, float], target: str,
    compare: Callable[[float, float], tuple[float, float]],
) -> dict[str, Any]:  # fmt: skip
    """A goal comparing two algorithms on the seeds both have finished: ``compare(ours_mean, theirs_mean)`` gives
    (measured value, threshold) for :func:`_status`."""
    seeds = sorted(set(ours) & set(theirs))
    if not seeds:
        return _row(goal, env_id, [], "-", target, "pending")
    ours_mean, theirs_mean = float(np.mean([ours[s] for s in seeds])), float(np.mean([theirs[s] for s in seeds]))
    measured, threshold = compare(ours_mean, theirs_mean)
    return _row(goal, env_id, seeds, f"{ours_mean:.2f} vs {theirs_mean:.2f}", target, _status(measured, threshold, len(seeds)))


def goal_rows(results: list[RunResult], throughput: dict[str, Any] | None) -> list[dict[str, Any]]:
    """One row per goal and task."""
    rows = []
    for n_demos, target in LSIQ_TARGET.items():
        for env_id in QUALITY_ENVS:
            values = final_normalised(results, "lsiq", env_id, n_demos)
            seeds = sorted(values)
            goal = f"LSIQ, {n_demos} demo{'s' if n_demos > 1 else ''}, final normalised"
            if not seeds:
                rows.append(_row(goal, env_id, [], "-", f">= {target}", "pending"))
                continue
            mean = float(np.mean(list(values.values())))
            rows.append(_row(goal, env_id, seeds, f"{mean:.2f}", f">= {target}", _status(mean, target, len(seeds))))
    for env_id in TERMINATING_ENVS:
        rows.append(_paired_goal(
            "LSIQ >= IQ-Learn, 5 demos, final normalised", env_id, final_normalised(results, "lsiq", env_id),
            final_normalised(results, "iqlearn", env_id), "LSIQ >= IQ-Learn", lambda ours, theirs: (ours, theirs),
        ))  # fmt: skip
    for env_id in VARIANT_ENVS:
        rows.append(_paired_goal(
            "LSIQ-fO within 15% of LSIQ, final normalised", env_id, final_normalised(results, "lsiq-fo", env_id),
            final_normalised(results, "lsiq", env_id), f">= {STATE_ONLY_RATIO} x LSIQ",
            lambda ours, theirs: (ours, STATE_ONLY_RATIO * theirs),
        ))  # fmt: skip
    if throughput is not None:
        configs = throughput["configs"]
        reference = configs["SAC batch 512"]["env_steps_per_second"]
        for name in ("LSIQ", "IQ-Learn"):
            row = next(value for key, value in configs.items() if key.startswith(name + " "))
            speedup = row["env_steps_per_second"] / reference
            over_floor = 1e3 / row["gemm_floor_ms"] / row["env_steps_per_second"]
            env_id = throughput["env_id"]
            speed_status = _status(speedup, SPEEDUP_OVER_SAC_512)
            floor_status = _status(over_floor, MAX_TIME_OVER_FLOOR, at_least=False)
            rows.append(_row(f"{name} env-steps/s over SAC batch 512", env_id, [], f"{speedup:.2f}x",
                             f">= {SPEEDUP_OVER_SAC_512}x", speed_status))  # fmt: skip
            rows.append(_row(f"{name} time over the GEMM floor", env_id, [], f"{over_floor:.2f}x",
                             f"<= {MAX_TIME_OVER_FLOOR}x", floor_status))  # fmt: skip
    return rows
