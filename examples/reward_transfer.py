"""Train a fresh SAC only on the reward LSIQ recovered, and measure its true return on Pendulum-v1.

    python examples/reward_transfer.py [--seed 0] [--form advantage|recovered] [--lsiq-model lsiq.zip]

1. trains LSIQ with its packaged Pendulum-v1 settings (5 shipped expert episodes, 20k steps) or loads
   ``--lsiq-model``; prints the true return of its own policy and of Q's greedy policy (``model.predict_greedy``);
2. trains a fresh SAC (learning rate 1e-3) on the recovered reward through imitation's ``RewardVecEnvWrapper``:
   ``advantage`` is ``ImplicitAdvantageRewardNet`` (Q(s, a) - max_a' Q(s, a'), scaled by 1 - gamma), ``recovered``
   is ``ImplicitRewardNet`` (Q(s, a) - gamma V(s'), the dones ignored: Pendulum only ends by truncation);
3. prints SAC's true return (10 deterministic episodes, env seeds 10000-10009) every ``--eval-every`` steps.

Needs imitation (see the README's recipes). About 11 minutes on one CPU core with the defaults.
"""

from __future__ import annotations

import argparse
import time

import gymnasium as gym
import torch as th
from imitation.rewards.reward_wrapper import RewardVecEnvWrapper
from stable_baselines3 import SAC
from stable_baselines3.common.env_util import make_vec_env

from sb3_lsiq import LSIQ
from sb3_lsiq.common.hyperparams import algorithm_kwargs
from sb3_lsiq.common.recording import random_policy_return
from sb3_lsiq.experts.pipeline import evaluate_expert
from sb3_lsiq.integrations.imitation import ImplicitAdvantageRewardNet, ImplicitRewardNet

ENV_ID = "Pendulum-v1"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=0, help="LSIQ's seed; SAC and its env use seed + 1")
    parser.add_argument("--form", choices=["advantage", "recovered"], default="advantage")
    parser.add_argument("--lsiq-model", help="a trained LSIQ zip; default: train one")
    parser.add_argument("--lsiq-steps", type=int, default=20_000)
    parser.add_argument("--sac-steps", type=int, default=15_000)
    parser.add_argument("--eval-every", type=int, default=2_500)
    parser.add_argument("--save-lsiq", help="save the trained LSIQ here")
    args = parser.parse_args()
    th.set_num_threads(1)
    start = time.time()

    if args.lsiq_model:
        lsiq = LSIQ.load(args.lsiq_model, device="cpu")
    else:
        lsiq = LSIQ("MlpPolicy", ENV_ID, seed=args.seed, device="cpu", **algorithm_kwargs("lsiq", ENV_ID))
        lsiq.learn(args.lsiq_steps, progress_bar=True)
        if args.save_lsiq:
            lsiq.save(args.save_lsiq)
    for name, policy in (("LSIQ's policy", lsiq), ("Q's greedy policy", lsiq.greedy_policy())):
        mean, std = evaluate_expert(policy, ENV_ID, n_episodes=10, seed=10_000)
        print(f"{name}: {mean:.0f} +- {std:.0f}", flush=True)

    reward_net = ImplicitAdvantageRewardNet(lsiq) if args.form == "advantage" else ImplicitRewardNet(lsiq, use_done=False)
    venv = RewardVecEnvWrapper(make_vec_env(ENV_ID, n_envs=1, seed=args.seed + 1), reward_fn=reward_net.predict_processed)
    sac = SAC("MlpPolicy", venv, learning_rate=1e-3, seed=args.seed + 1, device="cpu")
    for steps in range(args.eval_every, args.sac_steps + 1, args.eval_every):
        sac.learn(args.eval_every, reset_num_timesteps=False)
        mean, std = evaluate_expert(sac, ENV_ID, n_episodes=10, seed=10_000)
        elapsed = time.time() - start
        print(f"SAC on the {args.form} reward, {steps} steps: {mean:.0f} +- {std:.0f} ({elapsed:.0f} s)", flush=True)
    random_return, random_std = random_policy_return(gym.make(ENV_ID), n_episodes=100, seed=10_000)
    print(f"random policy (100 episodes): {random_return:.0f} +- {random_std:.0f}")


if __name__ == "__main__":
    main()
