"""The benchmark goals of the issues, checked against the committed results: what is met, missed (by how much) or
still pending. Quality goals use the final deterministic evaluation of finished runs only; a goal over seeds is
decided once all its seeds have finished, and reads "so far" before. Next to each quality goal, the same measure over
the last 5 evaluations, which one noisy final evaluation can hide."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from sb3_lsiq.benchmarks.report import LATE_EVALUATIONS, RunResult, expert_and_random_returns, late_normalised
from sb3_lsiq.benchmarks.suites import QUALITY_ENVS, SEEDS, VARIANT_ENVS
from sb3_lsiq.benchmarks.throughput_tables import goal_ratios

# The issues' targets
LSIQ_TARGET = {5: 0.9, 1: 0.85}
TERMINATING_ENVS = ("Hopper-v5", "Walker2d-v5", "Ant-v5")
STATE_ONLY_RATIO = 0.85  # LSIQ-fO within 15% of LSIQ
SPEEDUP_OVER_SAC_512 = 1.5
MAX_TIME_OVER_FLOOR = 1.5

SeedValues = dict[int, float]  # seed -> an expert-normalised return


def normalised_by_seed(
    results: list[RunResult], label: str, env_id: str, n_demos: int = 5, evaluations: int = 1
) -> SeedValues:
    """Seed -> expert-normalised return of the finished runs of ``label``: the final evaluation, or the mean of the
    last ``evaluations``."""
    runs = [r for r in results if (r.label, r.env_id, r.n_demos) == (label, env_id, n_demos) and r.finished]
    if not runs:
        return {}
    expert, random = expert_and_random_returns(env_id)
    return {run.seed: late_normalised(run, expert, random, evaluations) for run in runs}


def final_and_late(results: list[RunResult], label: str, env_id: str, n_demos: int = 5) -> tuple[SeedValues, SeedValues]:
    """(seed -> final, seed -> last LATE_EVALUATIONS mean) expert-normalised returns of the finished runs."""
    return (
        normalised_by_seed(results, label, env_id, n_demos),
        normalised_by_seed(results, label, env_id, n_demos, LATE_EVALUATIONS),
    )


def _status(measured: float, threshold: float, n_seeds: int | None = None, at_least: bool = True) -> str:
    """met / missed by how much; "so far" while fewer than all seeds have finished (None: not a per-seed goal)."""
    met = measured >= threshold if at_least else measured <= threshold
    verdict = "met" if met else f"missed by {abs(measured - threshold):.2f}"
    if n_seeds is None or n_seeds >= len(SEEDS):
        return verdict
    return f"{verdict} so far ({n_seeds} of {len(SEEDS)} seeds)"


def _row(goal: str, env_id: str, seeds: list[int], measured: str, target: str, status: str, late: str = "-") -> dict[str, Any]:
    return {"goal": goal, "env": env_id, "seeds finished": ", ".join(map(str, seeds)) or "-", "measured": measured,
            "target": target, "status": status, f"last {LATE_EVALUATIONS} evaluations": late}  # fmt: skip


def _paired_goal(
    goal: str, env_id: str, ours: tuple[SeedValues, SeedValues], theirs: tuple[SeedValues, SeedValues], target: str,
    compare: Callable[[float, float], tuple[float, float]],
) -> dict[str, Any]:  # fmt: skip
    """A goal comparing two algorithms on the seeds both have finished (each side: its (final, late) values by seed):
    ``compare(ours_mean, theirs_mean)`` gives (measured value, threshold) for :func:`_status`."""
    seeds = sorted(set(ours[0]) & set(theirs[0]))
    if not seeds:
        return _row(goal, env_id, [], "-", target, "pending")

    def mean_over_seeds(values: SeedValues) -> float:
        return float(np.mean([values[s] for s in seeds]))

    ours_mean, theirs_mean = mean_over_seeds(ours[0]), mean_over_seeds(theirs[0])
    late = f"{mean_over_seeds(ours[1]):.2f} vs {mean_over_seeds(theirs[1]):.2f}"
    measured, threshold = compare(ours_mean, theirs_mean)
    status = _status(measured, threshold, len(seeds))
    return _row(goal, env_id, seeds, f"{ours_mean:.2f} vs {theirs_mean:.2f}", target, status, late)


def goal_rows(results: list[RunResult], throughput: dict[str, Any] | None) -> list[dict[str, Any]]:
    """One row per goal and task."""
    rows = []
    for n_demos, target in LSIQ_TARGET.items():
        for env_id in QUALITY_ENVS:
            values, late = final_and_late(results, "lsiq", env_id, n_demos)
            seeds = sorted(values)
            goal = f"LSIQ, {n_demos} demo{'s' if n_demos > 1 else ''}, final normalised"
            if not seeds:
                rows.append(_row(goal, env_id, [], "-", f">= {target}", "pending"))
                continue
            mean, late_mean = float(np.mean(list(values.values()))), float(np.mean(list(late.values())))
            status = _status(mean, target, len(seeds))
            rows.append(_row(goal, env_id, seeds, f"{mean:.2f}", f">= {target}", status, f"{late_mean:.2f}"))
    for env_id in TERMINATING_ENVS:
        rows.append(_paired_goal(
            "LSIQ >= IQ-Learn, 5 demos, final normalised", env_id, final_and_late(results, "lsiq", env_id),
            final_and_late(results, "iqlearn", env_id), "LSIQ >= IQ-Learn", lambda ours, theirs: (ours, theirs),
        ))  # fmt: skip
    for env_id in VARIANT_ENVS:
        rows.append(_paired_goal(
            "LSIQ-fO within 15% of LSIQ, final normalised", env_id, final_and_late(results, "lsiq-fo", env_id),
            final_and_late(results, "lsiq", env_id), f">= {STATE_ONLY_RATIO} x LSIQ",
            lambda ours, theirs: (ours, STATE_ONLY_RATIO * theirs),
        ))  # fmt: skip
    if throughput is not None:
        env_id = throughput["env_id"]
        for name in ("LSIQ", "IQ-Learn"):
            speedups, over_floors = throughput_ratios(throughput, name)
            speedup, over_floor = float(np.median(speedups)), float(np.median(over_floors))
            speed_status = _status(speedup, SPEEDUP_OVER_SAC_512)
            floor_status = _status(over_floor, MAX_TIME_OVER_FLOOR, at_least=False)
            rows.append(_row(f"{name} env-steps/s over SAC batch 512", env_id, [], _ratio_text(speedups),
                             f">= {SPEEDUP_OVER_SAC_512}x", speed_status))  # fmt: skip
            rows.append(_row(f"{name} time over the GEMM floor", env_id, [], _ratio_text(over_floors),
                             f"<= {MAX_TIME_OVER_FLOOR}x", floor_status))  # fmt: skip
    return rows


def throughput_ratios(throughput: dict[str, Any], name: str) -> tuple[list[float], list[float]]:
    """Per measurement (the file's ``history``, or the file itself if it predates it): the env-steps/s of the
    configuration starting with ``name`` over SAC batch 512's, and its time per step over its GEMM floor."""
    ratios = [goal_ratios(measurement["configs"], name) for measurement in throughput.get("history") or [throughput]]
    return [speedup for speedup, _ in ratios], [over_floor for _, over_floor in ratios]


def _ratio_text(ratios: list[float]) -> str:
    """One ratio, or the median with every measurement's value."""
    if len(ratios) == 1:
        return f"{ratios[0]:.2f}x"
    return f"{np.median(ratios):.2f}x (median of {len(ratios)}: " + ", ".join(f"{r:.2f}x" for r in ratios) + ")"
