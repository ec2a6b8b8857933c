"""Training statistics accumulated on the device and read once per log dump (no per-step host sync)."""

from __future__ import annotations

import torch as th
from stable_baselines3.common.logger import Logger


class TrainStats:
    """Running sums of detached 0-dim tensors, turned into means (one host transfer) when flushed.

    ``add`` keeps a plain mean over the calls; ``add_ratio`` keeps sum(numerator) / sum(denominator), for means
    over a subset of rows whose size varies per batch (e.g. Q on absorbing rows); a ratio whose denominator
    stayed zero is not recorded, so no NaN reaches the logs.
    """

    def __init__(self) -> None:
        self._sums: dict[str, th.Tensor] = {}
        self._counts: dict[str, int] = {}
        self._ratios: dict[str, tuple[th.Tensor, th.Tensor]] = {}

    def add(self, name: str, value: th.Tensor) -> None:
        value = value.detach()
        self._sums[name] = self._sums[name] + value if name in self._sums else value
        self._counts[name] = self._counts.get(name, 0) + 1

    def add_ratio(self, name: str, numerator: th.Tensor, denominator: th.Tensor) -> None:
        numerator, denominator = numerator.detach(), denominator.detach()
        if name in self._ratios:
            old_num, old_den = self._ratios[name]
            numerator, denominator = old_num + numerator, old_den + denominator
        self._ratios[name] = (numerator, denominator)

    def __len__(self) -> int:
        return len(self._sums) + len(self._ratios)

    def flush(self, logger: Logger) -> dict[str, float]:
        """Record every mean into ``logger``, reset, and return what was recorded."""
        if not len(self):
            return {}
        names = list(self._sums) + list(self._ratios)
        values = [self._sums[n] / self._counts[n] for n in self._sums]
        values += [num for num, _ in self._ratios.values()] + [den for _, den in self._ratios.values()]
        host = th.stack([v.float().reshape(()) for v in values]).cpu().tolist()  # the one device-to-host transfer
        n_plain, n_ratio = len(self._sums), len(self._ratios)
        means = dict(zip(names[:n_plain], host[:n_plain]))
        for i, name in enumerate(names[n_plain:]):
            numerator, denominator = host[n_plain + i], host[n_plain + n_ratio + i]
            if denominator > 0:
                means[name] = numerator / denominator
        for name, value in means.items():
            logger.record(name, value)
        self._sums, self._counts, self._ratios = {}, {}, {}
        return means
