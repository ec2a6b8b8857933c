"""rl-zoo3 integration: registration of the package's algorithms, Optuna samplers and the wrapper command.

rl-zoo3 has no plugin API: its ``ALGOS``, ``HYPERPARAMS_SAMPLER`` and ``HYPERPARAMS_CONVERTER`` dicts are mutated
in place. The start-up hook (``_sb3_lsiq_zoo_hook``, installed by a ``.pth`` file) calls :func:`register_algorithms`,
:func:`register_samplers` and :func:`register_default_conf_files` right after rl-zoo3 imports the module each
one patches, so the stock ``rl_zoo3`` commands accept ``--algo lsiq`` / ``--algo iqlearn`` (and find the packaged
hyperparameter file without ``--conf-file``); :func:`register` does all three by hand.
"""

from sb3_lsiq.zoo.registration import (
    ZOO_ALGORITHMS,
    register,
    register_algorithms,
    register_default_conf_files,
    register_samplers,
)

__all__ = ["ZOO_ALGORITHMS", "register", "register_algorithms", "register_default_conf_files", "register_samplers"]
