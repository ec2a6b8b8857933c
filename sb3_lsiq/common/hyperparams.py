"""The package's hyperparameter files (``hyperparams/<algo>.yml``, rl-zoo3's format) read as constructor kwargs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch as th
import yaml

# Keys rl-zoo3 consumes itself; they never reach the algorithm's constructor
ZOO_ONLY_KEYS = frozenset(
    {"n_timesteps", "policy", "n_envs", "normalize", "normalize_kwargs", "env_wrapper", "vec_env_wrapper", "callback",
     "frame_stack", "monitor_kwargs", "env_kwargs", "noise_type", "noise_std"}
)  # fmt: skip


def hyperparams_dir() -> Path:
    """The folder of the YAML files: inside the installed package, or ``hyperparams/`` at the repo root."""
    package_dir = Path(__file__).resolve().parents[1]
    for candidate in (package_dir / "hyperparams", package_dir.parent / "hyperparams"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"No hyperparams folder next to {package_dir}; reinstall sb3-lsiq.")


def load_hyperparams(algo: str, env_id: str) -> dict[str, Any]:
    """The raw rl-zoo3 entry of ``env_id`` in ``<algo>.yml``."""
    path = hyperparams_dir() / f"{algo}.yml"
    if not path.exists():
        raise FileNotFoundError(f"No hyperparameter file for algo {algo!r}: {path} does not exist.")
    with path.open() as file:
        entries = yaml.safe_load(file)
    if env_id not in entries:
        raise KeyError(f"{path.name} has no entry for {env_id!r}; entries: {sorted(entries)}")
    return dict(entries[env_id])


def algorithm_kwargs(algo: str, env_id: str) -> dict[str, Any]:
    """Constructor kwargs of the entry: zoo-only keys dropped, string ``policy_kwargs`` evaluated as rl-zoo3 does
    (``"dict(net_arch=[256, 256], activation_fn=nn.ReLU)"``; only ``dict`` and ``nn`` are in scope)."""
    kwargs = {key: value for key, value in load_hyperparams(algo, env_id).items() if key not in ZOO_ONLY_KEYS}
    if isinstance(kwargs.get("policy_kwargs"), str):
        kwargs["policy_kwargs"] = eval(kwargs["policy_kwargs"], {"__builtins__": {}, "dict": dict, "nn": th.nn})
    return kwargs
