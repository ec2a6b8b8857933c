"""Start-up hook of sb3-lsiq for rl-zoo3, loaded by ``sb3_lsiq_zoo.pth`` when Python starts.

It only installs an import finder: nothing is imported until a program imports ``rl_zoo3.utils`` (then LSIQ and
IQLearn are added to ``ALGOS``, before any zoo script builds its ``--algo`` choices), ``rl_zoo3.hyperparams_opt``
(then the Optuna samplers are added) or ``rl_zoo3.exp_manager`` (then the packaged YAML files become the
default ``--conf-file`` of the package's algorithms). A failure to register is a warning, never an error:
rl-zoo3 keeps working.
"""

import sys

# No importlib.abc base classes: importing importlib.abc costs tens of milliseconds at every interpreter start,
# and the import system only needs find_spec / create_module / exec_module.

# Module imported by rl-zoo3 -> function of sb3_lsiq.zoo.registration run right after it
_REGISTRATIONS = {
    "rl_zoo3.utils": "register_algorithms",
    "rl_zoo3.hyperparams_opt": "register_samplers",
    "rl_zoo3.exp_manager": "register_default_conf_files",
}


class _RegisteringLoader:
    def __init__(self, loader, registration):
        self._loader = loader
        self._registration = registration

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        self._loader.exec_module(module)
        try:
            from sb3_lsiq.zoo import registration

            getattr(registration, self._registration)(module)
        except Exception as error:  # never break rl-zoo3
            import warnings

            warnings.warn(f"sb3-lsiq could not register its algorithms with rl-zoo3: {error!r}", stacklevel=2)

    def __getattr__(self, name):  # get_code, get_source, ... of the wrapped loader
        return getattr(self._loader, name)


class _ZooFinder:
    def find_spec(self, fullname, path, target=None):
        if fullname not in _REGISTRATIONS:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                if spec.loader is not None:
                    spec.loader = _RegisteringLoader(spec.loader, _REGISTRATIONS[fullname])
                return spec
        return None


def install():
    try:
        if not any(isinstance(finder, _ZooFinder) for finder in sys.meta_path):
            sys.meta_path.insert(0, _ZooFinder())
    except Exception:  # a .pth line must never stop Python from starting
        pass
