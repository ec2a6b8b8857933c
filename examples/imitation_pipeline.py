"""LSIQ inside an imitation-library pipeline on Pendulum-v1, next to imitation's own BC and GAIL.

    python examples/imitation_pipeline.py [--expert expert.zip] [--episodes 5] [--seed 0]

1. trains a SAC expert (rl-zoo3's Pendulum settings) or loads ``--expert``;
2. collects demonstrations with ``imitation.data.rollout`` (infos kept, so time-limit ends are truncations);
3. trains LSIQ through the imitation-style ``LSIQTrainer``, and imitation's BC and GAIL (SAC generator) on the
   same demonstrations;
4. evaluates every policy with the same function (10 deterministic episodes, env seeds 10000-10009);
5. trains a fresh SAC on LSIQ's recovered reward in its advantage form (``ImplicitAdvantageRewardNet`` through
   imitation's ``RewardVecEnvWrapper``) and reports its true return.

Prints a table of mean returns and expert-normalised scores. Needs imitation (see the README's recipes).
"""

from __future__ import annotations

import argparse
import time

import gymnasium as gym
import numpy as np
import torch as th
from imitation.algorithms import bc
from imitation.algorithms.adversarial.gail import GAIL
from imitation.data import rollout
from imitation.data.wrappers import RolloutInfoWrapper
from imitation.rewards.reward_nets import BasicRewardNet
from imitation.rewards.reward_wrapper import RewardVecEnvWrapper
from imitation.util.networks import RunningNorm
from stable_baselines3 import SAC
from stable_baselines3.common.vec_env import DummyVecEnv

from sb3_lsiq.common.evaluation import expert_normalized_score
from sb3_lsiq.common.hyperparams import algorithm_kwargs
from sb3_lsiq.common.recording import random_policy_return
from sb3_lsiq.experts.pipeline import evaluate_expert
from sb3_lsiq.integrations.imitation import LSIQTrainer

ENV_ID = "Pendulum-v1"


def make_venv(seed: int) -> DummyVecEnv:
    venv = DummyVecEnv([lambda: RolloutInfoWrapper(gym.make(ENV_ID))])
    venv.seed(seed)
    return venv


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--expert", help="a trained SB3 SAC zip; default: train one")
    parser.add_argument("--expert-steps", type=int, default=15_000)
    parser.add_argument("--episodes", type=int, default=5, help="demonstration episodes")
    parser.add_argument("--lsiq-steps", type=int, default=20_000)
    parser.add_argument("--bc-epochs", type=int, default=50)
    parser.add_argument("--gail-steps", type=int, default=20_000)
    parser.add_argument("--reward-sac-steps", type=int, default=15_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    th.set_num_threads(1)
    rng = np.random.default_rng(args.seed)
    timings: dict[str, float] = {}

    start = time.time()
    if args.expert:
        expert = SAC.load(args.expert, device="cpu")
    else:
        expert = SAC("MlpPolicy", ENV_ID, learning_rate=1e-3, seed=args.seed)  # rl-zoo3's Pendulum SAC settings
        expert.learn(args.expert_steps, progress_bar=True)
    timings["expert"] = time.time() - start

    trajectories = rollout.rollout(expert, make_venv(args.seed), rollout.make_sample_until(min_episodes=args.episodes),
                                   rng=rng, exclude_infos=False)[: args.episodes]  # fmt: skip
    transitions = rollout.flatten_trajectories(trajectories)
    print(f"{len(trajectories)} expert episodes, {len(transitions)} transitions, demo return "
          f"{np.mean([t.rews.sum() for t in trajectories]):.1f}")  # fmt: skip

    # LSIQ through the imitation-style trainer, with the packaged Pendulum hyperparameters
    start = time.time()
    rl_kwargs = algorithm_kwargs("lsiq", ENV_ID)
    rl_kwargs.pop("demonstrations"), rl_kwargs.pop("n_demo_episodes")
    lsiq = LSIQTrainer(venv=make_venv(args.seed), demonstrations=trajectories, rl_kwargs=rl_kwargs, rng=rng)
    lsiq.train(total_timesteps=args.lsiq_steps, progress_bar=True)
    timings["LSIQ"] = time.time() - start

    start = time.time()
    env = gym.make(ENV_ID)
    behaviour_cloning = bc.BC(observation_space=env.observation_space, action_space=env.action_space,
                              demonstrations=transitions, rng=rng)  # fmt: skip
    behaviour_cloning.train(n_epochs=args.bc_epochs)
    timings["BC"] = time.time() - start

    start = time.time()
    gail_venv = make_venv(args.seed)
    generator = SAC("MlpPolicy", gail_venv, learning_rate=1e-3, seed=args.seed)
    reward_net = BasicRewardNet(gail_venv.observation_space, gail_venv.action_space, normalize_input_layer=RunningNorm)
    gail = GAIL(demonstrations=transitions, demo_batch_size=256, gen_replay_buffer_capacity=2048,
                n_disc_updates_per_round=4, venv=gail_venv, gen_algo=generator, reward_net=reward_net,
                gen_train_timesteps=1000, allow_variable_horizon=True)  # fmt: skip
    gail.train(args.gail_steps)
    timings["GAIL"] = time.time() - start

    # A fresh SAC trained only on the reward LSIQ recovered, in its advantage form Q(s, a) - max_a' Q(s, a'): the
    # same optimal policy as Q(s, a) - gamma V(s'), without the shaping term that pays for falling (README)
    start = time.time()
    recovered = lsiq.advantage_reward_net()
    reward_venv = RewardVecEnvWrapper(make_venv(args.seed + 1), reward_fn=recovered.predict_processed)
    reward_sac = SAC("MlpPolicy", reward_venv, learning_rate=1e-3, seed=args.seed + 1)
    reward_sac.learn(args.reward_sac_steps, progress_bar=True)
    timings["SAC on LSIQ's reward"] = time.time() - start

    random_return, _ = random_policy_return(gym.make(ENV_ID), n_episodes=100, seed=10_000)
    rows = {"expert (SAC)": expert, "LSIQ": lsiq.policy, "BC": behaviour_cloning.policy, "GAIL": generator,
            "SAC on LSIQ's reward": reward_sac}  # fmt: skip
    # one evaluation function for every policy: deterministic actions, env seeds 10000-10009
    results = {name: evaluate_expert(policy, ENV_ID, n_episodes=10, seed=10_000) for name, policy in rows.items()}
    expert_return = results["expert (SAC)"][0]
    print(f"\n{args.episodes} demonstration episodes, seed {args.seed}; random policy {random_return:.1f}")
    print("| policy | return (10 episodes) | expert-normalised | wall time |")
    print("|---|---|---|---|")
    for name, (mean, std) in results.items():
        score = expert_normalized_score(mean, expert_return, random_return)
        seconds = timings["expert" if name.startswith("expert") else name]
        print(f"| {name} | {mean:.1f} +- {std:.1f} | {score:.2f} | {seconds:.0f} s |")


if __name__ == "__main__":
    main()
