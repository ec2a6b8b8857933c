"""Expert demonstrations as contiguous arrays, and the one entry point that converts every supported input.

Supported inputs of :func:`load_demonstrations` (imitation is never imported at module load; its classes are
duck-typed):

- a :class:`Demonstrations` instance
- imitation ``Trajectory`` / ``TrajectoryWithRew`` sequences, including the lazy HF-backed
  ``TrajectoryDatasetSequence`` and an in-memory HF ``datasets.Dataset`` in imitation's layout
- imitation ``Transitions`` (anything with ``obs``, ``acts``, ``next_obs``, ``dones``)
- mappings of arrays: imitation's transition keys (``obs``, ``acts``, ``next_obs``, ``dones``), the native keys
  (``terminated``, ``truncated`` instead of ``dones``) or the reference keys (``states``, ``next_states``...)
- files: the native ``.npz`` format (:meth:`Demonstrations.save`), the LS-IQ reference ``.npz`` format
  (``states``, ``actions``, ``next_states``, ``absorbing``, ``episode_starts``) and imitation's on-disk HF
  format (a folder written by ``imitation.data.serialize.save``; read with ``datasets`` only)

Terminated versus truncated (the trap of imitation's data): only a true MDP termination is absorbing.
imitation's ``terminal`` / ``dones`` flags are also True at time-limit cuts, so the rule is, per episode end:

- ``episode_end="auto"`` (default): use recorded truncation information (``infos[-1]["TimeLimit.truncated"]``
  or an explicit ``truncated``/``absorbing`` array) when it exists. Otherwise guess: an episode that lasted at
  least ``max_episode_steps`` steps (the env's time limit) was truncated, a shorter one terminated; a
  warning says how many episodes were guessed. Without a known time limit every flagged end is taken as a
  termination, with a warning.
- ``episode_end="terminated"``: every flagged episode end is a true termination.
- ``episode_end="truncated"``: no episode end is absorbing (fixed-horizon envs such as seals').
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

EPISODE_END_RULES = ("auto", "terminated", "truncated")
NATIVE_FORMAT_VERSION = 2


def boundary_rows(episode_ends: np.ndarray) -> np.ndarray:
    """Episode ends plus the last row: where s' is stored explicitly in the compact native format, shape (N,)."""
    boundary = np.array(episode_ends, dtype=bool)  # a copy: the caller's flags stay untouched
    if len(boundary):
        boundary[-1] = True
    return boundary


@dataclass(frozen=True)
class Demonstrations:
    """Expert transitions as contiguous arrays, one row per transition, in episode order.

    :param observations: s, shape (N, *obs_shape), float32
    :param actions: a in the environment's action scale, shape (N, *action_shape), float32;
        None for state-only demonstrations
    :param next_observations: s', shape (N, *obs_shape), float32
    :param terminated: True where the transition ends in a true MDP termination (absorbing), shape (N,)
    :param episode_ends: True where the episode ended after this transition, by termination or truncation,
        shape (N,)
    :param episode_returns: undiscounted return of each complete episode when known, shape (n_episodes,)
    :param metadata: free-form provenance (env id, expert, seed, ...), JSON-serialisable
    :param rewards: the environment reward of each transition when recorded, shape (N,); never used for
        training (the algorithms recover their own reward), kept for datasets and analysis
    """

    observations: np.ndarray
    actions: np.ndarray | None
    next_observations: np.ndarray
    terminated: np.ndarray
    episode_ends: np.ndarray
    episode_returns: np.ndarray | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    rewards: np.ndarray | None = None

    def __post_init__(self) -> None:
        n = len(self.observations)
        if self.rewards is not None and len(self.rewards) != n:
            raise ValueError(f"Demonstrations.rewards has {len(self.rewards)} rows, observations has {n}")
        for name in ("next_observations", "terminated", "episode_ends"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"Demonstrations.{name} has {len(getattr(self, name))} rows, observations has {n}")
        if self.actions is not None and len(self.actions) != n:
            raise ValueError(f"Demonstrations.actions has {len(self.actions)} rows, observations has {n}")
        if np.any(self.terminated & ~self.episode_ends):
            raise ValueError("Demonstrations.terminated is True on a row where episode_ends is False")

    @property
    def n_transitions(self) -> int:
        return len(self.observations)

    @property
    def n_episodes(self) -> int:
        """Number of episodes, counting a trailing incomplete one."""
        n_complete = int(self.episode_ends.sum())
        return n_complete + int(self.n_transitions > 0 and not self.episode_ends[-1])

    @property
    def episode_lengths(self) -> np.ndarray:
        """Length of each episode (a trailing incomplete one included), shape (n_episodes,)."""
        ends = np.flatnonzero(self.episode_ends) + 1
        if self.n_transitions and not self.episode_ends[-1]:
            ends = np.append(ends, self.n_transitions)
        return np.diff(np.concatenate([[0], ends]))

    @property
    def has_actions(self) -> bool:
        return self.actions is not None

    def select_episodes(self, n_episodes: int) -> Demonstrations:
        """The first ``n_episodes`` episodes (in stored order)."""
        if n_episodes < 1 or n_episodes > self.n_episodes:
            raise ValueError(f"n_episodes={n_episodes} is out of range: the demonstrations hold {self.n_episodes} episodes")
        stop = int(np.cumsum(self.episode_lengths)[n_episodes - 1])
        returns = self.episode_returns[:n_episodes] if self.episode_returns is not None else None
        return Demonstrations(
            observations=self.observations[:stop],
            actions=self.actions[:stop] if self.actions is not None else None,
            next_observations=self.next_observations[:stop],
            terminated=self.terminated[:stop],
            episode_ends=self.episode_ends[:stop],
            episode_returns=returns,
            metadata={**self.metadata, "selected_episodes": n_episodes},
            rewards=self.rewards[:stop] if self.rewards is not None else None,
        )

    def without_actions(self) -> Demonstrations:
        """The same transitions with the actions dropped (learning from observations)."""
        return Demonstrations(
            self.observations, None, self.next_observations, self.terminated, self.episode_ends,
            self.episode_returns, dict(self.metadata), self.rewards,
        )  # fmt: skip

    def boundary_rows(self) -> np.ndarray:
        """Rows whose next observation is not the next row's observation: episode ends and the last row."""
        return boundary_rows(self.episode_ends)

    def save(self, path: str | Path) -> Path:
        """Write the native compressed ``.npz`` format (see the README); returns the path written.

        When every in-episode ``next_obs`` row equals the following ``obs`` row (recorded episodes), only the
        episode-boundary next observations are stored (``boundary_next_obs``), which halves the file.
        """
        path = Path(path)
        if path.suffix != ".npz":
            path = path.with_suffix(".npz")
        arrays: dict[str, Any] = {
            "format_version": np.array(NATIVE_FORMAT_VERSION),
            "obs": self.observations,
            "terminated": self.terminated,
            "truncated": self.episode_ends & ~self.terminated,
            "metadata": np.array(json.dumps(self.metadata)),
        }
        boundary = self.boundary_rows()
        if np.array_equal(self.next_observations[:-1][~boundary[:-1]], self.observations[1:][~boundary[:-1]]):
            arrays["boundary_next_obs"] = self.next_observations[boundary]
        else:
            arrays["next_obs"] = self.next_observations
        if self.actions is not None:
            arrays["acts"] = self.actions
        if self.episode_returns is not None:
            arrays["episode_returns"] = self.episode_returns
        if self.rewards is not None:
            arrays["rews"] = self.rewards
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(path, **arrays)
        return path


def load_demonstrations(
    source: Any,
    episode_end: str = "auto",
    max_episode_steps: int | None = None,
    n_episodes: int | None = None,
) -> Demonstrations:
    """Convert any supported demonstration input into :class:`Demonstrations` (contiguous float32 arrays).

    :param source: demonstrations or a path to them (see the module docstring for every supported kind)
    :param episode_end: how flagged episode ends are read when the data does not say whether they were
        terminations or truncations: ``"auto"``, ``"terminated"`` or ``"truncated"`` (module docstring)
    :param max_episode_steps: the env's time limit, used by the ``"auto"`` rule
    :param n_episodes: keep only the first ``n_episodes`` episodes (None keeps all)
    :return: the demonstrations, validated for NaN/inf values and emptiness
    """
    from sb3_lsiq.common import demo_readers  # local: the readers import optional packages lazily

    if episode_end not in EPISODE_END_RULES:
        raise ValueError(f"episode_end={episode_end!r} is not one of {EPISODE_END_RULES}")
    rule = EpisodeEndRule(episode_end, max_episode_steps)
    demos = demo_readers.read_any(source, rule)
    rule.warn_if_guessed()
    check_finite_and_nonempty(demos)
    if n_episodes is not None:
        demos = demos.select_episodes(n_episodes)
    return demos


class EpisodeEndRule:
    """Decides, per episode end, whether it was a termination (absorbing) or a truncation, and counts guesses."""

    def __init__(self, mode: str, max_episode_steps: int | None) -> None:
        self.mode = mode
        self.max_episode_steps = max_episode_steps
        self.n_guessed = 0
        self.n_guessed_truncated = 0

    def is_terminated(self, flagged_end: bool, length: int, recorded_truncated: bool | None) -> bool:
        """Whether an episode end is a true termination.

        :param flagged_end: the data marks the episode as ended (imitation's ``terminal`` / ``dones``)
        :param length: the episode's length in transitions
        :param recorded_truncated: the recorded truncation flag when the data has one, else None
        """
        if not flagged_end:
            return False
        if self.mode == "terminated":
            return True
        if self.mode == "truncated":
            return False
        if recorded_truncated is not None:
            return not recorded_truncated
        self.n_guessed += 1
        if self.max_episode_steps is not None and length >= self.max_episode_steps:
            self.n_guessed_truncated += 1
            return False
        return True

    def warn_if_guessed(self) -> None:
        if self.n_guessed == 0:
            return
        if self.max_episode_steps is None:
            detail = "no time limit is known, so every flagged episode end is taken as a termination (absorbing)"
        else:
            detail = (
                f"episodes of length >= max_episode_steps={self.max_episode_steps} were taken as truncations "
                f"({self.n_guessed_truncated}), shorter ones as terminations ({self.n_guessed - self.n_guessed_truncated})"
            )
        warnings.warn(
            f"{self.n_guessed} demonstration episode end(s) carry no terminated/truncated information: {detail}. "
            "Record infos (imitation: rollout(..., exclude_infos=False)) or pass episode_end='terminated' or "
            "'truncated' (demo_episode_end=... on the algorithm) to make this explicit.",
            UserWarning,
            stacklevel=3,
        )


def check_finite_and_nonempty(demos: Demonstrations) -> None:
    """Raise a ValueError naming the field when the demonstrations are empty or hold NaN/inf values."""
    if demos.n_transitions == 0:
        raise ValueError("The demonstrations are empty: they hold no transition. Pass at least one expert episode.")
    fields = {"observations": demos.observations, "next_observations": demos.next_observations, "actions": demos.actions}
    for name, values in fields.items():
        if values is not None and not np.all(np.isfinite(values)):
            rows = np.flatnonzero(~np.isfinite(values.reshape(len(values), -1)).all(axis=1))
            raise ValueError(
                f"Demonstrations.{name} holds NaN or inf values in {len(rows)} row(s) (first: row {rows[0]}); "
                "clean or drop those transitions before training."
            )
