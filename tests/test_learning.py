"""Learning: LSIQ and IQ-Learn imitate a Pendulum-v1 expert from 5 episodes within 20,000 environment steps.

The policy is evaluated every 2,500 steps (10 deterministic episodes on a seeded env, as rl-zoo3's EvalCallback
does); the test asserts that the expert-normalised return reaches 0.9 within the budget, and that the final
policy has not collapsed (>= 0.7). Every score is printed, so the CI log holds the learning curves.
"""

import gymnasium as gym
import pytest
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.vec_env import DummyVecEnv

from sb3_lsiq import LSIQ, IQLearn
from sb3_lsiq.common.evaluation import expert_normalized_score
from sb3_lsiq.common.hyperparams import algorithm_kwargs

ALGOS = {"lsiq": LSIQ, "iqlearn": IQLearn}
STEPS = 20_000
EVAL_EVERY = 2_500
MIN_BEST_SCORE = 0.9  # at least 90% of the expert's return improvement over a random policy
MIN_FINAL_SCORE = 0.7


class ScoreEvaluator(BaseCallback):
    """Expert-normalised return of the deterministic policy every ``EVAL_EVERY`` steps (10 episodes)."""

    def __init__(self, expert_return: float, random_return: float, seed: int) -> None:
        super().__init__()
        self.expert_return, self.random_return, self.seed = expert_return, random_return, seed
        self.scores: list[float] = []

    def _on_step(self) -> bool:
        if self.num_timesteps % EVAL_EVERY == 0:
            eval_env = DummyVecEnv([lambda: Monitor(gym.make("Pendulum-v1"))])
            eval_env.seed(10_000 + self.seed)  # the same 10 initial states at every evaluation
            mean_return, _ = evaluate_policy(self.model, eval_env, n_eval_episodes=10, deterministic=True)
            self.scores.append(expert_normalized_score(float(mean_return), self.expert_return, self.random_return))
        return True


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("algo", sorted(ALGOS))
def test_learns_pendulum_from_five_expert_episodes(algo, seed, pendulum_demos):
    assert pendulum_demos.n_episodes == 5
    kwargs = algorithm_kwargs(algo, "Pendulum-v1")  # the packaged hyperparameter file, as rl-zoo3 uses it
    assert kwargs["demonstrations"] == "sb3_lsiq:Pendulum-v1" and kwargs["n_demo_episodes"] == 5
    model = ALGOS[algo]("MlpPolicy", "Pendulum-v1", seed=seed, **kwargs)
    evaluator = ScoreEvaluator(pendulum_demos.metadata["mean_return"], pendulum_demos.metadata["random_mean_return"], seed)
    model.learn(STEPS, callback=evaluator)
    curve = ", ".join(f"{(i + 1) * EVAL_EVERY}: {s:.2f}" for i, s in enumerate(evaluator.scores))
    print(f"{algo} seed {seed} expert-normalised scores {curve}")
    assert len(evaluator.scores) == STEPS // EVAL_EVERY
    assert max(evaluator.scores) >= MIN_BEST_SCORE, f"{algo} seed {seed} never reached {MIN_BEST_SCORE}: {curve}"
    assert evaluator.scores[-1] >= MIN_FINAL_SCORE, f"{algo} seed {seed} collapsed at the end: {curve}"
