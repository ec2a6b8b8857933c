"""Command line of the expert pipeline (see ``sb3_lsiq.experts``)."""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch as th

from sb3_lsiq.common.demonstrations import load_demonstrations
from sb3_lsiq.common.hf_format import save_imitation_format
from sb3_lsiq.experts.pipeline import (
    ExpertPolicy,
    evaluate_expert,
    latest_checkpoint,
    load_expert,
    record_dataset,
    train_command,
    trained_steps,
)


def scripted_expert(env_id: str) -> ExpertPolicy:
    """The scripted expert of one of the package's own envs (``sb3_lsiq.envs``)."""
    from sb3_lsiq.envs import SCRIPTED_EXPERTS

    if env_id not in SCRIPTED_EXPERTS:
        raise SystemExit(f"--model scripted: no scripted expert for {env_id!r} (scripted: {', '.join(SCRIPTED_EXPERTS)})")
    return ExpertPolicy(SCRIPTED_EXPERTS[env_id]())


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m sb3_lsiq.experts", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser("train", help="train an expert with rl-zoo3 (extra arguments go to rl_zoo3.train)")
    train.add_argument("--env", required=True, help="gymnasium env id, e.g. Hopper-v5")
    train.add_argument("--algo", default="sac", help="any rl-zoo3 algorithm (default: sac)")
    train.add_argument("-f", "--log-folder", default="logs/experts")
    train.add_argument("--seed", type=int, default=3)
    train.add_argument("--eval-freq", type=int, default=25_000)
    train.add_argument("--eval-episodes", type=int, default=5)
    train.add_argument("--save-freq", type=int, default=50_000)
    train.add_argument("--resume", action="store_true", help="continue from the newest checkpoint (pass -n: steps to add)")

    for name, help_text in (("evaluate", "deterministic return of a trained expert"), ("record", "record demonstrations")):
        command = commands.add_parser(name, help=help_text)
        command.add_argument("--env", required=True)
        command.add_argument(
            "--model", required=True,
            help="a .zip, an rl-zoo3 run folder (uses best_model.zip), or 'scripted' for an env with a scripted expert",
        )  # fmt: skip
        command.add_argument("--algo", default="sac")
        command.add_argument("--episodes", type=int, default=10 if name == "evaluate" else 25)
        command.add_argument("--seed", type=int, default=123 if name == "evaluate" else 1_000, help="seed of episode 0")
    record = commands.choices["record"]
    record.add_argument("-o", "--output-dir", type=Path, default=Path("datasets"))
    record.add_argument("--random-episodes", type=int, default=100, help="episodes of the random-policy baseline")
    record.add_argument("--min-return", type=float, default=None, help="fail if an episode returns less")
    record.add_argument("--no-imitation-format", action="store_true", help="write the native .npz only")
    export = commands.add_parser("export", help="write demonstrations (any readable source) in imitation's format")
    export.add_argument("source", help="a demonstration file or folder, or a packaged dataset such as sb3_lsiq:Hopper-v5")
    export.add_argument("-o", "--output", type=Path, required=True, help="the folder to write")
    return parser


def main(argv: list[str] | None = None) -> None:
    args, extra = _parser().parse_known_args(argv)
    if args.command != "train" and extra:
        raise SystemExit(f"unrecognised arguments: {' '.join(extra)}")
    th.set_num_threads(1)  # several times faster on small CPUs
    if args.command == "export":
        folder = save_imitation_format(load_demonstrations(args.source), args.output)
        print(f"wrote {folder} (imitation.data.serialize.load reads it)")
        return
    if args.command == "train":
        if args.resume:
            # rl-zoo3 continues a model with -i; no replay buffer is kept with the checkpoints, so it refills
            extra = ["-i", str(latest_checkpoint(args.log_folder, args.env, args.algo)), *extra]
        command = train_command(
            args.env, args.algo, args.log_folder, args.seed, args.eval_freq, args.eval_episodes, args.save_freq, extra
        )
        if "-i" in extra or "--trained-agent" in extra:
            flag = "-i" if "-i" in extra else "--trained-agent"
            start = Path(extra[extra.index(flag) + 1])
            if start.is_file():
                print(f"continuing {start}: {trained_steps(start)} steps so far; rl-zoo3 counts the new checkpoints from 0 "
                      "(evaluate and record add the earlier steps)", flush=True)  # fmt: skip
        print("running:", shlex.join(command), flush=True)
        raise SystemExit(subprocess.call(command))

    if args.model == "scripted":
        expert, model_file, steps = scripted_expert(args.env), Path("scripted"), 0
        args.algo = "scripted"
    else:
        expert, model_file = load_expert(args.model, args.env, args.algo)
        steps = trained_steps(model_file)  # counts the runs it was continued from (rl-zoo3 restarts the counter)
    if args.command == "evaluate":
        mean, std = evaluate_expert(expert, args.env, n_episodes=args.episodes, seed=args.seed)
        print(f"{args.env} {args.algo} {model_file} ({steps} steps): {mean:.1f} +- {std:.1f} "
              f"over {args.episodes} episodes (seed {args.seed})")  # fmt: skip
        return

    provenance = {
        "expert_algo": args.algo,
        "expert_model": model_file.name,
        "command": shlex.join(["python", "-m", "sb3_lsiq.experts", *(sys.argv[1:] if argv is None else argv)]),
    }
    demos = record_dataset(expert, args.env, args.episodes, args.seed, args.random_episodes, provenance, expert_steps=steps)
    returns = np.asarray(demos.metadata["episode_returns"])
    n_terminated = int(np.sum(demos.metadata["episode_terminated"]))
    print(f"{args.env}: {demos.n_episodes} episodes, return {returns.mean():.1f} +- {returns.std():.1f} "
          f"(min {returns.min():.1f}), lengths {int(np.min(demos.episode_lengths))}-{int(np.max(demos.episode_lengths))}, "
          f"{n_terminated} terminated / {demos.n_episodes - n_terminated} truncated; "
          f"random policy {demos.metadata['random_mean_return']:.1f}")  # fmt: skip
    if args.min_return is not None and returns.min() < args.min_return:
        low = np.round(returns[returns < args.min_return], 1).tolist()
        raise SystemExit(f"episode returns below --min-return {args.min_return}: {low}; nothing written")
    native = demos.save(args.output_dir / f"{args.env}.npz")
    print(f"wrote {native} ({native.stat().st_size / 1e6:.2f} MB)")
    if not args.no_imitation_format:
        folder = save_imitation_format(demos, args.output_dir / f"{args.env}-imitation")
        print(f"wrote {folder} (imitation.data.serialize.load reads it)")


if __name__ == "__main__":
    main()
