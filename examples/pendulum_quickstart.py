"""The main job: LSIQ learns Pendulum-v1 from 5 shipped expert episodes, with no reward.

    python examples/pendulum_quickstart.py [--steps 20000] [--seed 0] [--output outputs/pendulum]

It trains with a progress bar, evaluates the deterministic policy every 2,000 steps, prints the
expert-normalised return (R - R_random) / (R_expert - R_random), and writes the model
(``lsiq_pendulum.zip``) and the learning curve (``learning_curve.png``) into the output folder.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import gymnasium as gym
import matplotlib

matplotlib.use("Agg")  # headless: write the PNG, open no window
import matplotlib.pyplot as plt
import numpy as np
import torch as th
from stable_baselines3.common.callbacks import EvalCallback
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.monitor import Monitor

from sb3_lsiq import LSIQ
from sb3_lsiq.common.evaluation import expert_normalized_score
from sb3_lsiq.common.hyperparams import algorithm_kwargs
from sb3_lsiq.data import pendulum_demonstrations


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=20_000, help="environment steps")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--episodes", type=int, default=5, help="expert episodes to learn from (1-25)")
    parser.add_argument("--output", type=Path, default=Path("outputs/pendulum"))
    args = parser.parse_args()
    th.set_num_threads(1)  # one thread is several times faster for these small networks on few cores
    args.output.mkdir(parents=True, exist_ok=True)

    demos = pendulum_demonstrations(n_episodes=args.episodes)
    expert_return, random_return = demos.metadata["mean_return"], demos.metadata["random_mean_return"]
    print(f"{demos.n_episodes} expert episodes ({demos.n_transitions} transitions); expert return {expert_return:.1f}, "
          f"random return {random_return:.1f}")  # fmt: skip

    # the packaged rl-zoo3 entry, with the episodes chosen above instead of the entry's own demonstration budget
    kwargs = {**algorithm_kwargs("lsiq", "Pendulum-v1"), "demonstrations": demos, "n_demo_episodes": None}
    model = LSIQ("MlpPolicy", "Pendulum-v1", seed=args.seed, **kwargs)
    eval_env = Monitor(gym.make("Pendulum-v1"))
    evaluation = EvalCallback(eval_env, eval_freq=2_000, n_eval_episodes=5, log_path=str(args.output), verbose=0)
    model.learn(args.steps, callback=evaluation, progress_bar=True)
    model.save(args.output / "lsiq_pendulum")

    mean_return, std_return = evaluate_policy(model, eval_env, n_eval_episodes=10, deterministic=True)
    score = expert_normalized_score(float(mean_return), expert_return, random_return)
    print(f"LSIQ return {mean_return:.1f} +- {std_return:.1f} (10 episodes); expert-normalised return {score:.3f}")

    log = np.load(args.output / "evaluations.npz")
    scores = [expert_normalized_score(r, expert_return, random_return) for r in log["results"].mean(axis=1)]
    figure, axis = plt.subplots(figsize=(6, 4))
    axis.plot(log["timesteps"], scores, marker="o", label="LSIQ (deterministic, 5 episodes)")
    axis.axhline(1.0, color="green", linestyle="--", label=f"expert ({expert_return:.0f})")
    axis.axhline(0.0, color="red", linestyle="--", label=f"random ({random_return:.0f})")
    axis.set_xlabel("environment steps")
    axis.set_ylabel("expert-normalised return")
    axis.set_title(f"LSIQ on Pendulum-v1 from {demos.n_episodes} demonstrations")
    axis.legend(loc="lower right")
    figure.tight_layout()
    figure.savefig(args.output / "learning_curve.png", dpi=100)
    print(f"wrote {args.output / 'lsiq_pendulum.zip'} and {args.output / 'learning_curve.png'}")


if __name__ == "__main__":
    main()
