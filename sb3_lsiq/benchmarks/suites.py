"""The benchmark suites: named lists of runs, in the order they are worth running (seed-major, so a suite that is
stopped halfway already covers every algorithm and task)."""

from __future__ import annotations

from sb3_lsiq.benchmarks.spec import RunSpec

QUALITY_ENVS = ("Hopper-v5", "Walker2d-v5", "HalfCheetah-v5", "Ant-v5")
SEEDS = (0, 1, 2)
QUALITY_STEPS = 300_000
VARIANT_ENVS = ("Hopper-v5", "Walker2d-v5")
OFFLINE_UPDATES = 100_000


def quality_suite() -> list[RunSpec]:
    """LSIQ and IQ-Learn from 5 demonstrations, BC on the same, then LSIQ from 1, then GAIL from 5, on the four MuJoCo
    tasks, 3 seeds, 300k environment steps."""
    specs = [
        RunSpec(algo, env_id, n_demos=5, seed=seed, steps=QUALITY_STEPS)
        for seed in SEEDS
        for env_id in QUALITY_ENVS
        for algo in ("lsiq", "iqlearn")
    ]
    # imitation's BC on the same 5 demonstrations: 20k batches of 256 (no environment steps), evaluated every 2k
    specs += [
        RunSpec("bc", env_id, n_demos=5, seed=seed, steps=20_000, eval_freq=2_000, resume_freq=20_000)
        for seed in SEEDS
        for env_id in QUALITY_ENVS
    ]
    specs += [RunSpec("lsiq", env_id, n_demos=1, seed=seed, steps=QUALITY_STEPS) for seed in SEEDS for env_id in QUALITY_ENVS]
    # GAIL (PPO generator, rl-zoo3's PPO settings) at the same 300k-step budget: on-policy, so far from converged
    specs += [RunSpec("gail", env_id, n_demos=5, seed=seed, steps=QUALITY_STEPS) for seed in SEEDS for env_id in QUALITY_ENVS]
    return specs


def demos_suite() -> list[RunSpec]:
    """The paper's claim (c): 1 vs 5 vs 25 demonstrations on Hopper-v5 (1 and 5 are shared with the quality suite)."""
    return [RunSpec("lsiq", "Hopper-v5", n_demos=n, seed=seed, steps=QUALITY_STEPS) for seed in SEEDS for n in (1, 5, 25)]


def bounded_suite() -> list[RunSpec]:
    """The paper's claim (a): unregularised IQ-Learn, whose Q and implicit reward drift, next to the quality runs."""
    return [
        RunSpec(
            "iqlearn", "Hopper-v5", n_demos=5, seed=seed, steps=QUALITY_STEPS, tag="noreg", overrides={"regularizer": "off"}
        )
        for seed in SEEDS
    ]


def survival_suite() -> list[RunSpec]:
    """The paper's claim (b), no survival bias: on GoalReach-v0 (terminating early is what the true reward wants),
    LSIQ with the absorbing-state treatment, LSIQ without it, and IQ-Learn (which has none)."""

    def goal_reach(algo: str, seed: int, tag: str = "", overrides: dict | None = None) -> RunSpec:
        return RunSpec(algo, "GoalReach-v0", n_demos=10, seed=seed, steps=30_000, tag=tag, overrides=overrides or {},
                       eval_freq=2_000, resume_freq=10_000)  # fmt: skip

    specs = []
    for seed in SEEDS:
        specs.append(goal_reach("lsiq", seed))
        specs.append(goal_reach("lsiq", seed, tag="noabsorbing", overrides={"treat_absorbing": False}))
        specs.append(goal_reach("iqlearn", seed))
    return specs


def variants_suite() -> list[RunSpec]:
    """The LS-IQ family next to LSIQ (whose runs come from the quality suite): learning from observations (the
    inverse dynamics model labels the expert pairs), the H and HC entropy critics, SQIL (300k steps) and offline
    LSIQ (100k updates); Hopper-v5 and Walker2d-v5, 5 demonstrations, 3 seeds."""
    variants = [
        ("lsiq", "fo", {"expert_actions": "idm"}),
        ("lsiq", "h", {"entropy_critic": "entropy"}),
        ("lsiq", "hc", {"entropy_critic": "entropy_regularizer"}),
        ("sqil", "", {}),
    ]
    specs = [
        RunSpec(algo, env_id, n_demos=5, seed=seed, steps=QUALITY_STEPS, tag=tag, overrides=overrides)
        for seed in SEEDS
        for env_id in VARIANT_ENVS
        for algo, tag, overrides in variants
    ]
    # Offline LSIQ (no environment step; steps are updates), next to the quality suite's BC on the same demonstrations,
    # with the soft-max V that matched BC on Pendulum-v1 where the actor's V did not (learn_offline)
    offline = {"offline_objective": "iq", "offline_policy_term": "value_expert", "offline_value": "soft_max"}
    specs += [
        RunSpec("lsiq", env_id, n_demos=5, seed=seed, steps=OFFLINE_UPDATES, tag="offline", overrides=offline)
        for seed in SEEDS
        for env_id in VARIANT_ENVS
    ]
    return specs


def smoke_suite() -> list[RunSpec]:
    """A few thousand steps on Pendulum-v1, so the scripts cannot rot (CI)."""
    return [
        RunSpec(algo, "Pendulum-v1", n_demos=2, seed=0, steps=2_000, eval_freq=1_000, eval_episodes=2, resume_freq=1_000)
        for algo in ("lsiq", "iqlearn")
    ]


SUITES = {
    "quality": quality_suite,
    "demos": demos_suite,
    "bounded": bounded_suite,
    "survival": survival_suite,
    "variants": variants_suite,
    "smoke": smoke_suite,
}
