"""The expert buffer: demonstrations as tensors on the algorithm's device, sampled without host round trips."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.running_mean_std import RunningMeanStd
from stable_baselines3.common.vec_env import VecNormalize

from sb3_lsiq.common.demonstrations import Demonstrations, load_demonstrations

if TYPE_CHECKING:
    from stable_baselines3.common.base_class import BaseAlgorithm

    from sb3_lsiq.common.observation_map import ObservationMap


LEARN_FROM_OBSERVATIONS_HINT = (
    "Learn from observations with expert_actions='idm' (an inverse dynamics model labels them) or "
    "expert_actions='policy' (the current policy labels expert states)"
)


class ExpertSamples(NamedTuple):
    """One expert batch; observations are normalised like the agent's, actions scaled to [-1, 1].

    :param observations: shape (B, obs_dim)
    :param actions: shape (B, action_dim), or None for state-only demonstrations
    :param next_observations: shape (B, obs_dim)
    :param dones: absorbing flag as float, shape (B, 1)
    """

    observations: th.Tensor
    actions: th.Tensor | None
    next_observations: th.Tensor
    dones: th.Tensor


class ExpertBuffer:
    """Holds validated expert transitions on ``device`` and serves batches of distinct transitions.

    Batches are drawn from a random permutation that is consumed ``batch_size`` rows at a time and redrawn
    when exhausted (an epoch over the demonstrations), so a batch never repeats a transition and every
    transition is seen once per pass. The permutation lives on the device; only a Python integer cursor
    moves per batch, so sampling never synchronises with the host.

    :param demonstrations: validated demonstrations (see :func:`validate_against_spaces`)
    :param observation_space: the agent's observation space
    :param action_space: the agent's (Box) action space; expert actions are rescaled from it to [-1, 1]
        exactly as SB3's ``policy.scale_action`` does for the replay buffer
    :param device: where the tensors live
    """

    def __init__(
        self,
        demonstrations: Demonstrations,
        observation_space: spaces.Space,
        action_space: spaces.Box,
        device: th.device | str = "cpu",
    ) -> None:
        self.device = th.device(device)
        self.n_transitions = demonstrations.n_transitions
        self.observations = th.as_tensor(demonstrations.observations, device=self.device)
        self.next_observations = th.as_tensor(demonstrations.next_observations, device=self.device)
        self.dones = th.as_tensor(demonstrations.terminated, dtype=th.float32, device=self.device).reshape(-1, 1)
        self.actions: th.Tensor | None = None
        if demonstrations.actions is not None:
            low, high = action_space.low.astype(np.float32), action_space.high.astype(np.float32)
            scaled = 2.0 * (demonstrations.actions - low) / (high - low) - 1.0  # same map as policy.scale_action
            self.actions = th.as_tensor(np.clip(scaled, -1.0, 1.0), device=self.device)
        self._permutation = th.randperm(self.n_transitions, device=self.device)
        self._cursor = 0

    def sample(self, batch_size: int, vec_normalize: VecNormalize | None = None) -> ExpertSamples:
        """A batch of ``batch_size`` distinct transitions (``batch_size <= n_transitions``)."""
        if self._cursor + batch_size > self.n_transitions:
            self._permutation = th.randperm(self.n_transitions, device=self.device)
            self._cursor = 0
        indices = self._permutation[self._cursor : self._cursor + batch_size]
        self._cursor += batch_size
        obs = self.observations[indices]  # (B, obs_dim)
        next_obs = self.next_observations[indices]  # (B, obs_dim)
        if vec_normalize is not None and vec_normalize.norm_obs:
            obs, next_obs = normalize_observations(obs, vec_normalize), normalize_observations(next_obs, vec_normalize)
        actions = self.actions[indices] if self.actions is not None else None
        return ExpertSamples(obs, actions, next_obs, self.dones[indices])


def normalize_observations(obs: th.Tensor, vec_normalize: VecNormalize) -> th.Tensor:
    """VecNormalize's observation normalisation on a tensor: clip((obs - mean) / sqrt(var + eps), +-clip_obs).

    The running statistics are read at every call, so expert rows follow the agent's current normalisation,
    exactly as the replay buffer's ``_normalize_obs`` does for the policy rows.
    """
    obs_rms = vec_normalize.obs_rms
    assert isinstance(obs_rms, RunningMeanStd), "dict observations are not supported"
    mean = th.as_tensor(obs_rms.mean, dtype=obs.dtype, device=obs.device)
    var = th.as_tensor(obs_rms.var, dtype=obs.dtype, device=obs.device)
    return ((obs - mean) / th.sqrt(var + vec_normalize.epsilon)).clamp(-vec_normalize.clip_obs, vec_normalize.clip_obs)


def validate_against_spaces(
    demonstrations: Demonstrations,
    observation_space: spaces.Space,
    action_space: spaces.Space,
    expert_batch_size: int,
    needs_actions: bool = True,
    action_tolerance: float = 1e-5,
    missing_actions_hint: str = LEARN_FROM_OBSERVATIONS_HINT,
) -> None:
    """Raise a ValueError naming the field and the fix when the demonstrations do not fit the env.

    Checks observation and action shapes, expert actions inside the action bounds (a tolerance of
    ``action_tolerance`` times the range absorbs float32 rounding), missing actions and the expert batch size.
    """
    if not isinstance(observation_space, spaces.Box):
        raise ValueError(f"Only Box observation spaces are supported, got {observation_space}; flatten dict observations.")
    obs_shape = demonstrations.observations.shape[1:]
    if obs_shape != observation_space.shape:
        raise ValueError(
            f"Demonstration observations have shape {obs_shape} but the env's observation space has shape "
            f"{observation_space.shape}: record the demonstrations on the same env (and version) as training, or, when "
            "they observe a subset or another layout of the agent's observations, pass expert_observation_map."
        )
    if demonstrations.next_observations.shape[1:] != observation_space.shape:
        raise ValueError(
            f"Demonstration next_observations have shape {demonstrations.next_observations.shape[1:]}, expected "
            f"{observation_space.shape}."
        )
    if needs_actions and demonstrations.actions is None:
        raise ValueError(
            f"The demonstrations have no actions (state-only: s, s', done). {missing_actions_hint}, or give "
            "demonstrations with actions."
        )
    if demonstrations.actions is not None:
        assert isinstance(action_space, spaces.Box)
        act_shape = demonstrations.actions.shape[1:]
        if act_shape != action_space.shape:
            raise ValueError(
                f"Demonstration actions have shape {act_shape} but the env's action space has shape {action_space.shape}."
            )
        slack = action_tolerance * (action_space.high - action_space.low)
        outside = (demonstrations.actions < action_space.low - slack) | (demonstrations.actions > action_space.high + slack)
        if np.any(outside):
            rows = np.flatnonzero(outside.reshape(len(outside), -1).any(axis=1))
            raise ValueError(
                f"Demonstration actions lie outside the action bounds [{action_space.low}, {action_space.high}] in "
                f"{len(rows)} row(s) (first: row {rows[0]}, action {demonstrations.actions[rows[0]]}). Expert actions "
                "must be in the env's scale: clip them to the bounds (as the env does) before passing them."
            )
    if demonstrations.n_transitions < expert_batch_size:
        raise ValueError(
            f"The demonstrations hold {demonstrations.n_transitions} transitions, fewer than expert_batch_size="
            f"{expert_batch_size}: lower expert_batch_size or give more expert episodes."
        )


def env_time_limit(model: BaseAlgorithm) -> int | None:
    """The training env's ``max_episode_steps`` (tells truncations from terminations in unlabelled demos)."""
    if model.env is None:
        return None
    try:
        spec = model.env.get_attr("spec", indices=[0])[0]
    except (AttributeError, IndexError):
        return None
    return getattr(spec, "max_episode_steps", None)


def build_expert_buffer(
    model: BaseAlgorithm,
    demonstrations: Any,
    batch_size: int,
    episode_end: str = "auto",
    n_episodes: int | None = None,
    needs_actions: bool = True,
    observation_map: ObservationMap | None = None,
    missing_actions_hint: str = LEARN_FROM_OBSERVATIONS_HINT,
) -> ExpertBuffer:
    """Load, convert, validate and place an algorithm's demonstrations on its device (at the start of learn()).

    :param model: the algorithm (its env, spaces, device and verbosity are read)
    :param demonstrations: any source :func:`~sb3_lsiq.load_demonstrations` accepts
    :param batch_size: expert rows per batch (the demonstrations must hold at least as many transitions)
    :param episode_end: how unlabelled episode ends are read (``demo_episode_end``)
    :param n_episodes: keep only the first ``n_episodes`` episodes (None: all)
    :param needs_actions: whether the algorithm reads the recorded actions
    :param observation_map: lifts expert observations into the agent's layout (None: same layout)
    :param missing_actions_hint: what the error for demonstrations without actions suggests
    """
    if demonstrations is None:
        raise ValueError(
            f"{type(model).__name__} has no demonstrations: pass demonstrations=... to the constructor or to load(), "
            "or call set_demonstrations(...) before learn()."
        )
    demos = load_demonstrations(
        demonstrations, episode_end=episode_end, max_episode_steps=env_time_limit(model), n_episodes=n_episodes
    )
    if observation_map is not None:
        demos = observation_map.lift_demonstrations(demos)
    validate_against_spaces(
        demos,
        model.observation_space,
        model.action_space,
        batch_size,
        needs_actions,
        missing_actions_hint=missing_actions_hint,
    )
    buffer = ExpertBuffer(demos, model.observation_space, model.action_space, model.device)  # type: ignore[arg-type]
    if model.verbose >= 1:
        print(f"Expert buffer: {demos.n_transitions} transitions from {demos.n_episodes} episode(s)")
    return buffer
