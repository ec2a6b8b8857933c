import pytest
from torch import nn

from sb3_lsiq import LSIQ
from sb3_lsiq.common.hyperparams import ZOO_ONLY_KEYS, algorithm_kwargs, load_hyperparams
from sb3_lsiq.common.iq_algorithm import LinearDecay, parse_schedule_string


def test_packaged_pendulum_entry_builds_a_model():
    raw = load_hyperparams("lsiq", "Pendulum-v1")
    assert raw["n_timesteps"] == 20_000
    kwargs = algorithm_kwargs("lsiq", "Pendulum-v1")
    assert not set(kwargs) & ZOO_ONLY_KEYS
    assert kwargs["reg_mult"] == 2.0
    model = LSIQ("MlpPolicy", "Pendulum-v1", **kwargs)
    assert model.actor.optimizer.param_groups[0]["lr"] == pytest.approx(1e-3)
    assert model.lr_schedule(0.5) == pytest.approx(5e-4)  # "lin_1e-3" decays linearly


def test_missing_entries_are_named():
    with pytest.raises(KeyError, match="no entry for 'Nope-v0'"):
        load_hyperparams("lsiq", "Nope-v0")
    with pytest.raises(FileNotFoundError, match="No hyperparameter file for algo 'nope'"):
        load_hyperparams("nope", "Pendulum-v1")


def test_schedule_strings():
    assert parse_schedule_string("3e-4") == pytest.approx(3e-4)
    schedule = parse_schedule_string("lin_2e-3")
    assert isinstance(schedule, LinearDecay) and schedule(0.25) == pytest.approx(5e-4)
    with pytest.raises(ValueError, match="Cannot read the learning rate 'fast'"):
        parse_schedule_string("fast")


def test_policy_kwargs_strings_are_evaluated_like_rl_zoo3(tmp_path, monkeypatch):
    (tmp_path / "lsiq.yml").write_text('X-v0:\n  policy_kwargs: "dict(net_arch=[8], activation_fn=nn.Tanh)"\n')
    monkeypatch.setattr("sb3_lsiq.common.hyperparams.hyperparams_dir", lambda: tmp_path)
    assert algorithm_kwargs("lsiq", "X-v0")["policy_kwargs"] == {"net_arch": [8], "activation_fn": nn.Tanh}
