"""Train a SAC expert on Pendulum-v1 and record the demonstrations shipped inside the package.

    python scripts/make_pendulum_demos.py            # writes sb3_lsiq/data/pendulum_v1_expert.npz

SAC uses rl-zoo3's tuned Pendulum-v1 settings (learning_rate 1e-3, 20k steps). The metadata records the
expert's and a random policy's mean return, which define the expert-normalised score.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch as th
from stable_baselines3 import SAC

from sb3_lsiq.common.recording import random_policy_return, record_episodes

OUTPUT = Path(__file__).resolve().parents[1] / "sb3_lsiq" / "data" / "pendulum_v1_expert.npz"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=20_000, help="SAC training steps")
    parser.add_argument("--episodes", type=int, default=25, help="expert episodes to record")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args()
    th.set_num_threads(1)

    start = time.time()
    expert = SAC("MlpPolicy", "Pendulum-v1", learning_rate=1e-3, seed=args.seed, verbose=0)
    expert.learn(args.steps, progress_bar=True)
    train_minutes = (time.time() - start) / 60

    env = gym.make("Pendulum-v1")
    random_mean, random_std = random_policy_return(env, n_episodes=100, seed=10_000)
    versions = {name: importlib.metadata.version(name) for name in ("stable-baselines3", "gymnasium", "torch", "numpy")}
    demos = record_episodes(
        expert,
        env,
        n_episodes=args.episodes,
        seed=1_000,
        metadata={
            "env_id": "Pendulum-v1",
            "expert_algo": "sac",
            "expert_steps": args.steps,
            "expert_hyperparams": {"learning_rate": 1e-3},
            "expert_seed": args.seed,
            "expert_train_minutes": round(train_minutes, 2),
            "random_mean_return": random_mean,
            "random_std_return": random_std,
            "random_episodes": 100,
            "versions": versions,
            "command": "python scripts/make_pendulum_demos.py",
        },
    )
    path = demos.save(args.output)
    print(f"expert: {demos.metadata['mean_return']:.1f} +- {demos.metadata['std_return']:.1f} over {args.episodes} episodes")
    print(f"random: {random_mean:.1f} +- {random_std:.1f}; trained {train_minutes:.1f} min; wrote {path}")
    print("per-episode returns:", np.round(demos.metadata["episode_returns"], 1).tolist())


if __name__ == "__main__":
    main()
