"""Write demonstrations in imitation's on-disk format (what ``imitation.data.serialize.save`` writes) without
importing imitation: an HF ``datasets`` folder with one row per trajectory and the columns ``obs`` (T+1 rows),
``acts`` (T rows), ``infos`` (T JSON strings, which imitation decodes with jsonpickle), ``terminal`` and, when the
rewards are known, ``rews`` (imitation then reads ``TrajectoryWithRew``, else ``Trajectory``).

imitation's ``terminal`` is True whenever the episode ended, also at a time-limit cut, so the last info of each
trajectory carries ``{"TimeLimit.truncated": ...}``: both imitation users and this package's reader can tell a
truncation from a termination.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from sb3_lsiq.common.demo_readers import TRUNCATION_INFO_KEY
from sb3_lsiq.common.demonstrations import Demonstrations


def episode_slices(demos: Demonstrations) -> list[slice]:
    """Row range of every episode (a trailing incomplete one included)."""
    stops = np.cumsum(demos.episode_lengths)
    return [slice(int(stop - length), int(stop)) for stop, length in zip(stops, demos.episode_lengths)]


def save_imitation_format(demos: Demonstrations, path: str | Path) -> Path:
    """Write ``demos`` (with actions) as an imitation trajectory dataset folder; returns the path."""
    try:
        import datasets
    except ImportError as error:  # pragma: no cover - depends on the install
        raise ImportError(
            "Writing imitation's dataset format needs the HF 'datasets' package: pip install 'sb3-lsiq[hf]'"
        ) from error
    if demos.actions is None:
        raise ValueError("imitation's trajectory format needs actions; these demonstrations are state-only.")
    columns: dict[str, list] = {"obs": [], "acts": [], "infos": [], "terminal": []}
    if demos.rewards is not None:
        columns["rews"] = []
    for rows in episode_slices(demos):
        # (T, obs_dim) observations + the last next observation -> (T+1, obs_dim), imitation's Trajectory.obs
        columns["obs"].append(np.concatenate([demos.observations[rows], demos.next_observations[rows][-1:]]))
        columns["acts"].append(demos.actions[rows])
        ended = bool(demos.episode_ends[rows][-1])
        truncated = ended and not bool(demos.terminated[rows][-1])
        infos = [json.dumps({})] * (rows.stop - rows.start - 1) + [json.dumps({TRUNCATION_INFO_KEY: truncated})]
        columns["infos"].append(infos)
        columns["terminal"].append(ended)
        if demos.rewards is not None:
            columns["rews"].append(demos.rewards[rows])
    path = Path(path)
    dataset = datasets.Dataset.from_dict(columns)
    dataset.save_to_disk(str(path))
    (path / "sb3_lsiq_metadata.json").write_text(json.dumps(demos.metadata, indent=2))
    return path
