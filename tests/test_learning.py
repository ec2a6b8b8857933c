"""Learning: LSIQ and IQ-Learn imitate a Pendulum-v1 expert from 5 episodes within 20,000 environment steps."""

import gymnasium as gym
import pytest
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.vec_env import DummyVecEnv

from sb3_lsiq import LSIQ, IQLearn
from sb3_lsiq.common.evaluation import expert_normalized_score
from sb3_lsiq.common.hyperparams import algorithm_kwargs

ALGOS = {"lsiq": LSIQ, "iqlearn": IQLearn}
STEPS = 20_000
MIN_SCORE = 0.9  # at least 90% of the expert's return improvement over a random policy


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("algo", sorted(ALGOS))
def test_learns_pendulum_from_five_expert_episodes(algo, seed, pendulum_demos):
    assert pendulum_demos.n_episodes == 5
    kwargs = algorithm_kwargs(algo, "Pendulum-v1")  # the packaged hyperparameter file, as rl-zoo3 uses it
    model = ALGOS[algo]("MlpPolicy", "Pendulum-v1", demonstrations=pendulum_demos, seed=seed, **kwargs)
    model.learn(STEPS)
    eval_env = DummyVecEnv([lambda: Monitor(gym.make("Pendulum-v1"))])
    eval_env.seed(10_000 + seed)
    mean_return, _ = evaluate_policy(model, eval_env, n_eval_episodes=10, deterministic=True)
    expert, random = pendulum_demos.metadata["mean_return"], pendulum_demos.metadata["random_mean_return"]
    score = expert_normalized_score(float(mean_return), expert, random)
    print(f"{algo} seed {seed}: return {mean_return:.1f}, expert-normalised {score:.3f}")
    assert score >= MIN_SCORE, f"{algo} seed {seed}: return {mean_return:.1f}, expert-normalised {score:.3f} < {MIN_SCORE}"
