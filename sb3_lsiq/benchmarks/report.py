"""``python -m sb3_lsiq.benchmarks report``: every result under ``<root>/results`` into BENCHMARKS.md (tables) and
``<root>/plots`` (PNG learning curves with the expert's and a random policy's level)."""

from __future__ import annotations

import json
import os
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sb3_lsiq.benchmarks.callbacks import read_resume_state
from sb3_lsiq.benchmarks.export import CURVE_COLUMNS
from sb3_lsiq.benchmarks.spec import RunSpec, result_file, results_finished
from sb3_lsiq.benchmarks.suites import QUALITY_ENVS
from sb3_lsiq.benchmarks.throughput_tables import history_table, markdown_table
from sb3_lsiq.data import packaged_dataset_path

CLAIM_COLUMNS = ("train/q_expert", "train/q_policy", "train/reward_expert", "train/reward_policy")


@dataclass
class RunResult:
    """One run's curve and provenance, read from ``results/<name>.csv`` and ``.json``."""

    name: str
    label: str
    env_id: str
    n_demos: int
    seed: int
    steps: int
    completed: int
    curve: np.ndarray  # (n_evaluations, len(CURVE_COLUMNS))
    provenance: dict[str, Any]

    def column(self, name: str) -> np.ndarray:
        return self.curve[:, CURVE_COLUMNS.index(name)]

    @property
    def finished(self) -> bool:
        return results_finished(self.provenance, self.steps)


def read_results(root: Path) -> list[RunResult]:
    results = []
    for json_path in sorted((root / "results").glob("*__*.json")):
        provenance = json.loads(json_path.read_text())
        spec = provenance["spec"]
        name = json_path.name.removesuffix(".json")  # not .stem: a tag may hold a dot
        curve = np.loadtxt(result_file(root, name, "csv"), delimiter=",", skiprows=1, ndmin=2)
        label = f"{spec['algo']}-{spec['tag']}" if spec.get("tag") else spec["algo"]
        curve = curve.reshape(-1, len(CURVE_COLUMNS))  # (n_evaluations, n_columns), also for a single row
        results.append(
            RunResult(name, label, spec["env_id"], spec["n_demos"], spec["seed"], spec["steps"],
                      provenance["completed_timesteps"], curve, provenance)
        )  # fmt: skip
    return results


def dataset_metadata(env_id: str) -> dict[str, Any]:
    """The metadata of the shipped dataset of ``env_id`` (read alone, without the transitions)."""
    with np.load(packaged_dataset_path(env_id)) as data:
        return json.loads(str(data["metadata"]))


def expert_and_random_returns(env_id: str) -> tuple[float, float]:
    """The expert's mean return (all episodes of the shipped dataset) and a random policy's, from its metadata."""
    metadata = dataset_metadata(env_id)
    return float(metadata["mean_return"]), float(metadata["random_mean_return"])


def reference_rows(env_ids: list[str]) -> list[dict[str, Any]]:
    """The levels behind the scores, per env: the expert's over all its recorded episodes (how many ended by a
    fall), over the first 1 and 5 (the demonstrations the runs imitate), and a random policy's."""
    rows = []
    for env_id in env_ids:
        metadata = dataset_metadata(env_id)
        returns = np.asarray(metadata["episode_returns"])
        rows.append({
            "env": env_id, "expert (all episodes)": f"{returns.mean():.0f} ± {returns.std():.0f}",
            "episodes": len(returns), "terminated early": int(np.sum(metadata["episode_terminated"])),
            "first 5 demos": f"{returns[:5].mean():.0f}", "first demo": f"{returns[0]:.0f}",
            "random": f"{metadata['random_mean_return']:.0f}",
        })  # fmt: skip
    return rows


# The evaluations averaged in the "last 5" column. A hopping or walking policy's final evaluation swings by up to 0.5
# normalised between neighbouring evaluations (one fall in ten episodes halves an episode's return), so the mean of
# the last few says how well a run ends, and the final and best columns alone do not
LATE_EVALUATIONS = 5


def scores(returns: np.ndarray, expert: float, random: float) -> dict[str, np.ndarray]:
    """R, R / R_expert and (R - R_random) / (R_expert - R_random)."""
    return {"return": returns, "ratio": returns / expert, "normalized": (returns - random) / (expert - random)}


def _mean_std(values: list[float]) -> str:
    if not values:
        return "-"
    return (
        f"{np.mean(values):.2f} ± {np.std(values):.2f}"
        if abs(np.mean(values)) < 100
        else f"{np.mean(values):.0f} ± {np.std(values):.0f}"
    )


def late_normalised(run: RunResult, expert: float, random: float, evaluations: int = LATE_EVALUATIONS) -> float:
    """Mean normalised return of the run's last ``evaluations`` deterministic evaluations (fewer if it has fewer)."""
    return float(scores(run.column("det_mean")[-evaluations:], expert, random)["normalized"].mean())


def quality_rows(results: list[RunResult]) -> list[dict[str, Any]]:
    """One row per (env, algorithm, demos): mean ± std over seeds of the final, best and late deterministic evaluations."""
    groups: dict[tuple[str, str, int], list[RunResult]] = defaultdict(list)
    for result in results:
        if len(result.curve):
            groups[(result.env_id, result.label, result.n_demos)].append(result)
    rows = []
    for (env_id, label, n_demos), runs in sorted(groups.items()):
        expert, random = expert_and_random_returns(env_id)
        final = [scores(run.column("det_mean")[-1:], expert, random) for run in runs]
        best = [scores(run.column("det_mean").max(keepdims=True), expert, random) for run in runs]
        stochastic = [scores(run.column("stoch_mean")[-1:], expert, random) for run in runs]
        rows.append({
            "env": env_id, "algorithm": label, "demos": n_demos, "seeds": ", ".join(str(r.seed) for r in runs),
            "steps": ", ".join(f"{r.completed // 1000}k" + ("" if r.finished else " (unfinished)") for r in runs),
            "final return": _mean_std([float(s["return"][0]) for s in final]),
            "final R/R_E": _mean_std([float(s["ratio"][0]) for s in final]),
            "final normalised": _mean_std([float(s["normalized"][0]) for s in final]),
            "best normalised": _mean_std([float(s["normalized"][0]) for s in best]),
            f"last {LATE_EVALUATIONS} normalised": _mean_std([late_normalised(run, expert, random) for run in runs]),
            "final normalised (stochastic)": _mean_std([float(s["normalized"][0]) for s in stochastic]),
        })  # fmt: skip
    return rows


def markdown(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "_No results yet._"
    header = list(rows[0])
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(row[key]) for key in header) + " |" for row in rows]
    return "\n".join(lines)


def plot_env(env_id: str, results: list[RunResult], path: Path) -> None:
    """Mean ± std over seeds of the deterministic evaluation of every (algorithm, demos) on ``env_id``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    expert, random = expert_and_random_returns(env_id)
    groups: dict[tuple[str, int], list[RunResult]] = defaultdict(list)
    for result in results:
        if result.env_id == env_id and len(result.curve):
            groups[(result.label, result.n_demos)].append(result)
    figure, axis = plt.subplots(figsize=(7, 4.5))
    for (label, n_demos), runs in sorted(groups.items()):
        length = min(len(run.curve) for run in runs)  # seeds that are still running cut the mean short
        steps = runs[0].column("timesteps")[:length]
        returns = np.stack([run.column("det_mean")[:length] for run in runs])  # (seeds, length)
        mean, std = returns.mean(axis=0), returns.std(axis=0)
        line = axis.plot(steps, mean, label=f"{label}, {n_demos} demo(s), {len(runs)} seed(s)")[0]
        axis.fill_between(steps, mean - std, mean + std, color=line.get_color(), alpha=0.2)
    axis.axhline(expert, color="black", linestyle="--", label=f"expert ({expert:.0f})")
    axis.axhline(random, color="grey", linestyle=":", label=f"random ({random:.0f})")
    axis.set_xlabel("environment steps")
    axis.set_ylabel("return (deterministic, 10 episodes)")
    axis.set_title(env_id)
    axis.legend(fontsize=8)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)


def progress_section(root: Path) -> str:
    """How much of each suite has results: finished runs, unfinished ones (steps done), runs not started, and the
    steps (environment steps, or updates for BC and offline runs) still to train."""
    from sb3_lsiq.benchmarks.suites import SUITES

    rows = []
    for name, suite in SUITES.items():
        if name == "smoke":
            continue
        finished: list[str] = []
        partial: list[str] = []
        missing: list[RunSpec] = []
        steps_left = 0
        for spec in suite():
            json_path = spec.result_paths(root)[1]
            if not json_path.exists():
                missing.append(spec)
                steps_left += spec.steps
                continue
            provenance = json.loads(json_path.read_text())
            done = provenance["completed_timesteps"]
            is_finished = results_finished(provenance, spec.steps)
            (finished if is_finished else partial).append(f"{spec.name} ({done // 1000}k)")
            # an unfinished run resumes from its resume point where its run folder is kept, else it starts over
            steps_left += 0 if is_finished else spec.steps - read_resume_state(spec.run_dir(root) / "resume")[0]
        rows.append({"suite": name, "runs": len(suite()), "finished": len(finished),
                     "unfinished (curve so far)": ", ".join(partial) or "-", "not started": len(missing),
                     "steps left": f"{steps_left / 1e6:.2f}M"})  # fmt: skip
    return "## Progress\n\n`python -m sb3_lsiq.benchmarks suite NAME --list` shows each run.\n\n" + markdown(rows)


def relative_path(path: Path, output: Path) -> str:
    """``path`` as a link from the folder of ``output``."""
    return Path(os.path.relpath(path, output.parent)).as_posix()


def write_report(root: Path, output: Path) -> None:
    from sb3_lsiq.benchmarks.claims import SURVIVAL_ENV, claims_sections
    from sb3_lsiq.benchmarks.goals import goal_rows

    results = read_results(root)
    plots_dir = root / "plots"
    envs = sorted({result.env_id for result in results})
    for env_id in envs:
        plot_env(env_id, results, plots_dir / f"{env_id}.png")
    quality = [r for r in results if r.env_id in QUALITY_ENVS]
    others = [r for r in results if r.env_id not in QUALITY_ENVS and r.env_id != SURVIVAL_ENV]
    throughput_file = root / "results" / "throughput.json"
    throughput = json.loads(throughput_file.read_text()) if throughput_file.exists() else None
    sections = [
        HEADER,
        progress_section(root),
        "## Goals\n\n" + GOALS_NOTE + "\n\n" + markdown(goal_rows(results, throughput)),
        "## Imitation quality\n\n" + QUALITY_NOTE + "\n\n" + markdown(quality_rows(quality)),
    ]
    quality_envs = sorted({r.env_id for r in quality})
    if quality_envs:
        sections.append(REFERENCE_NOTE + "\n\n" + markdown(reference_rows(quality_envs)))
    sections += [
        f"![{env_id}]({relative_path(plots_dir / f'{env_id}.png', output)})" for env_id in envs if env_id in QUALITY_ENVS
    ]
    sections.append(claims_sections(results, root, output))
    if others:
        sections.append("## Other runs\n\n" + markdown(quality_rows(others)))
    sections.append(labels_section(root))
    if throughput is not None:
        profile = "\n".join(
            f"| {row['op']} | {100 * row['share']:.1f}% | {row['ms_per_update']:.3f} |" for row in throughput["profile"]
        )
        sections.append(
            "## Throughput\n\n" + THROUGHPUT_NOTE.format(**throughput) + "\n\n" + markdown_table(throughput)
            + "\n\nWhere an LSIQ update spends its time (torch profiler, self time):\n\n| op | share | ms / update |\n"
            + "|---|---|---|\n" + profile + compile_note(throughput) + history_section(history_table(throughput))
        )  # fmt: skip
    machines = {json.dumps(result.provenance["machine"], sort_keys=True) for result in results}
    sections.append("## Machines and versions\n\n" + "\n".join(f"- `{machine}`" for machine in sorted(machines)))
    sections.append(commands_section(results))
    output.write_text("\n\n".join(section for section in sections if section) + "\n")


def compile_note(throughput: dict[str, Any]) -> str:
    """The eager vs ``torch.compile`` update comparison of the throughput script (absent from older measurements)."""
    compiled = throughput.get("compile")
    if compiled is None:
        return ""
    eager_ms, compiled_ms = compiled["eager_update_ms"], compiled["compiled_update_ms"]
    verdict = "wins" if compiled_ms < eager_ms else "does not win, so the package trains eagerly"
    return (
        f"\n\n`torch.compile` (inductor, default mode) of the critic, target critic and actor MLPs: one LSIQ update took "
        f"{compiled_ms:.2f} ms against {eager_ms:.2f} ms eager ({compiled_ms / eager_ms:.2f}x; compiling took "
        f"{compiled['compile_seconds']:.0f} s): it {verdict}."
    )


def history_section(table: str) -> str:
    if not table:
        return ""
    return "\n\n" + THROUGHPUT_HISTORY_NOTE + "\n\n" + table


def labels_section(root: Path) -> str:
    """The state-only label tables that ``python -m sb3_lsiq.benchmarks labels --output`` saved next to the results."""
    tables = sorted((root / "results").glob("labels__*.md"))
    if not tables:
        return ""
    return "## State-only labels\n\n" + LABELS_NOTE + "\n\n" + "\n\n".join(path.read_text().strip() for path in tables)


def commands_section(results: list[RunResult]) -> str:
    """The benchmark command of every run, and the rl-zoo3 command each of its processes ran."""
    if not results:
        return ""
    runs = sorted(RunSpec(**result.provenance["spec"]).command() for result in results)
    zoo = sorted({segment["command"] for result in results for segment in result.provenance["segments"]})
    return (
        "## Exact commands\n\nEach run (re-running a command resumes or extends the run):\n\n```bash\n" + "\n".join(runs)
        + "\n```\n\n<details><summary>The rl-zoo3 command of every process</summary>\n\n```bash\n" + "\n".join(zoo)
        + "\n```\n</details>"
    )  # fmt: skip


HEADER = """# Benchmarks

Every number here was measured on the machine listed at the end, by the commands listed at the end, and is
regenerated from the committed data (`benchmarks/results/`) by `python -m sb3_lsiq.benchmarks report`.
Runs are trained by rl-zoo3's train script with the package's hyperparameter files; see
`python -m sb3_lsiq.benchmarks --help`."""

GOALS_NOTE = f"""The issues' targets against the committed results. Quality goals: the mean over finished seeds of the
final expert-normalised return (deterministic policy); comparisons use the seeds both runs have finished. A goal
reads "so far" until all 3 seeds have finished. *Last {LATE_EVALUATIONS} evaluations*: the same measure over each run's
last {LATE_EVALUATIONS} evaluations, which a single noisy final evaluation can hide (not what the goal is decided
on). Throughput: the table at the end."""

QUALITY_NOTE = f"""Deterministic policy, 10 episodes per evaluation, every 10k steps. *final*: the last evaluation; *best*: the
best one; *last {LATE_EVALUATIONS}*: the mean of the last {LATE_EVALUATIONS} (how well a run ends, less noisy than the final
one). *R/R_E*: return over the expert's; *normalised*: (R - R_random) / (R_expert - R_random), with the expert's
mean return over its 25 recorded episodes and a random policy's over 100 (DATASETS.md). Mean ± std over seeds; an
unfinished seed is marked and counted at its last evaluation. `bc` (imitation's BC) takes no environment step:
its steps, and its x axis in the plots, are gradient steps (batches of 256), evaluated every 2k; `gail` is GAIL on
a PPO generator (rl-zoo3's PPO settings) at the same 300k-step budget as LSIQ and IQ-Learn. `lsiq` and `iqlearn` are
the packaged settings (`hyperparams/`); `<algo>-<tag>` changes what its command's `--set` says. On HalfCheetah and
Ant the packaged LSIQ policy term is `q_old_policy` (Q at the replay actions), chosen from these rows: `lsiq-value`
there is the reference launchers' `value`, packaged before; on Hopper and Walker2d `value` stays and `lsiq-qold`
is the alternative."""

REFERENCE_NOTE = """The reference levels (the shipped datasets' metadata). Where expert episodes ended early (a fall), the
expert's mean over all episodes is below its full-length episodes', so the normalised scores of that task read high:
divide by the *first 5 demos* level instead to compare with the demonstrations themselves."""

LABELS_NOTE = """A state-only run (`lsiq-fo`: the inverse dynamics model labels the expert pairs) never reads the recorded
actions; `python -m sb3_lsiq.benchmarks labels --model <run>/resume/model.zip --env ENV --demos 5 --output
benchmarks/results/labels__<run>.md` compares its labels with them at a resume point, per action dimension (MSE and
correlation in the policy's [-1, 1] scale; `zero` is the all-zero labeller, the floor). With `--refit-fits N
--refit-idm JSON ...`, fresh inverse dynamics models (`idm_kwargs` as JSON) are fitted N times on the run's replay
buffer, the data the run's own model learned from, and their mean labels are added as `refit` rows: whether another
form of the model would label the expert better from the same data (`{}`: the packaged model; the replay NLL is the
fit on the agent's own transitions)."""

THROUGHPUT_HISTORY_NOTE = """Every measurement (`--output` adds one to the file's history; the table above is the
latest). Run-to-run noise on this machine is close to the goals' margins, so the Goals table decides the throughput
goals on the median over these measurements."""

THROUGHPUT_NOTE = """`python -m sb3_lsiq.benchmarks throughput`: {env_id}, one gradient step per environment step, one torch
thread, 256x256 networks, all configurations in one process and interleaved, median of {repeats} repeats of {steps}
timed steps after 1000 warm-up steps. *GEMM floor*: the update's matrix products (recorded with their shapes)
replayed alone, i.e. the time one update needs at this machine's measured GEMM rate for those shapes; *time vs
floor*: measured time per environment step over that floor."""
