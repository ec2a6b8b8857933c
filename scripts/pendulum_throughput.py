"""Environment steps per second of LSIQ and IQ-Learn on Pendulum-v1, one torch thread, one update per env step.

    python scripts/pendulum_throughput.py [--steps 5000] [--repeats 3]

Measures the training phase only (after learning_starts), for the packaged Pendulum hyperparameters (LSIQ
256x256 networks, IQ-Learn 128x128) and for the class defaults (256x256 networks, batch 256 policy + 256 expert);
prints the median.
SB3's SAC with its defaults (256x256, batch 256) is timed the same way as the yardstick.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch as th
from stable_baselines3 import SAC

from sb3_lsiq import LSIQ, IQLearn
from sb3_lsiq.common.hyperparams import algorithm_kwargs
from sb3_lsiq.data import pendulum_demonstrations


def steps_per_second(algo: type, kwargs: dict, steps: int, seed: int) -> float:
    if algo is not SAC:
        kwargs = {**kwargs, "demonstrations": pendulum_demonstrations(5), "n_demo_episodes": None}
    model = algo("MlpPolicy", "Pendulum-v1", seed=seed, **kwargs)
    model.learn(model.learning_starts + 1)  # fill the buffer first: time the training phase only
    start = time.perf_counter()
    model.learn(steps, reset_num_timesteps=False)
    return steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=5_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    th.set_num_threads(1)
    for name, algo in (("lsiq", LSIQ), ("iqlearn", IQLearn)):
        for label, kwargs in (("packaged hyperparams", algorithm_kwargs(name, "Pendulum-v1")), ("class defaults", {})):
            rates = [steps_per_second(algo, kwargs, args.steps, seed) for seed in range(args.repeats)]
            print(f"{name:8s} {label:21s} median {statistics.median(rates):6.1f} env steps/s  (runs: "
                  f"{', '.join(f'{r:.1f}' for r in rates)})")  # fmt: skip
    rates = [steps_per_second(SAC, {}, args.steps, seed) for seed in range(args.repeats)]
    print(f"{'sac':8s} {'SB3 defaults':21s} median {statistics.median(rates):6.1f} env steps/s")


if __name__ == "__main__":
    main()
