"""Add the package's algorithms to rl-zoo3's registries (in place: every zoo script reads the same dicts)."""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType
from typing import Any

from sb3_lsiq.adversarial import GAIL, VAIL
from sb3_lsiq.common.hyperparams import hyperparams_dir
from sb3_lsiq.iqlearn import IQLearn
from sb3_lsiq.lsiq import LSIQ
from sb3_lsiq.sqil import SQIL
from sb3_lsiq.zoo.samplers import (
    convert_adversarial_params,
    convert_iq_params,
    sample_adversarial_params,
    sample_iqlearn_params,
    sample_lsiq_params,
    sample_sqil_params,
    sample_vail_params,
)

# Every algorithm of the package that rl-zoo3 can drive, by its --algo name
ZOO_ALGORITHMS: dict[str, type] = {"lsiq": LSIQ, "iqlearn": IQLearn, "sqil": SQIL, "gail": GAIL, "vail": VAIL}
SAMPLERS: dict[str, Any] = {
    "lsiq": sample_lsiq_params,
    "iqlearn": sample_iqlearn_params,
    "sqil": sample_sqil_params,
    "gail": sample_adversarial_params,
    "vail": sample_vail_params,
}
CONVERTERS: dict[str, Any] = {
    "lsiq": convert_iq_params,
    "iqlearn": convert_iq_params,
    "sqil": convert_iq_params,
    "gail": convert_adversarial_params,
    "vail": convert_adversarial_params,
}


def register_algorithms(utils_module: ModuleType | None = None) -> None:
    """Add the algorithms to ``rl_zoo3.utils.ALGOS`` (``--algo`` choices are read from it)."""
    if utils_module is None:
        utils_module = importlib.import_module("rl_zoo3.utils")
    utils_module.ALGOS.update(ZOO_ALGORITHMS)


def register_samplers(hyperparams_opt_module: ModuleType | None = None) -> None:
    """Add the Optuna samplers and converters used by ``-optimize`` and ``--trial-id``."""
    if hyperparams_opt_module is None:
        hyperparams_opt_module = importlib.import_module("rl_zoo3.hyperparams_opt")
    hyperparams_opt_module.HYPERPARAMS_SAMPLER.update(SAMPLERS)
    hyperparams_opt_module.HYPERPARAMS_CONVERTER.update(CONVERTERS)


def register_default_conf_files(exp_manager_module: ModuleType | None = None) -> None:
    """Let ``rl_zoo3 train --algo lsiq`` without ``--conf-file`` read the packaged ``lsiq.yml``.

    rl-zoo3 defaults to ``<rl_zoo3>/hyperparams/<algo>.yml``, which does not exist for a plugin algorithm; only
    that missing default is replaced, so an explicit ``--conf-file`` always wins.
    """
    if exp_manager_module is None:
        exp_manager_module = importlib.import_module("rl_zoo3.exp_manager")
    manager_class = exp_manager_module.ExperimentManager
    if getattr(manager_class.read_hyperparameters, "_sb3_lsiq_patched", False):
        return
    read_hyperparameters = manager_class.read_hyperparameters

    def read_packaged_hyperparameters(self: Any) -> Any:
        default_file = Path(self.config)
        is_missing_default = not default_file.exists() and default_file.parts[-2:] == ("hyperparams", f"{self.algo}.yml")
        if self.algo in ZOO_ALGORITHMS and is_missing_default:
            self.config = str(hyperparams_dir() / f"{self.algo}.yml")
        return read_hyperparameters(self)

    read_packaged_hyperparameters._sb3_lsiq_patched = True  # type: ignore[attr-defined]
    manager_class.read_hyperparameters = read_packaged_hyperparameters


def register() -> None:
    """Register everything with rl-zoo3 (imports rl-zoo3 and Optuna)."""
    register_algorithms()
    register_samplers()
    register_default_conf_files()
