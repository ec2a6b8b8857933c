"""Demonstrations shipped with the package (small, float32, compressed)."""

from __future__ import annotations

from pathlib import Path

from sb3_lsiq.common.demonstrations import Demonstrations, load_demonstrations

DATA_DIR = Path(__file__).resolve().parent
PENDULUM_V1 = DATA_DIR / "pendulum_v1_expert.npz"


def pendulum_demonstrations(n_episodes: int | None = None) -> Demonstrations:
    """25 Pendulum-v1 episodes of a SAC expert (``scripts/make_pendulum_demos.py``); the metadata holds the expert's
    and a random policy's mean return (``mean_return``, ``random_mean_return``)."""
    return load_demonstrations(PENDULUM_V1, n_episodes=n_episodes)
