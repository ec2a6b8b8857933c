"""Expert observations that are a subset, or another layout, of the agent's: an explicit mapping between the two.

Motion-capture and LocoMuJoCo datasets often record fewer quantities than the simulated agent observes (no
goal, no contact forces), or the same ones in another order. :class:`ObservationMap` says, for every expert
observation column, which agent observation entry it is. The algorithms then

- lift every expert observation into the agent's layout (:meth:`ObservationMap.lift`), so the expert buffer,
  VecNormalize and the actor see agent-shaped rows; the agent entries the expert never observed get ``fill``;
- give the critic (and its target, the entropy critic and the inverse dynamics model) only the shared entries
  (:class:`ObservationSubsetExtractor`). Why: the critic is the reward. If it saw the filled entries it could
  tell expert rows from policy rows by the fill value alone, and the recovered reward would reward "looking
  like a filled-in row" instead of the expert's behaviour.

The actor still acts on full agent observations; on expert states (V(s_E) and the bootstrap target) it sees the
lifted rows, whose unobserved entries are ``fill``: choose a fill the agent also visits (e.g. the entries'
typical value) so those actions stay sensible.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor

from sb3_lsiq.common.demonstrations import Demonstrations


@dataclass(frozen=True)
class ObservationMap:
    """Where each expert observation column sits in the agent's (flat) observation.

    :param agent_indices: for expert column j, the agent observation index it holds; distinct indices in
        ``[0, agent_dim)``, shape (expert_dim,). A permutation of ``range(agent_dim)`` is a pure re-layout.
        ``None`` drops the column: the expert observed something the agent does not (e.g. contact forces the
        agent's environment leaves out); the drop is explicit, so nothing is discarded by accident.
    :param agent_dim: size of the agent's flat observation
    :param fill: value of the agent entries the expert does not observe: a scalar, or one value per agent entry
        (shape (agent_dim,), only the unobserved entries are read)
    """

    agent_indices: Sequence[int | None]
    agent_dim: int
    fill: float | Sequence[float] = 0.0
    _indices: np.ndarray = field(init=False, repr=False, compare=False)
    _kept: np.ndarray = field(init=False, repr=False, compare=False)
    _fill: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        kept = np.asarray([index is not None for index in self.agent_indices], dtype=bool)  # (expert_dim,)
        indices = np.asarray([index for index in self.agent_indices if index is not None])
        if indices.ndim != 1 or len(indices) == 0 or not np.issubdtype(indices.dtype, np.integer):
            raise ValueError(
                "ObservationMap.agent_indices must be a list of integers (None for a dropped expert column) with at "
                f"least one integer, got {self.agent_indices!r}."
            )
        if self.agent_dim < 1:
            raise ValueError(f"ObservationMap.agent_dim must be >= 1, got {self.agent_dim}.")
        out_of_range = indices[(indices < 0) | (indices >= self.agent_dim)]
        if len(out_of_range):
            raise ValueError(
                f"ObservationMap.agent_indices {out_of_range.tolist()} are outside [0, {self.agent_dim}) "
                f"(agent_dim={self.agent_dim})."
            )
        if len(np.unique(indices)) != len(indices):
            raise ValueError("ObservationMap.agent_indices has repeated entries: each agent entry holds one expert column.")
        fill = np.asarray(self.fill, dtype=np.float32)
        if fill.ndim == 0:
            fill = np.full(self.agent_dim, float(fill), dtype=np.float32)
        elif fill.shape != (self.agent_dim,):
            raise ValueError(f"ObservationMap.fill must be a scalar or have shape ({self.agent_dim},), got {fill.shape}.")
        object.__setattr__(self, "_indices", indices.astype(np.int64))  # agent index of each kept column
        object.__setattr__(self, "_kept", kept)
        object.__setattr__(self, "_fill", fill)

    @classmethod
    def from_names(
        cls,
        expert_names: Sequence[str],
        agent_names: Sequence[str],
        fill: float | Sequence[float] = 0.0,
        drop: Sequence[str] = (),
    ) -> ObservationMap:
        """The map between two named layouts (e.g. LocoMuJoCo's observation keys); every expert name must exist in
        the agent's, except the ones listed in ``drop`` (expert columns the agent does not observe)."""
        position = {name: i for i, name in enumerate(agent_names)}
        if len(position) != len(agent_names):
            raise ValueError("agent_names has repeated names.")
        dropped = set(drop)
        missing = [name for name in expert_names if name not in position and name not in dropped]
        if missing:
            raise ValueError(
                f"Expert observation names {missing} are not in the agent's observation names; list them in drop=[...] "
                "to leave those expert columns out."
            )
        return cls([None if name in dropped else position[name] for name in expert_names], len(agent_names), fill)

    @property
    def expert_dim(self) -> int:
        """Columns of an expert observation, dropped ones included."""
        return len(self._kept)

    @property
    def shared_indices(self) -> list[int]:
        """Agent indices the critic sees, in the expert's column order (the critic's input layout)."""
        return self._indices.tolist()

    @property
    def column_indices(self) -> list[int | None]:
        """``agent_indices`` as plain Python values (JSON-serialisable, whatever integer type was passed): the agent
        index of each expert column, None where the column is dropped."""
        return [None if index is None else int(index) for index in self.agent_indices]

    @property
    def is_relayout(self) -> bool:
        """True when the expert observes every agent entry (nothing is filled; dropped columns aside, a permutation)."""
        return len(self._indices) == self.agent_dim

    def lift(self, expert_observations: np.ndarray) -> np.ndarray:
        """Expert rows in the agent's layout, shape (N, expert_dim) -> (N, agent_dim), float32."""
        expert_observations = np.asarray(expert_observations, dtype=np.float32)
        rows = expert_observations.reshape(len(expert_observations), -1)  # (N, expert_dim) for any stored obs shape
        if rows.shape[1] != self.expert_dim:
            raise ValueError(
                f"Demonstration observations have {rows.shape[1]} entries but expert_observation_map maps "
                f"{self.expert_dim}: the map's agent_indices must list one agent index per expert observation entry."
            )
        lifted = np.broadcast_to(self._fill, (len(rows), self.agent_dim)).copy()  # (N, agent_dim)
        lifted[:, self._indices] = rows[:, self._kept]  # (N, kept columns) into their agent entries
        return lifted

    def lift_demonstrations(self, demonstrations: Demonstrations) -> Demonstrations:
        """The same transitions with s and s' lifted into the agent's layout (actions and flags unchanged)."""
        return replace(
            demonstrations,
            observations=self.lift(demonstrations.observations),
            next_observations=self.lift(demonstrations.next_observations),
            metadata={
                **demonstrations.metadata,
                "observation_map": {"agent_indices": self.column_indices, "agent_dim": self.agent_dim},
            },
        )

    def check_agent_space(self, observation_space: spaces.Space) -> None:
        """The agent's observation space must be a flat Box of ``agent_dim`` entries."""
        if not isinstance(observation_space, spaces.Box) or len(observation_space.shape) != 1:
            raise ValueError(
                f"expert_observation_map needs a flat Box observation space, got {observation_space}; "
                "flatten the observations (e.g. gymnasium.wrappers.FlattenObservation) first."
            )
        if observation_space.shape[0] != self.agent_dim:
            raise ValueError(
                f"expert_observation_map has agent_dim={self.agent_dim} but the env's observations have "
                f"{observation_space.shape[0]} entries."
            )


MAP_FIELDS = ("agent_indices", "agent_dim", "fill")
NAMED_MAP_FIELDS = ("expert_names", "agent_names", "fill", "drop")


def as_observation_map(value: ObservationMap | Mapping[str, Any] | None) -> ObservationMap | None:
    """An :class:`ObservationMap` from itself or from its fields as a mapping, the form a YAML hyperparameter file can
    hold (rl-zoo3 passes mappings to the constructor as they are)::

        expert_observation_map: {agent_indices: [0, 1, 2, null], agent_dim: 5, fill: 0.0}  # null: a dropped column
        expert_observation_map: {expert_names: [x, y, force], agent_names: [x, y, goal], drop: [force]}
    """
    if value is None or isinstance(value, ObservationMap):
        return value
    if not isinstance(value, Mapping):
        raise ValueError(
            f"expert_observation_map must be an sb3_lsiq.ObservationMap or a mapping of its fields, got "
            f"{type(value).__name__}; build one with ObservationMap(agent_indices, agent_dim, fill), "
            "ObservationMap.from_names(...), or pass {agent_indices: [...], agent_dim: N}."
        )
    named = "expert_names" in value or "agent_names" in value
    fields = NAMED_MAP_FIELDS if named else MAP_FIELDS
    required = fields[:2]
    unknown = sorted(set(value) - set(fields))
    missing = [key for key in required if key not in value]
    if unknown or missing:
        raise ValueError(
            f"expert_observation_map {dict(value)!r}: "
            + (f"unknown keys {unknown}; " if unknown else "")
            + (f"missing keys {missing}; " if missing else "")
            + f"give {', '.join(required)} (and optionally {', '.join(fields[2:])})"
            + ("" if named else ", or expert_names and agent_names to map by name")
            + "."
        )
    fill = value.get("fill", 0.0)
    if named:
        return ObservationMap.from_names(
            list(value["expert_names"]), list(value["agent_names"]), fill, list(value.get("drop", []))
        )
    return ObservationMap(list(value["agent_indices"]), int(value["agent_dim"]), fill)


class ObservationSubsetExtractor(BaseFeaturesExtractor):
    """Features = the given entries of the flat observation, in the given order (the critic's shared view).

    :param observation_space: the agent's (flat Box) observation space
    :param indices: agent observation indices to keep, shape (k,)
    """

    def __init__(self, observation_space: spaces.Space, indices: Sequence[int]) -> None:
        super().__init__(observation_space, features_dim=len(indices))
        # Not persistent: the indices come from the policy's constructor arguments, so state dicts stay as SAC's
        self.register_buffer("indices", th.as_tensor(list(indices), dtype=th.long), persistent=False)
        self.indices: th.Tensor

    def forward(self, observations: th.Tensor) -> th.Tensor:
        return observations.flatten(1).index_select(1, self.indices)  # (B, obs_dim) -> (B, k)
