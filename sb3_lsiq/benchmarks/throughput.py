"""Training throughput: environment steps per second with one gradient step per environment step, one torch thread,
for LSIQ, IQ-Learn and SB3's SAC (batch 256 and 512) side by side in one process, and the hardware floor.

The floor: the update's matrix products (recorded with their shapes by the profiler) are replayed alone and timed,
which is the time one update needs at this machine's GEMM rate for exactly those shapes; the FLOPs come from
``torch.utils.flop_counter.FlopCounterMode``. Everything else in the measured time is overhead (element-wise
kernels, the optimiser, Python, the environment).

``torch.compile`` is measured too (the issue asks for it where it wins on CPU): the same LSIQ update with the
critic, target critic and actor networks compiled by inductor, timed against the eager update in the same process.
The package does not compile by default because on this machine it does not win (BENCHMARKS.md).
"""

from __future__ import annotations

import datetime
import json
import statistics
import time
from collections import Counter
from pathlib import Path
from typing import Any

import torch as th
from stable_baselines3 import SAC
from stable_baselines3.common.base_class import BaseAlgorithm
from torch.profiler import ProfilerActivity, profile
from torch.utils.flop_counter import FlopCounterMode

from sb3_lsiq import LSIQ, IQLearn
from sb3_lsiq.benchmarks.export import machine_description
from sb3_lsiq.benchmarks.throughput_tables import markdown_table, with_history
from sb3_lsiq.data import packaged_dataset_path

LEARNING_STARTS = 1_000
GEMM_OPS = ("aten::mm", "aten::addmm")


def configurations(env_id: str) -> dict[str, tuple[type[BaseAlgorithm], dict[str, Any]]]:
    """name -> (class, kwargs). 256x256 networks everywhere; LSIQ and IQ-Learn see 256 policy + 256 expert rows."""
    demos = {"demonstrations": packaged_dataset_path(env_id), "n_demo_episodes": 5}
    return {
        "LSIQ (batch 256 + 256 expert)": (LSIQ, {**demos, "batch_size": 256}),
        "IQ-Learn (batch 256 + 256 expert)": (IQLearn, {**demos, "batch_size": 256}),
        "SAC batch 256": (SAC, {"batch_size": 256}),
        "SAC batch 512": (SAC, {"batch_size": 512}),
    }


def make_model(algo: type[BaseAlgorithm], kwargs: dict[str, Any], env_id: str, seed: int) -> BaseAlgorithm:
    """The model with its replay buffer filled past ``learning_starts`` (so the timed part trains every step)."""
    model = algo("MlpPolicy", env_id, seed=seed, learning_starts=LEARNING_STARTS, **kwargs)  # type: ignore[call-arg]
    model.learn(LEARNING_STARTS + 1)
    return model


def env_steps_per_second(model: BaseAlgorithm, steps: int) -> float:
    start = time.perf_counter()
    model.learn(steps, reset_num_timesteps=False)
    return steps / (time.perf_counter() - start)


def update_milliseconds(model: Any, updates: int = 100) -> float:
    """The mean time of one gradient step alone (no environment)."""
    model.train(gradient_steps=5, batch_size=model.batch_size)  # warm-up
    start = time.perf_counter()
    model.train(gradient_steps=updates, batch_size=model.batch_size)
    return (time.perf_counter() - start) / updates * 1e3


def compile_networks(model: Any, mode: str | None = None) -> None:
    """Replaces the critics' and the actor's MLPs by their ``torch.compile`` versions (a throwaway model: the
    compiled modules rename the state dict's keys). Shapes are static, one graph per batch shape."""
    for critic in (model.critic, model.critic_target):
        for index, q_network in enumerate(critic.q_networks):
            critic.q_networks[index] = th.compile(q_network, mode=mode, dynamic=False)
    model.actor.latent_pi = th.compile(model.actor.latent_pi, mode=mode, dynamic=False)


def compiled_update_comparison(
    algo: type[BaseAlgorithm], kwargs: dict[str, Any], env_id: str, rounds: int = 3
) -> dict[str, Any]:
    """Eager vs ``torch.compile`` update time (ms, median of ``rounds`` interleaved timings) and the compile time (s)."""
    eager, compiled = make_model(algo, kwargs, env_id, seed=0), make_model(algo, kwargs, env_id, seed=0)
    compile_networks(compiled)
    start = time.perf_counter()
    compiled.train(gradient_steps=3, batch_size=compiled.batch_size)  # type: ignore[attr-defined]  # compiles here
    compile_seconds = time.perf_counter() - start
    eager_ms, compiled_ms = [], []
    for _ in range(rounds):
        eager_ms.append(update_milliseconds(eager))
        compiled_ms.append(update_milliseconds(compiled))
    return {
        "eager_update_ms": statistics.median(eager_ms),
        "compiled_update_ms": statistics.median(compiled_ms),
        "compile_seconds": compile_seconds,
    }


def update_flops(model: Any) -> int:
    with FlopCounterMode(display=False) as counter:
        model.train(gradient_steps=1, batch_size=model.batch_size)
    return int(counter.get_total_flops())


def recorded_gemms(model: Any) -> Counter:
    """(op, input shapes) -> calls, for the matrix products of one update."""
    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        model.train(gradient_steps=1, batch_size=model.batch_size)
    gemms: Counter = Counter()
    for event in prof.events():
        if event.name in GEMM_OPS:
            gemms[(event.name, tuple(tuple(shape) for shape in event.input_shapes if shape))] += 1
    return gemms


def gemm_floor_milliseconds(gemms: Counter, repeats: int = 50) -> tuple[float, float]:
    """(time of the update's matrix products replayed alone in ms, their GFLOP)."""
    total_seconds, total_flops = 0.0, 0.0
    for (name, shapes), calls in gemms.items():
        if name == "aten::addmm":
            bias_shape, (m, k), (_, n) = shapes[0], shapes[1], shapes[2]
            bias, a, b = th.randn(bias_shape), th.randn(m, k), th.randn(k, n)

            def product(bias: th.Tensor = bias, a: th.Tensor = a, b: th.Tensor = b) -> th.Tensor:
                return th.addmm(bias, a, b)

        else:
            (m, k), (_, n) = shapes[0], shapes[1]
            a, b = th.randn(m, k), th.randn(k, n)

            def product(bias: None = None, a: th.Tensor = a, b: th.Tensor = b) -> th.Tensor:  # type: ignore[misc]
                return a @ b

        for _ in range(5):
            product()
        start = time.perf_counter()
        for _ in range(repeats):
            product()
        total_seconds += (time.perf_counter() - start) / repeats * calls
        total_flops += 2.0 * m * k * n * calls
    return total_seconds * 1e3, total_flops / 1e9


def profile_summary(model: Any, updates: int = 50, rows: int = 8) -> list[dict[str, Any]]:
    """The ops that take the most time in ``updates`` gradient steps: name, share of the time, ms per update."""
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        model.train(gradient_steps=updates, batch_size=model.batch_size)
    averages = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
    total = sum(e.self_cpu_time_total for e in averages)
    return [
        {"op": e.key, "share": e.self_cpu_time_total / total, "ms_per_update": e.self_cpu_time_total / 1e3 / updates}
        for e in averages[:rows]
    ]


def measure(env_id: str = "Hopper-v5", steps: int = 2_000, repeats: int = 5) -> dict[str, Any]:
    th.set_num_threads(1)
    configs = configurations(env_id)
    rates: dict[str, list[float]] = {name: [] for name in configs}
    for repeat in range(repeats):  # interleaved, so a slow phase of the machine hits every configuration alike
        for name, (algo, kwargs) in configs.items():
            rates[name].append(env_steps_per_second(make_model(algo, kwargs, env_id, seed=repeat), steps))
            print(f"repeat {repeat + 1}/{repeats} {name:36s} {rates[name][-1]:6.1f} env-steps/s", flush=True)
    results: dict[str, Any] = {"env_id": env_id, "steps": steps, "repeats": repeats, "configs": {}}
    for name, (algo, kwargs) in configs.items():
        model = make_model(algo, kwargs, env_id, seed=0)
        floor_ms, gemm_gflop = gemm_floor_milliseconds(recorded_gemms(model))
        results["configs"][name] = {
            "env_steps_per_second": statistics.median(rates[name]),
            "runs": rates[name],
            "update_ms": update_milliseconds(model),
            "gflop_per_update": update_flops(model) / 1e9,
            "gemm_gflop_per_update": gemm_gflop,
            "gemm_floor_ms": floor_ms,
        }
    lsiq_name = next(iter(configs))
    results["profile"] = profile_summary(make_model(*configs[lsiq_name], env_id, seed=0))
    results["compile"] = compiled_update_comparison(*configs[lsiq_name], env_id)
    results["machine"] = machine_description()
    results["date"] = datetime.date.today().isoformat()
    return results


def main(env_id: str = "Hopper-v5", steps: int = 2_000, repeats: int = 5, output: Path | None = None) -> None:
    results = measure(env_id, steps, repeats)
    print(markdown_table(results))
    compiled = results["compile"]
    print(
        f"\nLSIQ update, eager {compiled['eager_update_ms']:.2f} ms, torch.compile {compiled['compiled_update_ms']:.2f} ms "
        f"(compiling took {compiled['compile_seconds']:.0f} s)"
    )
    print("\nLSIQ update profile (self time):")
    for row in results["profile"]:
        print(f"  {row['op']:45s} {100 * row['share']:5.1f}%  {row['ms_per_update']:.3f} ms/update")
    if output is not None:
        previous = json.loads(output.read_text()) if output.exists() else None
        if previous is not None and previous.get("env_id") != results["env_id"]:
            print(f"{output} held measurements of {previous.get('env_id')}: they are replaced, not merged", flush=True)
        results = with_history(results, previous)
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(results, indent=1))
        print(f"wrote {output} (measurement {len(results['history'])} of this env)")
