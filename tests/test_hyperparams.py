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
    model.learn(2)  # the entry's packaged demonstrations resolve from any working directory
    assert model.expert_buffer is not None and model.expert_buffer.n_transitions == 5 * 200
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


@pytest.mark.parametrize("algo", ["lsiq", "iqlearn", "sqil", "gail", "vail"])
@pytest.mark.parametrize("env_id", ["Pendulum-v1", "HalfCheetah-v5", "Hopper-v5", "Walker2d-v5", "Ant-v5", "Humanoid-v5"])
def test_every_entry_builds_its_algorithm(algo, env_id):
    """Each entry's keys are constructor arguments with valid values (the model is built without an env)."""
    from sb3_lsiq.zoo import ZOO_ALGORITHMS

    raw = load_hyperparams(algo, env_id)
    assert raw["policy"] == "MlpPolicy" and raw["n_timesteps"] > 0
    assert raw["demonstrations"] == f"sb3_lsiq:{env_id}"
    kwargs = algorithm_kwargs(algo, env_id)
    model = ZOO_ALGORITHMS[algo]("MlpPolicy", "Pendulum-v1", **kwargs)  # any Box env checks the values
    assert model.gamma == kwargs.get("gamma", 0.99)


@pytest.mark.parametrize(
    "env_id, policy_term",
    [("HalfCheetah-v5", "q_old_policy"), ("Ant-v5", "q_old_policy"), ("Hopper-v5", "value"), ("Walker2d-v5", "value"),
     ("Humanoid-v5", "value")],
)  # fmt: skip
def test_mujoco_policy_terms_do_not_leak_through_the_yaml_anchor(env_id, policy_term):
    """HalfCheetah's entry is the anchor the others merge: its q_old_policy must not reach the tasks that keep "value"
    (BENCHMARKS.md chose the term per task)."""
    assert load_hyperparams("lsiq", env_id)["policy_term"] == policy_term
