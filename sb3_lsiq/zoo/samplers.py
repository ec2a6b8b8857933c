"""Optuna search spaces for ``rl_zoo3 train -optimize``: the SAC knobs plus the imitation-specific ones
(c = ``reg_mult``, the number of demonstration episodes, the entropy coefficient, the actor learning rate).

Each sampler suggests raw trial parameters and returns them converted to constructor kwargs; the converter is
what rl-zoo3 applies to ``study.best_trial.params`` (``--trial-id``, re-training the best trial).
"""

from __future__ import annotations

from typing import Any

from torch import nn

NET_ARCHS = {"small": [64, 64], "medium": [256, 256], "big": [400, 300]}
# The LS-IQ paper's demonstration budgets (algorithms.md §3.2); capped by the episodes a dataset holds
DEMO_EPISODES = (1, 5, 10, 25)


def _sample_common(trial: Any, implicit_reward: bool = True) -> dict[str, Any]:
    params = {
        "gamma": trial.suggest_categorical("gamma", [0.98, 0.99, 0.995]),
        "learning_rate": trial.suggest_float("learning_rate", 1e-5, 2e-3, log=True),
        "actor_learning_rate": trial.suggest_float("actor_learning_rate", 1e-5, 2e-3, log=True),
        "batch_size": trial.suggest_categorical("batch_size", [64, 128, 256, 512]),
        "tau": trial.suggest_float("tau", 0.001, 0.05, log=True),
        "net_arch": trial.suggest_categorical("net_arch", list(NET_ARCHS)),
        "reg_mult": trial.suggest_float("reg_mult", 0.1, 10.0, log=True) if implicit_reward else None,
        "n_demo_episodes": trial.suggest_categorical("n_demo_episodes", list(DEMO_EPISODES)),
        "ent_coef": trial.suggest_float("ent_coef", 1e-4, 0.1, log=True),
    }
    if not implicit_reward:  # SQIL's rewards are fixed at 0 / 1: no c to tune
        del params["reg_mult"]
    return params


def convert_iq_params(sampled_params: dict[str, Any]) -> dict[str, Any]:
    """Trial parameters -> constructor kwargs (``net_arch`` names become ``policy_kwargs``)."""
    hyperparams = dict(sampled_params)
    net_arch = NET_ARCHS[hyperparams.pop("net_arch")]
    hyperparams["policy_kwargs"] = {"net_arch": net_arch, "activation_fn": nn.ReLU}
    return hyperparams


def sample_lsiq_params(trial: Any, n_actions: int, n_envs: int, additional_args: dict[str, Any]) -> dict[str, Any]:
    """Search space of LSIQ: the common knobs and the critic loss form."""
    params = _sample_common(trial)
    params["policy_term"] = trial.suggest_categorical("policy_term", ["value", "q_old_policy"])
    return convert_iq_params(params)


def sample_iqlearn_params(trial: Any, n_actions: int, n_envs: int, additional_args: dict[str, Any]) -> dict[str, Any]:
    """Search space of IQ-Learn: the common knobs, the policy term and the regulariser."""
    params = _sample_common(trial)
    params["policy_term"] = trial.suggest_categorical("policy_term", ["value", "v0"])
    params["regularizer"] = trial.suggest_categorical("regularizer", ["expert_and_policy", "expert", "policy"])
    return convert_iq_params(params)


def sample_sqil_params(trial: Any, n_actions: int, n_envs: int, additional_args: dict[str, Any]) -> dict[str, Any]:
    """Search space of SQIL: the common knobs (no c) and the policy term."""
    params = _sample_common(trial, implicit_reward=False)
    params["policy_term"] = trial.suggest_categorical("policy_term", ["q_old_policy", "value"])
    return convert_iq_params(params)


def sample_adversarial_params(trial: Any, n_actions: int, n_envs: int, additional_args: dict[str, Any]) -> dict[str, Any]:
    """Search space of GAIL and VAIL: PPO's main knobs, the discriminator's and the number of demonstrations."""
    params = {
        "learning_rate": trial.suggest_float("learning_rate", 1e-5, 1e-3, log=True),
        "n_steps": trial.suggest_categorical("n_steps", [256, 512, 1024, 2048]),
        "batch_size": trial.suggest_categorical("batch_size", [32, 64, 128]),
        "gamma": trial.suggest_categorical("gamma", [0.98, 0.99, 0.995, 0.999]),
        "ent_coef": trial.suggest_float("ent_coef", 1e-8, 1e-2, log=True),
        "discriminator_learning_rate": trial.suggest_float("discriminator_learning_rate", 1e-6, 1e-3, log=True),
        "discriminator_epochs": trial.suggest_categorical("discriminator_epochs", [1, 2, 5]),
        "n_demo_episodes": trial.suggest_categorical("n_demo_episodes", list(DEMO_EPISODES)),
    }
    return params


def sample_vail_params(trial: Any, n_actions: int, n_envs: int, additional_args: dict[str, Any]) -> dict[str, Any]:
    """Search space of VAIL: GAIL's and the bottleneck's information constraint I_c."""
    params = sample_adversarial_params(trial, n_actions, n_envs, additional_args)
    params["information_constraint"] = trial.suggest_float("information_constraint", 0.01, 1.0, log=True)
    return params


def convert_adversarial_params(sampled_params: dict[str, Any]) -> dict[str, Any]:
    """Trial parameters are constructor kwargs already (no named architectures)."""
    return dict(sampled_params)
