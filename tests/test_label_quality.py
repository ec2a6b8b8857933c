"""The state-only label diagnostic: label errors against hand-computed values, every label source of a model, the CLI."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from sb3_lsiq import LSIQ
from sb3_lsiq.benchmarks.labels import format_label_quality, label_error, label_quality, refit_label_quality


def test_label_error_against_hand_computed_values():
    actions = np.array([[1.0, 0.5], [-1.0, 0.5], [0.0, 0.5]])
    labels = np.array([[0.5, 0.0], [-0.5, 1.0], [0.0, 0.5]])
    error = label_error(labels, actions)
    # a0: errors 0.5, 0.5, 0 -> 0.5 / 3; a1: 0.5, 0.5, 0 -> 0.5 / 3
    np.testing.assert_allclose(error.mse, [0.5 / 3, 0.5 / 3])
    # a0's labels are half the actions: correlation 1; a1's actions are constant: no correlation
    assert error.correlation[0] == pytest.approx(1.0)
    assert np.isnan(error.correlation[1])
    np.testing.assert_allclose(label_error(-actions[:, :1], actions[:, :1]).correlation, [-1.0])
    with pytest.raises(ValueError, match=r"labels have shape \(3, 1\) but the recorded actions \(3, 2\)"):
        label_error(labels[:, :1], actions)


def test_label_quality_covers_each_source_and_is_seeded(pendulum_demos, small_kwargs):
    model = LSIQ("MlpPolicy", "Pendulum-v1", demonstrations=pendulum_demos.without_actions(), expert_actions="idm", seed=0,
                 **small_kwargs)  # fmt: skip
    model.learn(300)
    errors = label_quality(model, pendulum_demos, seed=1)
    assert list(errors) == ["idm sample", "idm mean", "policy sample", "policy mean", "zero"]
    assert all(error.mse.shape == (1,) for error in errors.values())
    # The zero labels' MSE is the mean squared recorded action, in the policy's [-1, 1] scale (Pendulum's box is +-2)
    np.testing.assert_allclose(errors["zero"].mse, [np.mean((pendulum_demos.actions / 2.0) ** 2)], rtol=1e-5)
    again = label_quality(model, pendulum_demos, seed=1)
    np.testing.assert_array_equal(errors["idm sample"].mse, again["idm sample"].mse)
    assert not np.array_equal(errors["idm sample"].mse, label_quality(model, pendulum_demos, seed=2)["idm sample"].mse)
    table = format_label_quality(errors)
    assert table.splitlines()[0] == "| labels | mean MSE | MSE a0 | corr a0 |"
    assert f"| zero | {errors['zero'].mse[0]:.3f} | {errors['zero'].mse[0]:.3f} | - |" in table

    plain = LSIQ("MlpPolicy", "Pendulum-v1", demonstrations=pendulum_demos, seed=0, **small_kwargs)
    assert list(label_quality(plain, pendulum_demos)) == ["policy sample", "policy mean", "zero"]
    with pytest.raises(ValueError, match="no actions to compare the labels with"):
        label_quality(model, pendulum_demos.without_actions())


def test_refit_idms_learn_pendulum_dynamics_from_the_replay(pendulum_demos, small_kwargs):
    """Pendulum's torque is a (near-linear) function of (s, s'): a fresh IDM fitted on random replay transitions labels
    the expert's pairs far better than the zero labeller, in each input form; the row names say what was fitted."""
    model = LSIQ("MlpPolicy", "Pendulum-v1", demonstrations=pendulum_demos.without_actions(), expert_actions="idm", seed=0,
                 **{**small_kwargs, "learning_starts": 2_000})  # fmt: skip
    model.learn(2_000)  # random actions only: the replay covers the whole torque range
    small = {"net_arch": [64, 64], "learning_rate": 3e-3}
    configurations = [small, {**small, "inputs": "delta"}]
    errors = refit_label_quality(model, model.replay_buffer, pendulum_demos, configurations, fits=600)
    names = list(errors)
    assert names[0].startswith('refit {"learning_rate": 0.003, "net_arch": [64, 64]} (600 fits, replay NLL ')
    assert names[1].startswith('refit {"inputs": "delta", "learning_rate": 0.003, "net_arch": [64, 64]} (600 fits')
    zero_mse = np.mean((pendulum_demos.actions / 2.0) ** 2)
    for error in errors.values():
        assert error.mse.shape == (1,) and error.mse[0] < 0.2 * zero_mse and error.correlation[0] > 0.9
    with pytest.raises(ValueError, match="refit fits must be >= 1, got 0"):
        refit_label_quality(model, model.replay_buffer, pendulum_demos, configurations, fits=0)
    with pytest.raises(ValueError, match="no actions to compare the labels with"):
        refit_label_quality(model, model.replay_buffer, pendulum_demos.without_actions(), configurations, fits=1)


def test_labels_command(pendulum_demos, small_kwargs, tmp_path):
    model = LSIQ("MlpPolicy", "Pendulum-v1", demonstrations=pendulum_demos.without_actions(), expert_actions="idm", seed=0,
                 **small_kwargs)  # fmt: skip
    model.learn(200)
    model.save(tmp_path / "model.zip")
    command = [sys.executable, "-m", "sb3_lsiq.benchmarks", "labels", "--model", str(tmp_path / "model.zip")]
    output = tmp_path / "labels__run.md"
    result = subprocess.run([*command, "--env", "Pendulum-v1", "--demos", "2", "--output", str(output)],
                            capture_output=True, text=True, timeout=300)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "400 expert transitions (2 episodes)" in result.stdout and "| idm sample |" in result.stdout
    assert output.read_text().strip() in result.stdout and "| zero |" in output.read_text()
    neither = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert neither.returncode != 0 and "give exactly one of --env" in neither.stderr

    refit = [*command, "--env", "Pendulum-v1", "--demos", "2", "--refit-fits", "20"]
    no_replay = subprocess.run(refit, capture_output=True, text=True, timeout=300)
    assert no_replay.returncode != 0 and "needs the run's replay buffer" in no_replay.stderr
    model.save_replay_buffer(tmp_path / "replay_buffer.pkl")
    result = subprocess.run([*refit, "--refit-idm", '{"inputs": "delta"}'], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "refit on 200 replay transitions" in result.stdout and '| refit {"inputs": "delta"} (20 fits' in result.stdout
    bad = subprocess.run([*refit, "--refit-idm", "inputs=delta"], capture_output=True, text=True, timeout=300)
    assert bad.returncode != 0 and "--refit-idm 'inputs=delta' is not JSON" in bad.stderr
