"""How close a state-only model's expert-action labels are to the actions the expert really took.

A state-only run (``expert_actions="idm"`` or ``"policy"``) never reads the recorded actions; when the dataset has them,
this compares its labels with them, per action dimension, so a weak state-only run can be traced to its labels:

    python -m sb3_lsiq.benchmarks labels --model run/model.zip --env Hopper-v5 --demos 5

With ``--refit-fits N`` it also fits fresh inverse dynamics models, N Adam steps each on batches of the run's replay
buffer (the transitions the run's own IDM learned from), one per ``--refit-idm`` configuration, and adds their labels:
whether another IDM form would label the expert better from the same data, without a new training run.
"""

from __future__ import annotations

import json
from typing import Any, NamedTuple

import numpy as np
import torch as th
from stable_baselines3.common.buffers import ReplayBuffer

from sb3_lsiq.common.demonstrations import Demonstrations
from sb3_lsiq.common.inverse_dynamics import GaussianInverseDynamics
from sb3_lsiq.common.iq_algorithm import ImplicitQAlgorithm


class LabelError(NamedTuple):
    """Labels against the recorded actions, both in [-1, 1] (the policy's scale).

    :param mse: mean squared error per action dimension, shape (A,)
    :param correlation: Pearson correlation per action dimension, shape (A,) (NaN where the labels are constant)
    """

    mse: np.ndarray
    correlation: np.ndarray


def label_error(labels: np.ndarray, actions: np.ndarray) -> LabelError:
    """Per-dimension MSE and correlation of ``labels`` against ``actions``, each of shape (N, A)."""
    if labels.shape != actions.shape:
        raise ValueError(f"labels have shape {labels.shape} but the recorded actions {actions.shape}.")
    mse = ((labels - actions) ** 2).mean(axis=0)  # (A,)
    centred_labels, centred_actions = labels - labels.mean(axis=0), actions - actions.mean(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):  # a constant column has no correlation: NaN, not a warning
        correlation = (centred_labels * centred_actions).sum(axis=0) / np.sqrt(
            (centred_labels**2).sum(axis=0) * (centred_actions**2).sum(axis=0)
        )
    return LabelError(mse, correlation)


@th.no_grad()
def label_quality(model: ImplicitQAlgorithm, demonstrations: Demonstrations, seed: int = 0) -> dict[str, LabelError]:
    """The errors of every label source the model has, on the demonstrations' (s, s') pairs.

    Sources: ``idm sample`` (what training uses) and ``idm mean`` when the model has an inverse dynamics model,
    ``policy sample`` (the ``"policy"`` labeller) and ``policy mean``, and ``zero`` (labels all 0) as the floor any
    useful labeller beats. Observations are taken as stored (the model's VecNormalize statistics are not applied).

    :param model: a trained (or loaded) LSIQ / IQ-Learn / SQIL model
    :param demonstrations: expert data with recorded actions, in the expert's observation layout
    :param seed: seed of the sampled labels (the global torch RNG is restored afterwards)
    """
    if model.expert_observation_map is not None:
        demonstrations = model.expert_observation_map.lift_demonstrations(demonstrations)
    recorded = demonstrations.actions
    if recorded is None:
        raise ValueError("The demonstrations have no actions to compare the labels with; use a dataset that records them.")
    device = model.device
    observations = th.as_tensor(demonstrations.observations, dtype=th.float32, device=device)  # (N, obs_dim)
    next_observations = th.as_tensor(demonstrations.next_observations, dtype=th.float32, device=device)
    actions = model.policy.scale_action(recorded.reshape(len(recorded), -1))  # (N, *action_shape) -> (N, A)

    labels: dict[str, th.Tensor] = {}
    with th.random.fork_rng(devices=[]):
        th.manual_seed(seed)
        if model.inverse_dynamics is not None:
            labels["idm sample"] = model.inverse_dynamics.sample(observations, next_observations)
            labels["idm mean"] = th.tanh(model.inverse_dynamics.distribution(observations, next_observations)[0])
        labels["policy sample"] = model.actor(observations, deterministic=False)
    labels["policy mean"] = model.actor(observations, deterministic=True)
    labels["zero"] = th.zeros_like(labels["policy mean"])
    return {name: label_error(label.cpu().numpy(), actions) for name, label in labels.items()}


def replay_transitions(replay: ReplayBuffer) -> tuple[th.Tensor, th.Tensor, th.Tensor]:
    """(observations, actions, next observations) of every stored transition, float32, shapes (M, obs_dim), (M, A),
    (M, obs_dim) with M = stored steps x n_envs; actions in [-1, 1], as SB3 stores them for squashed policies."""
    if replay.optimize_memory_usage:
        raise ValueError("replay buffers with optimize_memory_usage=True are not supported here (no next_observations).")
    size = replay.buffer_size if replay.full else replay.pos

    def rows(array: np.ndarray) -> th.Tensor:
        return th.as_tensor(array[:size].reshape(size * replay.n_envs, -1), dtype=th.float32)  # (size, n_envs, d) -> (M, d)

    return rows(replay.observations), rows(replay.actions), rows(replay.next_observations)


def refit_label_quality(
    model: ImplicitQAlgorithm,
    replay: ReplayBuffer,
    demonstrations: Demonstrations,
    configurations: list[dict[str, Any]],
    fits: int,
    batch_size: int = 256,
    seed: int = 0,
) -> dict[str, LabelError]:
    """Label errors of fresh inverse dynamics models, one per configuration (``idm_kwargs``), each fitted ``fits``
    times on uniform batches of ``replay``; the row name holds the configuration and the final replay NLL (the mean
    of the last 100 fits). Labels are the mean action tanh(mu), as ``idm mean`` of :func:`label_quality`."""
    if fits < 1:
        raise ValueError(f"refit fits must be >= 1, got {fits}.")
    if model.expert_observation_map is not None:
        demonstrations = model.expert_observation_map.lift_demonstrations(demonstrations)
    recorded_actions = demonstrations.actions
    if recorded_actions is None:
        raise ValueError("The demonstrations have no actions to compare the labels with; use a dataset that records them.")
    observations, actions, next_observations = replay_transitions(replay)
    expert_observations = th.as_tensor(demonstrations.observations, dtype=th.float32)  # (N, obs_dim)
    expert_next_observations = th.as_tensor(demonstrations.next_observations, dtype=th.float32)
    recorded = model.policy.scale_action(recorded_actions.reshape(len(recorded_actions), -1))  # (N, *action_shape) -> (N, A)
    errors: dict[str, LabelError] = {}
    for config in configurations:
        with th.random.fork_rng(devices=[]):
            th.manual_seed(seed)
            idm = GaussianInverseDynamics(
                observations.shape[1], actions.shape[1], observation_indices=model._critic_observation_indices(), **config
            )
            generator = th.Generator().manual_seed(seed)
            last_nll = []
            for fit in range(fits):
                rows = th.randint(len(observations), (batch_size,), generator=generator)
                terms = idm.fit(observations[rows], actions[rows], next_observations[rows])
                if fit >= fits - 100:
                    last_nll.append(terms.nll)
            with th.no_grad():
                labels = th.tanh(idm.distribution(expert_observations, expert_next_observations)[0])
        name = f"refit {json.dumps(config, sort_keys=True)} ({fits} fits, replay NLL {th.stack(last_nll).mean().item():.2f})"
        errors[name] = label_error(labels.numpy(), recorded)
    return errors


def format_label_quality(errors: dict[str, LabelError]) -> str:
    """A markdown table: one row per label source, MSE and correlation per action dimension and their means."""
    n_dims = len(next(iter(errors.values())).mse)
    header = "| labels | mean MSE | " + " | ".join(f"MSE a{i} | corr a{i}" for i in range(n_dims)) + " |"
    lines = [header, "|" + "---|" * (2 + 2 * n_dims)]
    for name, error in errors.items():
        # a constant labeller (zero) has no correlation: "-"
        correlations = [f"{c:.2f}" if np.isfinite(c) else "-" for c in error.correlation]
        cells = " | ".join(f"{m:.3f} | {c}" for m, c in zip(error.mse, correlations))
        lines.append(f"| {name} | {error.mse.mean():.3f} | {cells} |")
    return "\n".join(lines)
