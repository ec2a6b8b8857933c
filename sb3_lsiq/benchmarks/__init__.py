"""Benchmarks driven by rl-zoo3: resumable runs, the report (BENCHMARKS.md and plots) and the throughput benchmark.

python -m sb3_lsiq.benchmarks run --algo lsiq --env Hopper-v5 --demos 5 --seed 0 --steps 300000
python -m sb3_lsiq.benchmarks suite quality
python -m sb3_lsiq.benchmarks report
python -m sb3_lsiq.benchmarks throughput
"""

from sb3_lsiq.benchmarks.runner import run
from sb3_lsiq.benchmarks.spec import RunSpec

__all__ = ["RunSpec", "run"]
