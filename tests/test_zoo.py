"""rl-zoo3 drives the package: stock commands through the start-up hook, the wrapper command, Optuna samplers."""

import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("rl_zoo3")

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
# 300 steps with updates from step 100 (the packaged entry waits 1000): every run really trains
FAST = ["-n", "300", "--num-threads", "1", "-params", "learning_starts:100"]


def run(command, cwd, timeout=300):
    env = {**os.environ, "MPLBACKEND": "Agg", "SDL_VIDEODRIVER": "dummy"}
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False, env=env)
    assert result.returncode == 0, f"{' '.join(map(str, command))}\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}"
    return result.stdout + result.stderr


def test_stock_train_enjoy_continue_video_and_plots(tmp_path):
    # No --conf-file: the start-up hook makes rl-zoo3 read the packaged lsiq.yml (the run is outside the repo)
    out = run([BIN / "rl_zoo3", "train", "--algo", "lsiq", "--env", "Pendulum-v1", "-f", "logs", "--eval-freq", "150",
               "--eval-episodes", "2", *FAST], tmp_path)  # fmt: skip
    assert "hyperparams/lsiq.yml" in out and "Expert buffer: 1000 transitions from 5 episode(s)" in out
    run_dir = tmp_path / "logs" / "lsiq" / "Pendulum-v1_1"
    assert (run_dir / "Pendulum-v1.zip").is_file() and (run_dir / "best_model.zip").is_file()
    assert len(np.load(run_dir / "evaluations.npz")["timesteps"]) == 2

    out = run([BIN / "rl_zoo3", "enjoy", "--algo", "lsiq", "--env", "Pendulum-v1", "-f", "logs", "--no-render",
               "-n", "200"], tmp_path)  # fmt: skip
    assert "Mean reward" in out

    out = run([sys.executable, "-m", "rl_zoo3.train", "--algo", "lsiq", "--env", "Pendulum-v1", "-f", "logs",
               "-i", str(run_dir / "Pendulum-v1.zip"), *FAST], tmp_path)  # fmt: skip
    assert (tmp_path / "logs" / "lsiq" / "Pendulum-v1_2" / "Pendulum-v1.zip").is_file()

    run([sys.executable, "-m", "rl_zoo3.record_video", "--algo", "lsiq", "--env", "Pendulum-v1", "-f", "logs",
         "--exp-id", "1", "-n", "20", "-o", "videos"], tmp_path)  # fmt: skip
    assert list((tmp_path / "videos").glob("*lsiq-Pendulum-v1*.mp4"))

    run([BIN / "rl_zoo3", "all_plots", "-a", "lsiq", "-e", "Pendulum-v1", "-f", "logs", "--no-display",
         "-o", "plots"], tmp_path)  # fmt: skip
    assert (tmp_path / "plots.pkl").is_file()


def test_stock_train_iqlearn_with_conf_file(tmp_path):
    out = run([sys.executable, "-m", "rl_zoo3.train", "--algo", "iqlearn", "--env", "Pendulum-v1", "-f", "logs",
               "--conf-file", str(ROOT / "hyperparams" / "iqlearn.yml"), *FAST], tmp_path)  # fmt: skip
    assert "Saving to logs/iqlearn/Pendulum-v1_1" in out
    from sb3_lsiq import IQLearn

    model = IQLearn.load(tmp_path / "logs" / "iqlearn" / "Pendulum-v1_1" / "Pendulum-v1.zip")
    assert model.num_timesteps == 300 and model.reg_mult == 0.5


def test_stock_train_sqil_reads_the_packaged_file(tmp_path):
    out = run([BIN / "rl_zoo3", "train", "--algo", "sqil", "--env", "Pendulum-v1", "-f", "logs", *FAST], tmp_path)
    assert "hyperparams/sqil.yml" in out and "Saving to logs/sqil/Pendulum-v1_1" in out
    from sb3_lsiq import SQIL

    model = SQIL.load(tmp_path / "logs" / "sqil" / "Pendulum-v1_1" / "Pendulum-v1.zip")
    assert model.num_timesteps == 300 and model.policy_term == "q_old_policy"


def test_optimize_tunes_the_imitation_knobs(tmp_path):
    out = run([BIN / "rl_zoo3", "train", "--algo", "lsiq", "--env", "Pendulum-v1", "-f", "logs", "-optimize",
               "--n-trials", "2", "--n-jobs", "1", "--sampler", "random", "--pruner", "none", "--n-evaluations", "1",
               "--eval-episodes", "1", "-n", "300", "--num-threads", "1", "-params", "learning_starts:100",
               "--seed", "4"], tmp_path)  # fmt: skip
    assert "Number of finished trials:  2" in out
    for knob in ("reg_mult", "n_demo_episodes", "ent_coef", "actor_learning_rate"):
        assert f"{knob}:" in out.split("Best trial:")[1]
    assert list((tmp_path / "logs" / "lsiq").glob("report_Pendulum-v1_2-trials-300-random-none_*.csv"))


def test_wrapper_command_injects_the_packaged_file(tmp_path):
    out = run([sys.executable, "-m", "sb3_lsiq", "train", "--algo", "iqlearn", "--env", "Pendulum-v1", "-f", "logs", *FAST],
              tmp_path)  # fmt: skip
    assert "hyperparams/iqlearn.yml" in out
    out = run([BIN / "sb3-lsiq-zoo", "enjoy", "--algo", "iqlearn", "--env", "Pendulum-v1", "-f", "logs", "--no-render",
               "-n", "200"], tmp_path)  # fmt: skip
    assert "Mean reward" in out


def test_conf_file_injection_rules():
    from sb3_lsiq.zoo.cli import with_packaged_conf_file

    args = ["--algo", "lsiq", "--env", "Hopper-v5"]
    injected = with_packaged_conf_file(args)
    assert injected[:4] == args and injected[4] == "--conf-file" and injected[5].endswith("lsiq.yml")
    assert Path(injected[5]).is_file()
    assert with_packaged_conf_file([*args, "--conf-file", "mine.yml"]) == [*args, "--conf-file", "mine.yml"]
    assert with_packaged_conf_file(["--algo", "sac", "--env", "Hopper-v5"]) == ["--algo", "sac", "--env", "Hopper-v5"]


@pytest.mark.parametrize("algo", ["gail", "vail"])
def test_stock_train_and_enjoy_adversarial_baselines(algo, tmp_path):
    # Two rollouts of 4 envs x 128 steps (the discriminator's statistics of the first are logged with the second)
    out = run([BIN / "rl_zoo3", "train", "--algo", algo, "--env", "Pendulum-v1", "-f", "logs", "-n", "1024",
               "--num-threads", "1", "-params", "n_steps:128"], tmp_path)  # fmt: skip
    assert f"hyperparams/{algo}.yml" in out and "expert_accuracy" in out
    out = run([BIN / "rl_zoo3", "enjoy", "--algo", algo, "--env", "Pendulum-v1", "-f", "logs", "--no-render",
               "-n", "200"], tmp_path)  # fmt: skip
    assert "Mean reward" in out


def test_stock_train_offline(tmp_path):
    # rl-zoo3 only calls learn(): offline_objective turns it into offline updates, evaluated as usual
    run([BIN / "rl_zoo3", "train", "--algo", "lsiq", "--env", "Pendulum-v1", "-f", "logs", "-n", "200", "--num-threads",
         "1", "--eval-freq", "100", "--eval-episodes", "1", "-params", "offline_objective:'iq'"], tmp_path)  # fmt: skip
    run_dir = tmp_path / "logs" / "lsiq" / "Pendulum-v1_1"
    assert np.load(run_dir / "evaluations.npz")["timesteps"].tolist() == [100, 200]
    from sb3_lsiq import LSIQ

    model = LSIQ.load(run_dir / "Pendulum-v1.zip")
    assert model.offline_objective == "iq" and model._n_updates == 200


def test_stock_train_with_an_observation_subset_from_the_yaml_file(tmp_path):
    # Demonstrations that observe (cos, sin) only; the YAML entry maps them into the agent's 3 entries
    from sb3_lsiq import LSIQ
    from sb3_lsiq.data import pendulum_demonstrations

    demos = pendulum_demonstrations(n_episodes=2)
    subset = replace(demos, observations=demos.observations[:, :2], next_observations=demos.next_observations[:, :2])
    subset.save(tmp_path / "no_velocity.npz")
    (tmp_path / "conf.yml").write_text(
        "Pendulum-v1:\n  n_timesteps: 300\n  policy: 'MlpPolicy'\n  demonstrations: 'no_velocity.npz'\n"
        "  learning_starts: 100\n  expert_observation_map: {agent_indices: [0, 1], agent_dim: 3, fill: 0.0}\n"
        "  policy_kwargs: 'dict(net_arch=[32, 32])'\n"
    )
    run([BIN / "rl_zoo3", "train", "--algo", "lsiq", "--env", "Pendulum-v1", "-f", "logs", "--num-threads", "1",
         "--conf-file", "conf.yml"], tmp_path)  # fmt: skip
    model = LSIQ.load(tmp_path / "logs" / "lsiq" / "Pendulum-v1_1" / "Pendulum-v1.zip")
    assert model.num_timesteps == 300 and model.expert_observation_map.shared_indices == [0, 1]
    assert model.critic.features_extractor.features_dim == 2  # the critic sees the observed entries only


def test_start_up_hook_is_free_and_never_breaks_rl_zoo3(tmp_path):
    # At interpreter start the hook is installed but nothing heavy is imported
    run([sys.executable, "-c", "import sys; assert '_sb3_lsiq_zoo_hook' in sys.modules; "
         "assert not {'torch', 'sb3_lsiq', 'importlib.abc'} & set(sys.modules)"], tmp_path)  # fmt: skip
    # If the package cannot be imported, rl-zoo3 still imports, with a warning
    out = run([sys.executable, "-W", "always", "-c", "import sys; sys.modules['sb3_lsiq.zoo'] = None; "
               "import rl_zoo3.utils as u; assert 'sac' in u.ALGOS and 'lsiq' not in u.ALGOS"], tmp_path)  # fmt: skip
    assert "sb3-lsiq could not register its algorithms with rl-zoo3" in out


@pytest.mark.parametrize("algo", ["lsiq", "iqlearn", "sqil"])
def test_samplers_give_constructor_kwargs(algo):
    import optuna

    from sb3_lsiq.zoo import ZOO_ALGORITHMS
    from sb3_lsiq.zoo.registration import CONVERTERS, SAMPLERS

    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    trial = study.ask()
    kwargs = SAMPLERS[algo](trial, 1, 1, {"using_her_replay_buffer": False})
    assert CONVERTERS[algo](trial.params) == kwargs  # what --trial-id re-trains is what was sampled
    assert {"n_demo_episodes", "ent_coef", "actor_learning_rate"} <= set(kwargs)
    assert ("reg_mult" in kwargs) == (algo != "sqil")  # SQIL's rewards are fixed: no c
    model = ZOO_ALGORITHMS[algo]("MlpPolicy", "Pendulum-v1", **kwargs)
    assert model.policy.net_args["net_arch"] == kwargs["policy_kwargs"]["net_arch"]


@pytest.mark.parametrize("algo", ["gail", "vail"])
def test_adversarial_samplers_give_constructor_kwargs(algo):
    import optuna

    from sb3_lsiq.zoo import ZOO_ALGORITHMS
    from sb3_lsiq.zoo.registration import CONVERTERS, SAMPLERS

    trial = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0)).ask()
    kwargs = SAMPLERS[algo](trial, 1, 1, {"using_her_replay_buffer": False})
    assert CONVERTERS[algo](trial.params) == kwargs
    assert {"n_demo_episodes", "discriminator_learning_rate", "ent_coef"} <= set(kwargs)
    assert ("information_constraint" in kwargs) == (algo == "vail")
    model = ZOO_ALGORITHMS[algo]("MlpPolicy", "Pendulum-v1", **kwargs)
    assert model.discriminator_learning_rate == kwargs["discriminator_learning_rate"]
