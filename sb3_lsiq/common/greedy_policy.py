"""Q's greedy policy behind SB3's ``predict``, so ``evaluate_policy`` and the rollout helpers can run it."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from sb3_lsiq.common.iq_algorithm import ImplicitQAlgorithm


class GreedyQPolicy:
    """argmax_a Q(s, a) of a trained model (its ``predict_greedy``) with the signature of SB3's ``predict``.

    Its true return is the ceiling of any agent trained on the model's recovered reward. Made by
    ``model.greedy_policy()``.

    :param model: a trained LSIQ, IQ-Learn or SQIL
    :param n_action_samples: uniform and actor-sampled candidate actions (each) of ``predict_greedy``
    :param seed: seed of ``predict_greedy``'s private generator
    """

    def __init__(self, model: ImplicitQAlgorithm, n_action_samples: int = 64, seed: int = 0) -> None:
        self.model = model
        self.n_action_samples = n_action_samples
        self.seed = seed

    def predict(
        self,
        observation: np.ndarray,
        state: tuple[np.ndarray, ...] | None = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = True,
    ) -> tuple[np.ndarray, tuple[np.ndarray, ...] | None]:
        """The greedy action(s) for one observation or a batch (as a VecEnv gives them); ``deterministic`` is
        accepted for SB3's signature: the greedy action is always deterministic."""
        obs_shape = self.model.observation_space.shape
        assert obs_shape is not None
        single = np.ndim(observation) == len(obs_shape)  # one unbatched observation, as a plain gymnasium env gives it
        batch = np.asarray(observation).reshape(-1, *obs_shape)  # (n, *obs_shape)
        actions = self.model.predict_greedy(batch, self.n_action_samples, self.seed)  # (n, *action_shape)
        return (actions[0] if single else actions), state
