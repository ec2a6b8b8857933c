"""Learning: LSIQ and IQ-Learn imitate a Pendulum-v1 expert from 5 episodes within 20,000 environment steps.

The policy is evaluated every 2,500 steps (10 deterministic episodes on a seeded env, as rl-zoo3's EvalCallback
does); the test asserts that the expert-normalised return reaches 0.9 within the budget, and that the final
policy has not collapsed (>= 0.7). Every score is printed, so the CI log holds the learning curves. After
training, the greedy policy of the learnt Q (the optimal policy of the recovered reward, what a new agent trained
on that reward converges to at best) must beat a random policy clearly.
"""

import gymnasium as gym
import pytest
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.vec_env import DummyVecEnv

from sb3_lsiq import LSIQ, IQLearn
from sb3_lsiq.common.evaluation import expert_normalized_score
from sb3_lsiq.common.hyperparams import algorithm_kwargs, load_hyperparams

ALGOS = {"lsiq": LSIQ, "iqlearn": IQLearn}
STEPS = 20_000
EVAL_EVERY = 2_500
MIN_BEST_SCORE = 0.9  # at least 90% of the expert's return improvement over a random policy
MIN_FINAL_SCORE = 0.7
MIN_STATE_ONLY_SCORE = 0.8
# Q's greedy policy, the optimal policy of the recovered reward: clearly above a random policy (score 0), not always
# the expert's level (measured in this test, seed 0: LSIQ 0.85, IQ-Learn 0.95; examples/reward_transfer.py's LSIQ
# seed 0, evaluated on other initial states: 0.61)
MIN_GREEDY_SCORE = 0.4


class ScoreEvaluator(BaseCallback):
    """Expert-normalised return of the deterministic policy every ``EVAL_EVERY`` steps (10 episodes)."""

    def __init__(self, expert_return: float, random_return: float, seed: int, every: int = EVAL_EVERY) -> None:
        super().__init__()
        self.expert_return, self.random_return, self.seed, self.every = expert_return, random_return, seed, every
        self.scores: list[float] = []

    def _on_step(self) -> bool:
        if self.num_timesteps % self.every == 0:
            self.evaluate(self.model)
        return True

    def evaluate(self, model) -> None:
        eval_env = DummyVecEnv([lambda: Monitor(gym.make("Pendulum-v1"))])
        eval_env.seed(10_000 + self.seed)  # the same 10 initial states at every evaluation
        mean_return, _ = evaluate_policy(model, eval_env, n_eval_episodes=10, deterministic=True)
        self.scores.append(expert_normalized_score(float(mean_return), self.expert_return, self.random_return))


# A second seed of each learning test is opt-in (`pytest -m extra_seeds`): CI runs seed 0 of each test to stay within
# its time budget (a 20k-step LSIQ run costs 8-9 minutes of one core).
EXTRA_SEED = pytest.param(1, marks=pytest.mark.extra_seeds)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, EXTRA_SEED])
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
    # Reward transfer's ceiling: the policy an agent trained to the optimum on the recovered reward would follow
    evaluator.evaluate(model.greedy_policy())
    greedy_score = evaluator.scores[-1]
    print(f"{algo} seed {seed}: Q's greedy policy expert-normalised {greedy_score:.2f}")
    assert greedy_score >= MIN_GREEDY_SCORE, f"{algo} seed {seed}: Q's greedy policy scores {greedy_score:.2f}"


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, EXTRA_SEED])
def test_lsiq_learns_pendulum_from_observations_only(seed, pendulum_demos):
    """State-only LSIQ: the same 5 episodes without their actions, labelled by the inverse dynamics model; the
    expert-normalised return must reach 0.8 within the same budget."""
    kwargs = algorithm_kwargs("lsiq", "Pendulum-v1")
    kwargs["demonstrations"] = pendulum_demos.without_actions()
    model = LSIQ("MlpPolicy", "Pendulum-v1", seed=seed, expert_actions="idm", **kwargs)
    evaluator = ScoreEvaluator(pendulum_demos.metadata["mean_return"], pendulum_demos.metadata["random_mean_return"], seed)
    model.learn(STEPS, callback=evaluator)
    curve = ", ".join(f"{(i + 1) * EVAL_EVERY}: {s:.2f}" for i, s in enumerate(evaluator.scores))
    print(f"state-only lsiq seed {seed} expert-normalised scores {curve}")
    assert max(evaluator.scores) >= MIN_STATE_ONLY_SCORE, f"state-only LSIQ seed {seed} never reached 0.8: {curve}"


OFFLINE_UPDATES = 10_000
OFFLINE_EVAL_EVERY = 2_000


def offline_scores(objective: str, seed: int, demos, value: str = "soft_max") -> list[float]:
    """Expert-normalised scores every ``OFFLINE_EVAL_EVERY`` updates of offline LSIQ or of behaviour cloning, both on
    the same actor and settings (the packaged Pendulum entry, with a fixed entropy coefficient: the learned one
    follows a target entropy that offline data cannot inform). One ``learn_offline`` call, as ``learn`` runs it with
    ``offline_objective``: the packaged learning rates decay linearly over its updates."""
    kwargs = algorithm_kwargs("lsiq", "Pendulum-v1")
    kwargs.update(demonstrations=demos, n_demo_episodes=None, ent_coef=0.01)
    model = LSIQ("MlpPolicy", "Pendulum-v1", seed=seed, **kwargs)
    expert_return, random_return = demos.metadata["mean_return"], demos.metadata["random_mean_return"]
    evaluator = ScoreEvaluator(expert_return, random_return, seed, every=OFFLINE_EVAL_EVERY)
    model.learn_offline(
        OFFLINE_UPDATES, callback=evaluator, objective=objective, policy_term="value_expert", value=value, log_interval=0
    )
    # no environment step was taken: num_timesteps counts the offline updates and the replay buffer stayed empty
    assert model.num_timesteps == OFFLINE_UPDATES and model.replay_buffer.size() == 0
    assert len(evaluator.scores) == OFFLINE_UPDATES // OFFLINE_EVAL_EVERY
    return evaluator.scores


# Measured (10 demos, best of the 5 evaluations; seeds 0 / 1 / 2): BC 1.05 / 0.97 / 1.03. Offline LSIQ with the
# actor's V(s) (value="policy", the paper's) 0.94 / 0.69 / 0.75, swinging between evaluations; with the soft maximum
# of Q over actions (value="soft_max", 4 + 4 importance samples) 1.05 / 0.98 / 1.02. Other settings of the actor's V
# measured on seed 0, all below BC: constant learning rates 1e-3 / 3e-4 gave 0.81 / 0.88, ent_coef 1e-3 / 1e-4 / 0.05
# gave 0.85 / 0.88 / 0.41, c = 0.5 / 10 gave 0.81 / 0.89, policy_term "v0" stayed below 0.2, and 4k updates of BC
# before the IQ updates fell from BC's level to 0.58-0.89.
MIN_OFFLINE_SCORE = 0.9
# evaluation noise: 10 deterministic episodes from random starts move the score by a few hundredths
OFFLINE_TOLERANCE_TO_BC = 0.03


@pytest.mark.slow
def test_offline_lsiq_matches_behaviour_cloning():
    """Offline LSIQ (soft-max V) from 10 expert episodes, no environment interaction, against BC on the same actor,
    data and number of updates: its best evaluation must reach 0.9 and BC's best (within evaluation noise)."""
    from sb3_lsiq.data import pendulum_demonstrations

    demos = pendulum_demonstrations(10)
    lsiq = offline_scores("iq", 0, demos)
    bc = offline_scores("bc", 0, demos)
    print(f"offline LSIQ scores {[round(s, 2) for s in lsiq]}; BC scores {[round(s, 2) for s in bc]}")
    assert max(lsiq) >= MIN_OFFLINE_SCORE, f"offline LSIQ {lsiq} never reached {MIN_OFFLINE_SCORE}"
    assert max(lsiq) >= max(bc) - OFFLINE_TOLERANCE_TO_BC, f"offline LSIQ {lsiq} fell behind BC {bc}"


# The entropy critics with a fixed entropy coefficient, as the paper runs them: a learned one diverges with them (LSIQ
# warns; measured on seed 0: alpha 0.7 -> 44 and the score fell from 1.04 to 0.37). Fixed 0.1, 0.03 and 0.01 ended at
# 1.04, 1.04 and 0.68 on seed 0 (0.1 fastest: 0.98 at 5k steps).
VARIANTS = {
    "lsiq-h": ("lsiq", {"entropy_critic": "entropy", "ent_coef": 0.1}),
    "lsiq-hc": ("lsiq", {"entropy_critic": "entropy_regularizer", "ent_coef": 0.1}),
    "sqil": ("sqil", {}),
}


@pytest.mark.slow
@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_variants_learn_pendulum(variant, pendulum_demos):
    """LSIQ-H, LSIQ-HC (with a fixed ent_coef) and SQIL with their packaged Pendulum settings, one seed, the same bar.
    SQIL is held to the best score only, within half the budget: its unbounded Q (reward 1 on expert rows forever)
    makes it fall after learning, the instability LS-IQ's bounded targets remove (measured: 1.05 at 5k-10k steps,
    0.5-0.76 from 12.5k on)."""
    from sb3_lsiq.zoo import ZOO_ALGORITHMS

    algo, extra = VARIANTS[variant]
    kwargs = {**algorithm_kwargs(algo, "Pendulum-v1"), **extra}  # the variant's options override the packaged entry
    model = ZOO_ALGORITHMS[algo]("MlpPolicy", "Pendulum-v1", seed=0, **kwargs)
    evaluator = ScoreEvaluator(pendulum_demos.metadata["mean_return"], pendulum_demos.metadata["random_mean_return"], 0)
    model.learn(STEPS // 2 if variant == "sqil" else STEPS, callback=evaluator)
    curve = ", ".join(f"{(i + 1) * EVAL_EVERY}: {s:.2f}" for i, s in enumerate(evaluator.scores))
    print(f"{variant} seed 0 expert-normalised scores {curve}")
    assert max(evaluator.scores) >= MIN_BEST_SCORE, f"{variant} never reached {MIN_BEST_SCORE}: {curve}"
    if variant != "sqil":
        assert evaluator.scores[-1] >= MIN_FINAL_SCORE, f"{variant} collapsed at the end: {curve}"


@pytest.mark.slow
@pytest.mark.parametrize("algo", ["gail", "vail"])
def test_adversarial_baselines_learn_pendulum(algo, pendulum_demos):
    """GAIL and VAIL (PPO generators, on-policy: more steps) with their packaged settings from 5 expert episodes.
    Measured through the benchmark runner (rl-zoo3, 100k steps): GAIL 1.02 at 30k-40k, VAIL 1.05 at 40k."""
    from stable_baselines3.common.env_util import make_vec_env

    from sb3_lsiq.zoo import ZOO_ALGORITHMS

    kwargs = algorithm_kwargs(algo, "Pendulum-v1")
    env = make_vec_env("Pendulum-v1", n_envs=load_hyperparams(algo, "Pendulum-v1")["n_envs"], seed=0)  # an rl-zoo3 key
    model = ZOO_ALGORITHMS[algo]("MlpPolicy", env, seed=0, **kwargs)
    evaluator = ScoreEvaluator(
        pendulum_demos.metadata["mean_return"], pendulum_demos.metadata["random_mean_return"], 0, 10_000
    )
    model.learn(60_000, callback=evaluator)
    curve = ", ".join(f"{(i + 1) * 10_000}: {s:.2f}" for i, s in enumerate(evaluator.scores))
    print(f"{algo} seed 0 expert-normalised scores {curve}")
    assert max(evaluator.scores) >= MIN_BEST_SCORE, f"{algo} never reached {MIN_BEST_SCORE}: {curve}"
