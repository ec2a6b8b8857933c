"""Scores of imitation quality."""

from __future__ import annotations


def expert_normalized_score(mean_return: float, expert_return: float, random_return: float) -> float:
    """(R - R_random) / (R_expert - R_random): 0 for a random policy, 1 for the expert."""
    if expert_return == random_return:
        raise ValueError("expert_return equals random_return: the normalised score is undefined")
    return (mean_return - random_return) / (expert_return - random_return)
