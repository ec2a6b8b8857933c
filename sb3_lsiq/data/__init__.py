"""Demonstrations shipped with the package (float32, compressed native ``.npz``), one file per env id.

Refer to one anywhere a demonstration source is accepted (constructor, ``load_demonstrations``, a YAML
``demonstrations:`` value) as ``"sb3_lsiq:<env id>"``, e.g. ``"sb3_lsiq:Hopper-v5"``: the name resolves inside the
installed package, so hyperparameter files work from any working directory. ``DATASETS.md`` lists them.
"""

from __future__ import annotations

from pathlib import Path

from sb3_lsiq.common.demonstrations import Demonstrations, load_demonstrations

DATA_DIR = Path(__file__).resolve().parent
PACKAGED_PREFIX = "sb3_lsiq:"


def packaged_datasets() -> list[str]:
    """Env ids of the shipped datasets."""
    return sorted(path.stem for path in DATA_DIR.glob("*.npz"))


def packaged_dataset_path(name: str) -> Path:
    """The file of a shipped dataset, from ``"<env id>"`` or ``"sb3_lsiq:<env id>"``."""
    env_id = name.removeprefix(PACKAGED_PREFIX)
    path = DATA_DIR / f"{env_id}.npz"
    if not path.exists():
        raise FileNotFoundError(
            f"sb3-lsiq ships no demonstrations for {env_id!r} (available: {', '.join(packaged_datasets())}). "
            "Record them with `python -m sb3_lsiq.experts record`, or pass a path to your own demonstrations."
        )
    return path


def pendulum_demonstrations(n_episodes: int | None = None) -> Demonstrations:
    """25 Pendulum-v1 episodes of a SAC expert; the metadata holds the expert's and a random policy's mean return
    (``mean_return``, ``random_mean_return``)."""
    return load_demonstrations(packaged_dataset_path("Pendulum-v1"), n_episodes=n_episodes)
