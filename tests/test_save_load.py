"""Save/load: identical predictions, no demonstrations in the zip, load without the demo file, continue training."""

import io
import json
import zipfile

import gymnasium as gym
import numpy as np
import pytest
import torch as th

from sb3_lsiq import LSIQ, IQLearn

pytestmark = pytest.mark.stack_smoke  # also run on imitation's pinned stack


@pytest.mark.parametrize(("algo", "extra"), [(LSIQ, {}), (IQLearn, {}), (LSIQ, {"ent_coef": "auto"})])
def test_save_load_reproduces_predictions(tmp_path, pendulum_demos, small_kwargs, algo, extra):
    model = algo("MlpPolicy", "Pendulum-v1", demonstrations=pendulum_demos, actor_learning_rate=1e-4, seed=3,
                 **small_kwargs, **extra)  # fmt: skip
    model.learn(300)
    obs = pendulum_demos.observations[:50]
    actions, _ = model.predict(obs, deterministic=True)
    reward = model.predict_reward(obs, pendulum_demos.actions[:50], pendulum_demos.next_observations[:50], np.zeros(50))
    model.save(tmp_path / "model")

    loaded = algo.load(tmp_path / "model", device="cpu")  # no demonstrations needed
    assert loaded.demonstrations is None and loaded.expert_buffer is None
    np.testing.assert_array_equal(loaded.predict(obs, deterministic=True)[0], actions)
    np.testing.assert_array_equal(
        loaded.predict_reward(obs, pendulum_demos.actions[:50], pendulum_demos.next_observations[:50], np.zeros(50)), reward
    )
    # every hyper-parameter that matters comes back
    assert loaded.actor.optimizer.param_groups[0]["lr"] == pytest.approx(1e-4)
    assert loaded.critic.optimizer.param_groups[0]["lr"] == pytest.approx(3e-4)
    assert float(loaded._current_ent_coef()) == pytest.approx(float(model._current_ent_coef()))
    assert loaded._target_clip_bounds() == model._target_clip_bounds()


def test_zip_holds_no_demonstrations(tmp_path, pendulum_demos, small_kwargs):
    model = LSIQ("MlpPolicy", "Pendulum-v1", demonstrations=pendulum_demos, **small_kwargs)
    model.learn(100)
    model.save(tmp_path / "model.zip")
    with zipfile.ZipFile(tmp_path / "model.zip") as archive:
        names = set(archive.namelist())
        data = json.loads(archive.read("data"))
    assert "demonstrations" not in data and "expert_buffer" not in data
    assert names <= {"data", "pytorch_variables.pth", "policy.pth", "actor.optimizer.pth", "critic.optimizer.pth",
                     "_stable_baselines3_version", "system_info.txt"}  # fmt: skip
    # the expert observations appear nowhere in the archive
    needle = pendulum_demos.observations[123].tobytes()
    with zipfile.ZipFile(tmp_path / "model.zip") as archive:
        assert all(needle not in archive.read(name) for name in names)


def test_continue_training_after_load(tmp_path, pendulum_demos, small_kwargs):
    model = LSIQ("MlpPolicy", "Pendulum-v1", demonstrations=pendulum_demos, **small_kwargs)
    model.learn(200)
    model.save(tmp_path / "model")
    loaded = LSIQ.load(tmp_path / "model", env=gym.make("Pendulum-v1"))
    with pytest.raises(ValueError, match="has no demonstrations"):
        loaded.learn(100, reset_num_timesteps=False)
    loaded = LSIQ.load(tmp_path / "model", env=gym.make("Pendulum-v1"), demonstrations=pendulum_demos)
    before = [p.detach().clone() for p in loaded.critic.parameters()]
    n_updates = loaded._n_updates
    loaded.learn(200, reset_num_timesteps=False)
    assert loaded._n_updates > n_updates
    assert not all(th.equal(a, b) for a, b in zip(before, loaded.critic.parameters()))


def test_set_demonstrations_after_load(tmp_path, pendulum_demos, small_kwargs):
    model = IQLearn("MlpPolicy", "Pendulum-v1", demonstrations=pendulum_demos, **small_kwargs)
    model.learn(100)
    buffer = io.BytesIO()
    model.save(buffer)
    buffer.seek(0)
    loaded = IQLearn.load(buffer, env=gym.make("Pendulum-v1"))
    loaded.set_demonstrations(pendulum_demos.select_episodes(2))
    assert loaded.expert_buffer.n_transitions == 400
    loaded.learn(100, reset_num_timesteps=False)
