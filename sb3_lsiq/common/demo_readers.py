"""Readers that turn each supported demonstration input into :class:`~sb3_lsiq.common.demonstrations.Demonstrations`.

Every reader produces a list of episodes and one function assembles them, so the terminated-versus-truncated
rule is applied in exactly one place. imitation and HF ``datasets`` are imported only when their data is read.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sb3_lsiq.common.demonstrations import Demonstrations, EpisodeEndRule, boundary_rows

TRUNCATION_INFO_KEY = "TimeLimit.truncated"  # set by SB3's VecEnvs, so present in imitation rollouts with infos

SUPPORTED_INPUTS = (
    "a Demonstrations instance, a sequence of imitation Trajectory/TrajectoryWithRew, imitation Transitions, "
    "a mapping of arrays (imitation keys obs/acts/next_obs/dones, native keys obs/acts/next_obs/terminated/truncated "
    "or reference keys states/actions/next_states/absorbing), an HF datasets.Dataset in imitation's layout, "
    "or a path to a .npz file or to a folder written by imitation.data.serialize.save"
)


@dataclass
class _Episode:
    """One episode's transitions before assembly (arrays are views where possible)."""

    obs: np.ndarray  # (T, *obs_shape)
    next_obs: np.ndarray  # (T, *obs_shape)
    acts: np.ndarray | None  # (T, *act_shape)
    flagged_end: bool  # the data marks the episode as ended (it may still be a truncation)
    recorded_truncated: bool | None  # the data's own truncation flag, None when it has none
    episode_return: float | None


def read_any(source: Any, rule: EpisodeEndRule) -> Demonstrations:
    """Dispatch on the kind of ``source``; raises TypeError naming the supported kinds."""
    if isinstance(source, Demonstrations):
        return source
    if isinstance(source, str) and source.startswith("sb3_lsiq:"):
        from sb3_lsiq.data import packaged_dataset_path  # lazy: the data module imports this one

        return _read_path(packaged_dataset_path(source), rule)
    if isinstance(source, (str, Path)):
        return _read_path(Path(source).expanduser(), rule)
    if _is_hf_dataset(source):
        return _read_hf_dataset(source, rule)
    if _is_hf_dataset(getattr(source, "dataset", None)):  # imitation's lazy TrajectoryDatasetSequence
        return _read_hf_dataset(source.dataset, rule)
    if isinstance(source, Mapping):
        return _read_mapping(source, rule)
    if all(hasattr(source, name) for name in ("obs", "acts", "dones")):  # imitation Transitions
        return _read_transitions(source, rule)
    if isinstance(source, Iterable):  # trajectories (a sequence or a generator), or imitation's transition batches
        items = source if isinstance(source, Sequence) else list(source)
        if len(items) == 0:
            raise ValueError("The demonstrations are empty: the sequence or iterable yielded nothing.")
        if _is_trajectory(items[0]):
            return _assemble([_trajectory_episode(traj) for traj in items], rule, {"source": "trajectories"})
        return _read_transitions(_concatenate_batches(items), rule)
    raise TypeError(f"Unsupported demonstrations of type {type(source).__name__}; expected {SUPPORTED_INPUTS}.")


# ----------------------------------------------------------------------------------------------------------
# Assembly
# ----------------------------------------------------------------------------------------------------------


def _assemble(episodes: list[_Episode], rule: EpisodeEndRule, metadata: dict[str, Any]) -> Demonstrations:
    episodes = [ep for ep in episodes if len(ep.obs) > 0]
    if not episodes:
        raise ValueError("The demonstrations are empty: every episode has zero transitions.")
    has_actions = [ep.acts is not None for ep in episodes]
    if any(has_actions) and not all(has_actions):
        raise ValueError("Some demonstration episodes have actions and others do not; give all or none.")
    terminated_rows, end_rows = [], []
    for ep in episodes:
        length = len(ep.obs)
        terminated = np.zeros(length, dtype=bool)
        ends = np.zeros(length, dtype=bool)
        ends[-1] = ep.flagged_end or bool(ep.recorded_truncated)
        terminated[-1] = rule.is_terminated(ep.flagged_end, length, ep.recorded_truncated)
        terminated_rows.append(terminated)
        end_rows.append(ends)
    returns = [ep.episode_return for ep in episodes]
    return Demonstrations(
        observations=_float32(np.concatenate([ep.obs for ep in episodes])),
        actions=_float32(np.concatenate([ep.acts for ep in episodes])) if all(has_actions) else None,  # type: ignore[misc]
        next_observations=_float32(np.concatenate([ep.next_obs for ep in episodes])),
        terminated=np.concatenate(terminated_rows),
        episode_ends=np.concatenate(end_rows),
        episode_returns=np.asarray(returns, dtype=np.float64) if all(r is not None for r in returns) else None,
        metadata=metadata,
    )


def _float32(values: Any) -> np.ndarray:
    """Contiguous float32 copy (imitation marks its arrays read-only; we never alias them)."""
    array = np.asarray(values)
    if array.dtype == object:
        raise ValueError("Demonstration arrays have ragged or object dtype; every row must have the same shape.")
    if array.dtype.kind not in "fiub":
        raise ValueError(f"Demonstration arrays must be numeric, got dtype {array.dtype}.")
    return np.ascontiguousarray(array, dtype=np.float32)


def _check_obs(obs: Any, where: str) -> Any:
    if isinstance(obs, Mapping) or hasattr(obs, "unwrap"):  # dict or imitation DictObs
        raise ValueError(f"{where}: dict observations are not supported yet; flatten them (e.g. FlattenObservation).")
    return obs


# ----------------------------------------------------------------------------------------------------------
# imitation objects
# ----------------------------------------------------------------------------------------------------------


def _is_trajectory(item: Any) -> bool:
    return hasattr(item, "obs") and hasattr(item, "terminal") and hasattr(item, "acts")


def _recorded_truncation(infos: Any, index: int) -> bool | None:
    """The ``TimeLimit.truncated`` flag of ``infos[index]`` (a dict or an imitation jsonpickle string)."""
    if infos is None or len(infos) == 0:
        return None
    info = infos[index]
    if isinstance(info, (str, bytes)):  # imitation's HF format stores jsonpickle strings; plain JSON reads the flag
        try:
            info = json.loads(info)
        except json.JSONDecodeError:
            return None
    if isinstance(info, Mapping) and TRUNCATION_INFO_KEY in info:
        return bool(info[TRUNCATION_INFO_KEY])
    return None


def _trajectory_episode(traj: Any) -> _Episode:
    obs = np.asarray(_check_obs(traj.obs, "Trajectory.obs"))
    acts = None if traj.acts is None else np.asarray(traj.acts)
    length = len(obs) - 1
    if acts is not None and len(acts) != length:
        raise ValueError(
            f"Trajectory has {len(obs)} observations and {len(acts)} actions; expected len(obs) == len(acts) + 1."
        )
    rews = getattr(traj, "rews", None)
    return _Episode(
        obs=obs[:-1],
        next_obs=obs[1:],
        acts=acts,
        flagged_end=bool(traj.terminal),
        recorded_truncated=_recorded_truncation(traj.infos, -1) if traj.terminal else None,
        episode_return=float(np.sum(rews)) if rews is not None else None,
    )


def _concatenate_batches(batches: Sequence[Any]) -> dict[str, Any]:
    """One transition mapping from batches of mappings (arrays or tensors), in iteration order.

    Episodes are split at the ``dones`` rows as they come: pass ordered batches (shuffled batches lose the
    episode structure, so set ``demo_episode_end`` explicitly for them).
    """
    columns: dict[str, list[Any]] = {}
    for batch in batches:
        if not isinstance(batch, Mapping) or "obs" not in batch:
            raise TypeError(
                f"Unsupported demonstrations: an iterable whose items are {type(batch).__name__}, not transition "
                f"mappings with obs/acts/next_obs/dones; expected {SUPPORTED_INPUTS}."
            )
        for key, value in batch.items():
            if key == "infos":
                columns.setdefault(key, []).extend(value)
            else:
                columns.setdefault(key, []).append(np.asarray(value.cpu() if hasattr(value, "cpu") else value))
    return {key: (values if key == "infos" else np.concatenate(values)) for key, values in columns.items()}


def _read_transitions(transitions: Any, rule: EpisodeEndRule) -> Demonstrations:
    """imitation ``Transitions`` (or a mapping with the same keys): split into episodes at the done flags."""
    get = transitions.get if isinstance(transitions, Mapping) else lambda k, d=None: getattr(transitions, k, d)
    obs = np.asarray(_check_obs(get("obs"), "Transitions.obs"))
    next_obs = get("next_obs")
    if next_obs is None:
        raise ValueError(
            "The transitions have no next_obs (imitation TransitionsMinimal?); LSIQ/IQ-Learn need (obs, acts, next_obs, "
            "dones). Pass trajectories or full Transitions (imitation.data.rollout.flatten_trajectories)."
        )
    next_obs = np.asarray(_check_obs(next_obs, "Transitions.next_obs"))
    acts = get("acts")
    acts = None if acts is None else np.asarray(acts)
    dones = np.asarray(get("dones"), dtype=bool).reshape(-1)
    infos = get("infos")
    if len(dones) != len(obs) or len(next_obs) != len(obs) or (acts is not None and len(acts) != len(obs)):
        raise ValueError(
            f"Transitions arrays disagree in length: obs {len(obs)}, next_obs {len(next_obs)}, dones {len(dones)}"
            + (f", acts {len(acts)}" if acts is not None else "")
        )
    episodes = []
    start = 0
    boundaries: list[int] = [int(i) + 1 for i in np.flatnonzero(dones)]
    if not boundaries or boundaries[-1] != len(obs):
        boundaries.append(len(obs))  # a trailing episode cut without a done flag
    for stop in boundaries:
        flagged = bool(dones[stop - 1])
        episodes.append(
            _Episode(
                obs=obs[start:stop],
                next_obs=next_obs[start:stop],
                acts=acts[start:stop] if acts is not None else None,
                flagged_end=flagged,
                recorded_truncated=_recorded_truncation(infos, stop - 1) if flagged else None,
                episode_return=None,
            )
        )
        start = stop
    return _assemble(episodes, rule, {"source": "transitions"})


# ----------------------------------------------------------------------------------------------------------
# Mappings and files
# ----------------------------------------------------------------------------------------------------------


def _read_path(path: Path, rule: EpisodeEndRule) -> Demonstrations:
    if not path.exists():
        raise FileNotFoundError(
            f"Demonstration file not found: '{path}'. Pass an existing .npz file or imitation dataset folder "
            "(relative paths resolve against the working directory)."
        )
    if path.is_dir():
        return _read_hf_disk(path, rule)
    if path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
        demos = _read_mapping(arrays, rule)
        return dataclasses.replace(demos, metadata={**demos.metadata, "path": str(path)})
    raise ValueError(f"Unsupported demonstration file '{path}': expected a .npz file or an imitation dataset folder.")


def _read_mapping(data: Mapping[str, Any], rule: EpisodeEndRule) -> Demonstrations:
    keys = set(data.keys())
    if {"obs", "terminated", "truncated"} <= keys and keys & {"next_obs", "boundary_next_obs"}:
        return _read_native(data)
    if {"states", "next_states"} <= keys:
        return _read_reference(data)
    if {"obs", "dones"} <= keys:
        return _read_transitions(data, rule)
    raise ValueError(
        f"Unrecognised demonstration keys {sorted(keys)}: expected native keys (obs, acts, next_obs, terminated, "
        "truncated), imitation transition keys (obs, acts, next_obs, dones) or reference keys (states, actions, "
        "next_states, absorbing, episode_starts)."
    )


def _read_native(data: Mapping[str, Any]) -> Demonstrations:
    """The native format: termination and truncation are explicit, so no rule or guess is needed."""
    terminated = np.asarray(data["terminated"], dtype=bool).reshape(-1)
    truncated = np.asarray(data["truncated"], dtype=bool).reshape(-1)
    if np.any(terminated & truncated):
        raise ValueError("Native demonstrations: a row is both terminated and truncated; at most one may be True.")
    metadata: dict[str, Any] = {}
    if "metadata" in data:
        metadata = json.loads(str(np.asarray(data["metadata"])))
    returns = data.get("episode_returns")
    observations = _float32(_check_obs(data["obs"], "obs"))
    if "next_obs" in data:
        next_observations = _float32(data["next_obs"])
    else:
        # Compact layout (format 2): inside an episode s'_t = s_{t+1}; only boundary rows store s' explicitly
        if len(terminated) == 0:
            raise ValueError("The demonstrations are empty: the native file holds no transition.")
        boundary = boundary_rows(terminated | truncated)
        boundary_next_obs = _float32(data["boundary_next_obs"])
        if len(boundary_next_obs) != int(boundary.sum()):
            raise ValueError(
                f"Native demonstrations: boundary_next_obs has {len(boundary_next_obs)} rows but there are "
                f"{int(boundary.sum())} episode boundaries (terminated | truncated, plus the last row)."
            )
        next_observations = np.empty_like(observations)
        next_observations[:-1] = observations[1:]
        next_observations[boundary] = boundary_next_obs
    return Demonstrations(
        observations=observations,
        actions=_float32(data["acts"]) if "acts" in data else None,
        next_observations=next_observations,
        terminated=terminated,
        episode_ends=terminated | truncated,
        episode_returns=np.asarray(returns, dtype=np.float64) if returns is not None else None,
        metadata=metadata,
        rewards=np.asarray(data["rews"], dtype=np.float32).reshape(-1) if "rews" in data else None,
    )


def _read_reference(data: Mapping[str, Any]) -> Demonstrations:
    """The LS-IQ reference format: ``absorbing`` is explicit; episode ends come from ``last`` or ``episode_starts``."""
    n = len(data["states"])
    if "absorbing" not in data:
        raise ValueError(
            "Reference-format demonstrations need an 'absorbing' array (1 where the transition terminates the MDP); "
            "without it terminations cannot be told from truncations."
        )
    absorbing = np.asarray(data["absorbing"], dtype=bool).reshape(-1)
    if "last" in data:
        ends = np.asarray(data["last"], dtype=bool).reshape(-1).copy()
    elif "episode_starts" in data:
        starts = np.asarray(data["episode_starts"], dtype=bool).reshape(-1)
        ends = np.zeros(n, dtype=bool)
        ends[:-1] = starts[1:]  # the row before each episode start ends an episode
        ends[-1] = True
    else:
        ends = absorbing.copy()
    ends |= absorbing
    returns = data.get("episode_returns")
    return Demonstrations(
        observations=_float32(data["states"]),
        actions=_float32(data["actions"]) if "actions" in data else None,
        next_observations=_float32(data["next_states"]),
        terminated=absorbing,
        episode_ends=ends,
        episode_returns=np.asarray(returns, dtype=np.float64) if returns is not None else None,
        metadata={"source": "reference-npz"},
    )


# ----------------------------------------------------------------------------------------------------------
# imitation's HF format
# ----------------------------------------------------------------------------------------------------------


def _is_hf_dataset(obj: Any) -> bool:
    return obj is not None and hasattr(obj, "features") and hasattr(obj, "column_names") and hasattr(obj, "with_format")


def _read_hf_disk(path: Path, rule: EpisodeEndRule) -> Demonstrations:
    try:
        import datasets
    except ImportError as error:  # pragma: no cover - depends on the install
        raise ImportError(
            f"Reading the imitation dataset folder '{path}' needs the HF 'datasets' package: pip install 'sb3-lsiq[hf]'"
        ) from error
    dataset = datasets.load_from_disk(str(path))
    demos = _read_hf_dataset(dataset, rule)
    return dataclasses.replace(demos, metadata={**demos.metadata, "path": str(path)})


def _read_hf_dataset(dataset: Any, rule: EpisodeEndRule) -> Demonstrations:
    """One row per trajectory with columns obs, acts, infos (jsonpickle strings), terminal and optional rews."""
    missing = {"obs", "acts", "terminal"} - set(dataset.column_names)
    if missing:
        raise ValueError(f"HF dataset lacks the column(s) {sorted(missing)} of imitation's trajectory layout.")
    # Reset any format or transform first: imitation's lazy sequence hands out a dataset whose custom transform
    # is None, which newer `datasets` releases cannot call
    dataset = dataset.with_format(None)
    rows = dataset.with_format("numpy", columns=[c for c in dataset.column_names if c != "infos"])
    infos = dataset["infos"] if "infos" in dataset.column_names else None
    episodes = []
    for i in range(len(dataset)):
        row = rows[i]
        obs = np.stack(row["obs"]) if row["obs"].dtype == object else row["obs"]
        acts = np.stack(row["acts"]) if row["acts"].dtype == object else row["acts"]
        terminal = bool(row["terminal"])
        episodes.append(
            _Episode(
                obs=obs[:-1],
                next_obs=obs[1:],
                acts=acts,
                flagged_end=terminal,
                recorded_truncated=_recorded_truncation(infos[i], -1) if (terminal and infos is not None) else None,
                episode_return=float(np.sum(row["rews"])) if "rews" in row else None,
            )
        )
    if not episodes:
        raise ValueError("The demonstrations are empty: the HF dataset has no trajectory.")
    return _assemble(episodes, rule, {"source": "imitation-hf"})
