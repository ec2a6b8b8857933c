"""The behaviour-cloning baseline: imitation's BC on the same demonstrations, evaluated with the same protocol, its
curve written where the runner keeps rl-zoo3's, so export and report treat it like any run.

BC never touches the environment while it learns, so its curve's x axis counts gradient steps (batches of 256).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import torch as th

from sb3_lsiq.benchmarks.callbacks import RESUME_STATE, StochasticEvalCallback, read_resume_state
from sb3_lsiq.benchmarks.export import export
from sb3_lsiq.benchmarks.spec import RunSpec

BC_BATCH_SIZE = 256
BC_NET_ARCH = [256, 256]


def run_bc(spec: RunSpec, root: Path) -> Path:
    """Train imitation's BC (a 256x256 Gaussian MLP policy) for ``spec.steps`` batches, evaluating every
    ``spec.eval_freq`` batches; a finished run is only re-exported."""
    try:
        import gymnasium as gym
        from imitation.algorithms import bc
        from imitation.data.types import Transitions
        from stable_baselines3.common.env_util import make_vec_env
        from stable_baselines3.common.evaluation import evaluate_policy
        from stable_baselines3.common.policies import ActorCriticPolicy
    except ImportError as error:
        raise RuntimeError(f"the BC baseline needs imitation ({error}); see the README's imitation section") from error

    from sb3_lsiq.common.demonstrations import load_demonstrations

    run_dir = spec.run_dir(root)
    state_file = run_dir / "resume" / RESUME_STATE
    done_steps, finished = read_resume_state(state_file.parent)
    if finished and done_steps >= spec.steps:
        return export(spec, root)
    th.set_num_threads(1)
    th.manual_seed(spec.seed)
    started = time.time()
    demos = load_demonstrations(f"sb3_lsiq:{spec.env_id}", n_episodes=spec.n_demos)
    if demos.actions is None:
        raise RuntimeError(f"BC needs expert actions; the {spec.env_id} demonstrations have none")
    env = gym.make(spec.env_id)
    episode_ends = np.zeros(demos.n_transitions, dtype=bool)
    episode_ends[np.cumsum(demos.episode_lengths) - 1] = True
    transitions = Transitions(
        obs=demos.observations, acts=demos.actions, infos=np.array([{}] * demos.n_transitions),
        next_obs=demos.next_observations, dones=episode_ends,
    )  # fmt: skip
    policy = ActorCriticPolicy(env.observation_space, env.action_space, lambda _: 1e-3, net_arch=BC_NET_ARCH)
    trainer = bc.BC(observation_space=env.observation_space, action_space=env.action_space,
                    rng=np.random.default_rng(spec.seed), policy=policy, demonstrations=transitions,
                    batch_size=BC_BATCH_SIZE, device="cpu")  # fmt: skip

    eval_env = make_vec_env(spec.env_id, n_envs=1, seed=10_000 + spec.seed)
    zoo_dir = run_dir / "zoo" / "bc" / f"{spec.env_id}_1"
    zoo_dir.mkdir(parents=True, exist_ok=True)
    # the stochastic curve reuses the callback's writer; the deterministic one is kept like rl-zoo3's evaluations.npz
    stochastic = StochasticEvalCallback(
        spec.env_id, spec.eval_freq, spec.eval_episodes, str(run_dir / "evaluations_stochastic.npz")
    )
    deterministic: dict[str, list] = {"timesteps": [], "results": [], "ep_lengths": []}
    batches = 0

    def on_batch_end() -> None:
        nonlocal batches
        batches += 1
        if batches % spec.eval_freq:
            return
        for is_deterministic in (True, False):
            returns, lengths = evaluate_policy(trainer.policy, eval_env, n_eval_episodes=spec.eval_episodes,
                                               deterministic=is_deterministic, return_episode_rewards=True)  # fmt: skip
            if is_deterministic:
                deterministic["timesteps"].append(batches)
                deterministic["results"].append(returns)
                deterministic["ep_lengths"].append(lengths)
                arrays = {key: np.asarray(value) for key, value in deterministic.items()}
                np.savez(zoo_dir / "evaluations.npz", timesteps=arrays["timesteps"], results=arrays["results"],
                         ep_lengths=arrays["ep_lengths"])  # fmt: skip
            else:
                stochastic._append(batches, np.asarray(returns, dtype=np.float64), np.asarray(lengths, dtype=np.int64))

    trainer.train(n_batches=spec.steps, on_batch_end=on_batch_end, log_interval=10**9, progress_bar=False)
    seconds = round(time.time() - started, 1)
    segment = {"segment": 1, "start_timesteps": 0, "seconds": seconds, "command": spec.command(), "returncode": 0}
    (run_dir / "segments.json").write_text(json.dumps([segment], indent=1))
    state_file.parent.mkdir(parents=True, exist_ok=True)
    state_file.write_text(json.dumps({"num_timesteps": spec.steps, "finished": True}))
    return export(spec, root)
