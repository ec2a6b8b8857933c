"""What a benchmark run is (:class:`RunSpec`) and where its files live: the run folder and the committed results.

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
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_ROOT = Path("benchmarks")


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


def results_finished(provenance: dict[str, Any], steps: int) -> bool:
    """Whether a run's results (its provenance JSON) say it finished ``steps`` steps."""
    return bool(provenance.get("finished")) and int(provenance.get("completed_timesteps", 0)) >= steps


def next_segment(run_dir: Path) -> int:
    """1 + the number of processes that already worked on this run (each wrote its conf file before it started)."""
    return len(list(run_dir.glob("conf_*.yml"))) + 1
