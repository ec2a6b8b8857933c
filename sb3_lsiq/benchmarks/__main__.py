"""``python -m sb3_lsiq.benchmarks run|suite|report|throughput``: see each command's ``--help``."""

from __future__ import annotations

import argparse
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml

from sb3_lsiq.benchmarks.export import export
from sb3_lsiq.benchmarks.runner import committed_finished, run
from sb3_lsiq.benchmarks.spec import DEFAULT_ROOT, RunSpec
from sb3_lsiq.benchmarks.stopping import stop_signal, stop_training_on_signals
from sb3_lsiq.benchmarks.suites import SUITES


def parse_overrides(pairs: list[str]) -> dict:
    """``["treat_absorbing=false", "reg_mult=1.0"]`` -> ``{"treat_absorbing": False, "reg_mult": 1.0}`` (YAML values)."""
    overrides = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise SystemExit(f"--set expects key=value, got {pair!r}")
        overrides[key] = yaml.safe_load(value)
    return overrides


def run_specs(specs: list[RunSpec], root: Path, jobs: int) -> None:
    """Run the specs, ``jobs`` side by side (each is one rl-zoo3 process with one torch thread); failures are
    reported at the end and do not stop the others."""
    failures, not_started = [], []

    def one(spec: RunSpec) -> None:
        if stop_signal() is not None:
            not_started.append(spec.name)
            return
        try:
            run(spec, root)
        except RuntimeError as error:
            failures.append(str(error))
            print(error, flush=True)

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        list(pool.map(one, specs))
    if not_started:
        print(f"Stopped: {len(not_started)} run(s) not started: {', '.join(not_started)}", flush=True)
    if failures:
        raise SystemExit(f"{len(failures)} run(s) failed:\n" + "\n".join(failures))


def labels_table(
    model_path: Path,
    algo: str,
    env_id: str | None,
    dataset: Path | None,
    n_demos: int,
    seed: int,
    refit_fits: int = 0,
    refit_idm: list[str] | None = None,
    replay_path: Path | None = None,
) -> str:
    """The ``labels`` command: load the model and the demonstrations, and format their label errors (and, with
    ``refit_fits``, those of fresh IDMs fitted on the run's replay buffer)."""
    import torch as th

    from sb3_lsiq import LSIQ, SQIL, IQLearn, load_demonstrations
    from sb3_lsiq.benchmarks.labels import format_label_quality, label_quality, refit_label_quality
    from sb3_lsiq.common.iq_algorithm import ImplicitQAlgorithm
    from sb3_lsiq.data import packaged_dataset_path

    if (env_id is None) == (dataset is None):
        raise SystemExit("labels: give exactly one of --env (the packaged dataset) and --dataset (a file).")
    path = dataset if dataset is not None else packaged_dataset_path(env_id)  # type: ignore[arg-type]
    demonstrations = load_demonstrations(path).select_episodes(n_demos)
    classes: dict[str, type[ImplicitQAlgorithm]] = {"lsiq": LSIQ, "iqlearn": IQLearn, "sqil": SQIL}
    model = classes[algo].load(model_path, device="cpu")
    errors = label_quality(model, demonstrations, seed=seed)
    header = f"{model_path} at {model.num_timesteps} steps: {demonstrations.n_transitions} expert transitions"
    header += f" ({n_demos} episodes)"
    if refit_fits > 0:
        configurations = []
        for text in refit_idm or ["{}"]:
            try:
                configurations.append(json.loads(text))
            except json.JSONDecodeError as error:
                example = '{"inputs": "delta"}'
                raise SystemExit(f"labels: --refit-idm {text!r} is not JSON ({error}); e.g. '{example}'.") from None
        replay_path = replay_path or model_path.parent / "replay_buffer.pkl"
        if not replay_path.exists():
            raise SystemExit(f"labels: --refit-fits needs the run's replay buffer; {replay_path} does not exist (--replay).")
        th.set_num_threads(1)  # the fits are training: one thread is faster on few cores, as for the runs
        model.load_replay_buffer(replay_path)
        assert model.replay_buffer is not None
        errors |= refit_label_quality(model, model.replay_buffer, demonstrations, configurations, refit_fits, seed=seed)
        header += f"; refit on {model.replay_buffer.size() * model.replay_buffer.n_envs} replay transitions"
    return header + "\n\n" + format_label_quality(errors)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sb3_lsiq.benchmarks", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    one = commands.add_parser("run", help="train (or resume) one run through rl-zoo3 and export its curve")
    one.add_argument("--algo", required=True, help="lsiq, iqlearn, sqil, gail, vail or bc")
    one.add_argument("--env", required=True)
    one.add_argument("--demos", type=int, default=5, help="expert episodes (the first N of the dataset)")
    one.add_argument("--seed", type=int, default=0)
    one.add_argument("--steps", type=int, default=300_000)
    one.add_argument("--tag", default="", help="names a variant made with --set (the run's label is algo-tag)")
    one.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="hyperparameter overrides")
    one.add_argument("--eval-freq", type=int, default=10_000)
    one.add_argument("--eval-episodes", type=int, default=10)
    one.add_argument("--resume-freq", type=int, default=50_000)
    one.add_argument("--root", type=Path, default=DEFAULT_ROOT)

    suite = commands.add_parser("suite", help="run (or resume) every run of a suite")
    suite.add_argument("name", choices=sorted(SUITES))
    suite.add_argument("--jobs", type=int, default=2, help="runs side by side (one per CPU core)")
    suite.add_argument("--env", action="append", help="only these envs (repeatable)")
    suite.add_argument("--algo", action="append", help="only these algorithm labels (repeatable)")
    suite.add_argument("--seed", type=int, action="append", help="only these seeds (repeatable)")
    suite.add_argument("--list", action="store_true", help="print the runs and their state, train nothing")
    suite.add_argument("--export", action="store_true", help="write the curves of started runs so far, train nothing")
    suite.add_argument("--root", type=Path, default=DEFAULT_ROOT)

    report = commands.add_parser("report", help="write BENCHMARKS.md tables and PNG plots from the results")
    report.add_argument("--root", type=Path, default=DEFAULT_ROOT)
    report.add_argument("--output", type=Path, default=Path("BENCHMARKS.md"))

    throughput = commands.add_parser("throughput", help="env-steps/s of LSIQ, IQ-Learn and SAC, and the FLOP floor")
    throughput.add_argument("--env", default="Hopper-v5")
    throughput.add_argument("--steps", type=int, default=2_000, help="timed env steps per repeat")
    throughput.add_argument("--repeats", type=int, default=5)
    throughput.add_argument("--output", type=Path, default=None, help="JSON file for the measurements")

    labels = commands.add_parser("labels", help="a state-only model's expert-action labels against the recorded actions")
    labels.add_argument("--model", type=Path, required=True, help="the model's zip (e.g. a run's resume/model.zip)")
    labels.add_argument("--algo", default="lsiq", choices=["lsiq", "iqlearn", "sqil"])
    labels.add_argument("--env", help="use the packaged dataset of this env")
    labels.add_argument("--dataset", type=Path, help="or a dataset file with recorded actions")
    labels.add_argument("--demos", type=int, default=5, help="expert episodes (the first N of the dataset)")
    labels.add_argument("--seed", type=int, default=0, help="seed of the sampled labels")
    labels.add_argument("--output", type=Path, help="also write the table here, e.g. benchmarks/results/labels__<run>.md")
    labels.add_argument("--refit-fits", type=int, default=0, help="also fit fresh IDMs this many times on the replay buffer")
    labels.add_argument(
        "--refit-idm", action="append", help="idm_kwargs of one fresh IDM as JSON (repeatable; default: '{}', the plain IDM)"
    )
    labels.add_argument("--replay", type=Path, help="the replay buffer (default: replay_buffer.pkl beside --model)")

    args = parser.parse_args(argv)
    if args.command in ("run", "suite"):
        stop_training_on_signals()
    if args.command == "run":
        spec = RunSpec(args.algo, args.env, args.demos, args.seed, args.steps, tag=args.tag,
                       overrides=parse_overrides(args.set), eval_freq=args.eval_freq,
                       eval_episodes=args.eval_episodes, resume_freq=args.resume_freq)  # fmt: skip
        print(f"curve: {run(spec, args.root)}")
    elif args.command == "suite":
        specs = [
            spec
            for spec in SUITES[args.name]()
            if (not args.env or spec.env_id in args.env)
            and (not args.algo or spec.label in args.algo)
            and (not args.seed or spec.seed in args.seed)
        ]
        if args.list:
            from sb3_lsiq.benchmarks.callbacks import read_resume_state

            for spec in specs:
                steps, finished = read_resume_state(spec.run_dir(args.root) / "resume")
                state = "done" if finished and steps >= spec.steps else f"{steps}/{spec.steps}"
                json_path = spec.result_paths(args.root)[1]
                if committed_finished(spec, args.root):
                    state = "done (committed results)"
                elif steps == 0 and json_path.exists():
                    completed = json.loads(json_path.read_text())["completed_timesteps"]
                    state += f" (committed curve to {completed}, no resume point here: would start over)"
                print(f"{spec.name:60s} {state}")
            return
        if args.export:
            for spec in specs:
                if spec.run_dir(args.root).exists():
                    print(f"curve: {export(spec, args.root)}")
            return
        run_specs(specs, args.root, args.jobs)
    elif args.command == "report":
        from sb3_lsiq.benchmarks.report import write_report

        write_report(args.root, args.output)
        print(f"wrote {args.output}")
    elif args.command == "labels":
        table = labels_table(
            args.model, args.algo, args.env, args.dataset, args.demos, args.seed, args.refit_fits, args.refit_idm, args.replay
        )
        print(table)
        if args.output is not None:  # the report collects benchmarks/results/labels__*.md
            args.output.write_text(table + "\n")
    else:
        from sb3_lsiq.benchmarks.throughput import main as throughput_main

        throughput_main(args.env, args.steps, args.repeats, args.output)
    if (signum := stop_signal()) is not None:
        raise SystemExit(128 + signum)  # the shell's code for "ended by this signal", after the curves are exported


if __name__ == "__main__":
    main()
