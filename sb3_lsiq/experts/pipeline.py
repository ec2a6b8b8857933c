"""Functions behind ``python -m sb3_lsiq.experts``: build the rl-zoo3 training command, load a trained expert
(with its VecNormalize statistics when it has them), evaluate it, and record a demonstration dataset."""

from __future__ import annotations

import importlib
import importlib.metadata
import json
import sys
import time
import warnings
import zipfile
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import yaml
from stable_baselines3.common.base_class import BaseAlgorithm

from sb3_lsiq.common.demonstrations import Demonstrations
from sb3_lsiq.common.hyperparams import hyperparams_dir
from sb3_lsiq.common.recording import random_policy_return, record_episodes

# Algorithms rl-zoo3 knows, when rl-zoo3 itself is not importable: name -> "module:Class"
KNOWN_ALGORITHMS = {
    "sac": "stable_baselines3:SAC", "td3": "stable_baselines3:TD3", "ddpg": "stable_baselines3:DDPG",
    "ppo": "stable_baselines3:PPO", "a2c": "stable_baselines3:A2C", "tqc": "sb3_contrib:TQC",
    "crossq": "sb3_contrib:CrossQ", "trpo": "sb3_contrib:TRPO",
}  # fmt: skip
VERSIONED_PACKAGES = ("sb3-lsiq", "stable-baselines3", "sb3-contrib", "rl_zoo3", "gymnasium", "mujoco", "torch", "numpy")


def expert_conf_file(algo: str, env_id: str) -> Path | None:
    """The packaged expert settings for (algo, env), or None to let rl-zoo3 use its own file."""
    path = hyperparams_dir() / "experts" / f"{algo}.yml"
    if path.exists() and env_id in (yaml.safe_load(path.read_text()) or {}):
        return path
    return None


def train_command(
    env_id: str,
    algo: str = "sac",
    log_folder: str = "logs/experts",
    seed: int = 3,
    eval_freq: int = 25_000,
    eval_episodes: int = 5,
    save_freq: int = 50_000,
    extra_args: list[str] | None = None,
) -> list[str]:
    """The ``python -m rl_zoo3.train`` command line that trains an expert (one torch thread, checkpoints)."""
    command = [sys.executable, "-m", "rl_zoo3.train", "--algo", algo, "--env", env_id, "-f", log_folder]
    conf_file = expert_conf_file(algo, env_id)
    if conf_file is not None:
        command += ["--conf-file", str(conf_file)]
    command += ["--num-threads", "1", "--seed", str(seed), "--eval-freq", str(eval_freq)]
    command += ["--eval-episodes", str(eval_episodes), "--save-freq", str(save_freq)]
    return command + list(extra_args or [])


def latest_checkpoint(log_folder: str | Path, env_id: str, algo: str = "sac") -> Path:
    """The newest checkpoint (``rl_model_<steps>_steps.zip``) of any rl-zoo3 run of (algo, env) in ``log_folder``."""
    checkpoints = list(Path(log_folder, algo).glob(f"{env_id}_*/rl_model_*_steps.zip"))
    if not checkpoints:
        raise FileNotFoundError(
            f"No checkpoint to resume: nothing matches {Path(log_folder, algo, env_id)}_*/rl_model_*_steps.zip"
        )
    return max(checkpoints, key=lambda path: path.stat().st_mtime)


def algorithm_class(algo: str) -> type[BaseAlgorithm]:
    """The class of an rl-zoo3 algorithm name (``sac``, ``tqc``, ...)."""
    try:
        from rl_zoo3.utils import ALGOS

        if algo in ALGOS:
            return ALGOS[algo]
    except ImportError:
        pass
    if algo not in KNOWN_ALGORITHMS:
        raise ValueError(f"Unknown expert algorithm {algo!r}; known: {', '.join(sorted(KNOWN_ALGORITHMS))}.")
    module, name = KNOWN_ALGORITHMS[algo].split(":")
    return getattr(importlib.import_module(module), name)


def find_model_file(model: str | Path, env_id: str) -> Path:
    """A ``.zip`` as given, or inside an rl-zoo3 run folder: ``best_model.zip``, else ``<env_id>.zip``."""
    path = Path(model)
    if path.is_file():
        return path
    for candidate in (path / "best_model.zip", path / f"{env_id}.zip"):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(
        f"No expert model at '{model}': pass a .zip file or an rl-zoo3 run folder holding best_model.zip or {env_id}.zip."
    )


class _RunArgsLoader(yaml.SafeLoader):
    """Reads the ``args.yml`` rl-zoo3 writes (an OrderedDict dumped with its Python tag) without unsafe loading."""


_RunArgsLoader.add_constructor(
    "tag:yaml.org,2002:python/object/apply:collections.OrderedDict",
    lambda loader, node: dict(loader.construct_sequence(node.value[0], deep=True)),  # type: ignore[arg-type]
)


def _stored_timesteps(model_file: Path) -> int:
    """``num_timesteps`` as saved in an SB3 model zip (read from its ``data`` entry, no torch load)."""
    with zipfile.ZipFile(model_file) as archive:
        return int(json.loads(archive.read("data")).get("num_timesteps", 0))


def _resumed_from(model_file: Path) -> Path | None:
    """The checkpoint the rl-zoo3 run holding ``model_file`` was continued from (``-i``), per the run's args.yml."""
    for args_file in model_file.parent.glob("*/args.yml"):
        run_args = yaml.load(args_file.read_text(), Loader=_RunArgsLoader) or {}
        trained_agent = str(run_args.get("trained_agent") or "")
        if trained_agent.endswith(".zip"):
            return Path(trained_agent)
    return None


def trained_steps(model_file: str | Path) -> int:
    """Environment steps behind a saved model, counting the runs it was continued from.

    rl-zoo3 restarts the step counter when it continues a model (``-i``), so a checkpoint of a resumed run counts
    from the resume only. The run folder's ``args.yml`` names the checkpoint it started from; its steps are added,
    and so on back along the chain. A model copied out of its run folder is taken at its own counter.
    """
    model_file = Path(model_file)
    steps, visited = _stored_timesteps(model_file), {model_file.resolve()}
    parent = _resumed_from(model_file)
    while parent is not None:
        if not parent.is_file():
            warnings.warn(
                f"{model_file} continues {parent} (per its run's args.yml), which is gone: its steps are not counted. "
                "Run from the folder training ran in, or restore that checkpoint.",
                stacklevel=2,
            )
            break
        if parent.resolve() in visited:  # an args.yml naming a model of its own run: count it once
            break
        visited.add(parent.resolve())
        steps += _stored_timesteps(parent)
        parent = _resumed_from(parent)
    return steps


class ExpertPolicy:
    """``predict`` of a trained model, normalising observations with its VecNormalize statistics if it had any."""

    def __init__(self, model: Any, obs_normalizer: Any = None) -> None:
        self.model = model
        self.obs_normalizer = obs_normalizer

    def predict(self, obs: np.ndarray, deterministic: bool = True) -> tuple[np.ndarray, Any]:
        if self.obs_normalizer is not None:
            obs = self.obs_normalizer.normalize_obs(obs)
        return self.model.predict(obs, deterministic=deterministic)


def load_expert(model: str | Path, env_id: str, algo: str = "sac") -> tuple[ExpertPolicy, Path]:
    """Load an expert (CPU) and the ``vecnormalize.pkl`` rl-zoo3 saved next to it, if any."""
    from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

    model_file = find_model_file(model, env_id)
    loaded = algorithm_class(algo).load(model_file, device="cpu", buffer_size=1)
    normalizer = None
    for stats in (model_file.parent / env_id / "vecnormalize.pkl", model_file.parent / "vecnormalize.pkl"):
        if stats.is_file():
            normalizer = VecNormalize.load(str(stats), DummyVecEnv([lambda: gym.make(env_id)]))
            normalizer.training = False
            break
    return ExpertPolicy(loaded, normalizer), model_file


def evaluate_expert(expert: Any, env_id: str, n_episodes: int = 10, seed: int = 123) -> tuple[float, float]:
    """Mean and std of the deterministic return over ``n_episodes`` episodes (env seeds ``seed``, ``seed + 1``, ...)
    of anything with SB3's ``predict`` (an :class:`ExpertPolicy`, a model or a policy)."""
    demos = record_episodes(expert, gym.make(env_id), n_episodes=n_episodes, seed=seed)
    returns = np.asarray(demos.metadata["episode_returns"])
    return float(returns.mean()), float(returns.std())


def package_versions() -> dict[str, str]:
    versions = {}
    for name in VERSIONED_PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions


def record_dataset(
    expert: ExpertPolicy,
    env_id: str,
    n_episodes: int = 25,
    seed: int = 1_000,
    random_episodes: int = 100,
    provenance: dict[str, Any] | None = None,
    expert_steps: int | None = None,
) -> Demonstrations:
    """Record ``n_episodes`` deterministic expert episodes with full provenance in the metadata.

    The metadata holds the env id and version, the expert (algorithm, steps, file), per-episode returns, lengths
    and how each ended (``episode_terminated``), the seed, the package versions, and a random policy's mean
    return over ``random_episodes`` episodes (the 0 of expert-normalised scores). ``expert_steps`` defaults to the
    model's own counter (pass :func:`trained_steps` of its file for a resumed run).
    """
    env = gym.make(env_id)
    start = time.time()
    random_mean, random_std = random_policy_return(gym.make(env_id), n_episodes=random_episodes, seed=10_000)
    metadata: dict[str, Any] = {
        "env_id": env_id,
        "env_version": getattr(env.spec, "version", None),
        "max_episode_steps": getattr(env.spec, "max_episode_steps", None),
        "expert_steps": int(getattr(expert.model, "num_timesteps", 0)) if expert_steps is None else expert_steps,
        "expert_normalized_obs": expert.obs_normalizer is not None,
        "random_mean_return": random_mean,
        "random_std_return": random_std,
        "random_episodes": random_episodes,
        "versions": package_versions(),
        **(provenance or {}),
    }
    demos = record_episodes(expert, env, n_episodes=n_episodes, seed=seed, metadata=metadata)
    demos.metadata["record_seconds"] = round(time.time() - start, 1)
    return demos
