"""GoalReach: a point in the plane moves to a goal disc, and the episode terminates there.

Why it exists: it isolates the survival bias of implicit-reward imitation. The expert ends every episode early, by
termination, and the true reward (-1 per step) makes ending early the best thing to do. An imitator whose implicit
reward is positive on expert-like states, and which values a terminal state at 0 (IQ-Learn, or LSIQ without the
absorbing-state treatment), prefers to stay near the goal without entering it: its episodes run to the time limit.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

GOAL_RADIUS = 0.1
START_RADIUS = 0.8
STEP_SIZE = 0.05


class GoalReachEnv(gym.Env):
    """Observation: the position (x, y) in [-1, 1]^2; action: a velocity in [-1, 1]^2 (position += 0.05 * action,
    clipped to the box). Starts on the circle of radius 0.8 around the goal at the origin; terminates inside the
    goal disc (radius 0.1); reward -1 per step. With the time limit of the registered id (200 steps) a policy that
    never reaches the goal scores -200, the straight-line expert about -15."""

    metadata: dict[str, Any] = {"render_modes": []}

    def __init__(self) -> None:
        self.observation_space = spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)
        self.action_space = spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)
        self.position = np.zeros(2, dtype=np.float32)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        angle = self.np_random.uniform(0.0, 2.0 * np.pi)
        self.position = (START_RADIUS * np.array([np.cos(angle), np.sin(angle)])).astype(np.float32)
        return self.position.copy(), {}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict]:
        velocity = np.clip(np.asarray(action, dtype=np.float32), -1.0, 1.0)
        self.position = np.clip(self.position + STEP_SIZE * velocity, -1.0, 1.0).astype(np.float32)
        reached = bool(np.linalg.norm(self.position) < GOAL_RADIUS)
        return self.position.copy(), -1.0, reached, False, {"is_success": reached}


class ScriptedGoalReacher:
    """The expert: full speed straight at the goal (SB3's ``predict`` signature, so the recording tools take it)."""

    num_timesteps = 0

    def predict(self, observation: np.ndarray, deterministic: bool = True, **_: Any) -> tuple[np.ndarray, None]:
        position = np.asarray(observation, dtype=np.float32)
        norm = float(np.linalg.norm(position))
        direction = -position / norm if norm > 0 else np.zeros_like(position)
        # the largest velocity along the direction that stays inside [-1, 1]^2
        return (direction / max(np.abs(direction).max(), 1e-8)).astype(np.float32), None
