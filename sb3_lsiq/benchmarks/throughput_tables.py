"""The throughput tables and goal ratios, kept apart from the measurement so the report and the goals can read a
measurement file without importing torch or the algorithms."""

from __future__ import annotations

from typing import Any


def measurement_summary(results: dict[str, Any]) -> dict[str, Any]:
    """What the goals need from one measurement: its date and each configuration's env-steps/s and GEMM floor."""
    return {
        "date": results.get("date"),  # None: measured before dates were recorded
        "repeats": results["repeats"],
        "configs": {
            name: {key: row[key] for key in ("env_steps_per_second", "gemm_floor_ms")}
            for name, row in results["configs"].items()
        },
    }


def with_history(results: dict[str, Any], previous: dict[str, Any] | None) -> dict[str, Any]:
    """``results`` with ``history``: the summaries of every earlier measurement of the same env, then this one.
    Why keep them: run-to-run noise on this machine is close to the goals' margins (0.1x), so the goals are decided
    on the median over measurements taken at different times, not on the latest one."""
    earlier: list[dict[str, Any]] = []
    if previous is not None and previous.get("env_id") == results["env_id"]:
        # a file from before the history existed holds one measurement: its own summary
        earlier = previous.get("history") or [measurement_summary(previous)]
    return {**results, "history": [*earlier, measurement_summary(results)]}


def time_vs_floor(row: dict[str, Any]) -> float:
    """A configuration's measured time per env step over its GEMM floor's (1.0 would be the floor itself)."""
    return 1e3 / row["gemm_floor_ms"] / row["env_steps_per_second"]


def markdown_table(results: dict[str, Any]) -> str:
    """The throughput table of BENCHMARKS.md."""
    configs = results["configs"]
    reference = configs["SAC batch 512"]["env_steps_per_second"]
    lines = [
        "| configuration | env-steps/s (median) | vs SAC batch 512 | update (ms) | GFLOP / update | GEMM floor (ms) "
        "| floor env-steps/s | time vs floor |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, row in configs.items():
        floor_rate = 1e3 / row["gemm_floor_ms"]
        lines.append(
            f"| {name} | {row['env_steps_per_second']:.1f} | {row['env_steps_per_second'] / reference:.2f}x "
            f"| {row['update_ms']:.2f} | {row['gflop_per_update']:.3f} | {row['gemm_floor_ms']:.2f} | {floor_rate:.1f} "
            f"| {time_vs_floor(row):.2f}x |"
        )
    return "\n".join(lines)


def goal_ratios(configs: dict[str, Any], prefix: str) -> tuple[float, float]:
    """For the configuration whose name starts with ``prefix`` in one measurement: its env-steps/s over SAC batch
    512's, and its time per step over its GEMM floor (the two throughput goals)."""
    row = next(value for key, value in configs.items() if key.startswith(prefix + " "))
    return (
        row["env_steps_per_second"] / configs["SAC batch 512"]["env_steps_per_second"],
        time_vs_floor(row),
    )


def history_table(results: dict[str, Any]) -> str:
    """Every measurement of the file's history (empty if there is only one): env-steps/s and the goals' ratios."""
    history = results.get("history") or []
    if len(history) < 2:
        return ""
    names = list(history[-1]["configs"])
    lines = [
        "| measured | repeats | " + " | ".join(f"{name} env-steps/s" for name in names)
        + " | LSIQ vs SAC batch 512 | IQ-Learn vs SAC batch 512 | LSIQ time vs floor | IQ-Learn time vs floor |",
        "|---|---|" + "---|" * (len(names) + 4),
    ]  # fmt: skip
    for measurement in history:
        configs = measurement["configs"]
        (lsiq_speedup, lsiq_floor), (iq_speedup, iq_floor) = (goal_ratios(configs, p) for p in ("LSIQ", "IQ-Learn"))
        rates = " | ".join(f"{configs[name]['env_steps_per_second']:.1f}" for name in names)
        speedups = f"{lsiq_speedup:.2f}x | {iq_speedup:.2f}x"
        floors = f"{lsiq_floor:.2f}x | {iq_floor:.2f}x"
        lines.append(f"| {measurement['date'] or 'undated'} | {measurement['repeats']} | {rates} | {speedups} | {floors} |")
    return "\n".join(lines)
