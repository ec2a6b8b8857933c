"""``sb3-lsiq-zoo`` / ``python -m sb3_lsiq``: rl-zoo3's own command line, with the package's algorithms registered.

    sb3-lsiq-zoo train --algo lsiq --env Hopper-v5 --num-threads 1
    sb3-lsiq-zoo enjoy --algo lsiq --env Hopper-v5 -f logs --no-render

Works without the start-up hook. For ``train`` with one of the package's algorithms and no ``--conf-file``, the
packaged hyperparameter file is injected (rl-zoo3 would otherwise look for ``lsiq.yml`` inside rl-zoo3).
"""

from __future__ import annotations

import sys

from sb3_lsiq.common.hyperparams import hyperparams_dir
from sb3_lsiq.zoo.registration import ZOO_ALGORITHMS, register

USAGE = "usage: sb3-lsiq-zoo {train,enjoy,record_video,record_training,plot_train,plot_from_file,all_plots} [args...]"


def _option_value(args: list[str], *names: str) -> str | None:
    for i, arg in enumerate(args):
        for name in names:
            if arg == name and i + 1 < len(args):
                return args[i + 1]
            if arg.startswith(f"{name}="):
                return arg.split("=", 1)[1]
    return None


def with_packaged_conf_file(args: list[str]) -> list[str]:
    """``args`` of a zoo script, plus ``--conf-file <packaged yml>`` when training one of our algorithms without one."""
    algo = _option_value(args, "--algo")
    if algo not in ZOO_ALGORITHMS or _option_value(args, "--conf-file", "-conf") is not None:
        return list(args)
    return [*args, "--conf-file", str(hyperparams_dir() / f"{algo}.yml")]


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE)
        return
    try:
        from rl_zoo3.cli import main as zoo_main
    except ImportError as error:
        raise SystemExit(f"sb3-lsiq-zoo needs rl-zoo3 ({error}): pip install 'sb3-lsiq[zoo]'") from error
    register()

    script, script_args = argv[0], argv[1:]
    if script == "train":
        script_args = with_packaged_conf_file(script_args)
    # rl-zoo3's entry point reads the script name and its arguments from sys.argv
    sys.argv = [sys.argv[0], script, *script_args]
    zoo_main()


if __name__ == "__main__":
    main()
