"""Callbacks the benchmark runner hands to rl-zoo3 (through the ``callback`` key of the run's hyperparameter file):
an exact resume point, and the stochastic-policy evaluation next to rl-zoo3's deterministic one."""

from __future__ import annotations

import json
import os
import signal
import threading
from pathlib import Path
from typing import Any

import numpy as np
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.logger import CSVOutputFormat
from stable_baselines3.common.vec_env import VecEnv, VecNormalize, sync_envs_normalization

RESUME_MODEL = "model.zip"
RESUME_BUFFER = "replay_buffer.pkl"  # the name rl-zoo3's ``-i`` looks for next to the model
RESUME_VECNORMALIZE = "vecnormalize.pkl"
RESUME_STATE = "state.json"


class ResumeCheckpointCallback(BaseCallback):
    """Keeps one resume point, overwritten every ``save_freq`` steps: the model, its replay buffer, the VecNormalize
    statistics and the step count. rl-zoo3's ``-i <save_path>/model.zip`` reloads the model and the buffer.

    Why the step count: rl-zoo3 continues training with a fresh ``learn()``, which restarts ``num_timesteps`` at 0,
    so ``learning_starts`` (random actions), ``actor_learning_starts`` and the learning-rate schedules would start
    over. With ``resume_timesteps`` set, :meth:`_on_training_start` puts the count back (run the continuation with
    ``-n <total steps>``, not the remainder), and evaluation logs keep absolute step numbers.

    Why a graceful stop: SIGTERM or SIGINT (the runner forwards both) ends training at the next multiple of
    ``stop_freq`` steps with a resume point there, so an interrupted run loses nothing; ``stop_freq`` is the
    evaluation frequency, so the resumed run's evaluations stay on the same step grid. A second signal stops at once.

    :param save_freq: steps between resume points (a multiple of the evaluation frequency keeps evaluations aligned)
    :param save_path: folder of the resume point
    :param resume_timesteps: the step count of the resume point this process continues from (0: a new run)
    :param stop_freq: after a stop signal, training ends at the next multiple of this many steps (default:
        ``save_freq``)
    :param verbose: 1 prints a line per resume point
    """

    def __init__(
        self, save_freq: int, save_path: str, resume_timesteps: int = 0, stop_freq: int | None = None, verbose: int = 0
    ) -> None:
        super().__init__(verbose)
        self.save_freq = save_freq
        self.save_path = Path(save_path)
        self.resume_timesteps = resume_timesteps
        self.stop_freq = stop_freq or save_freq
        self.stop_requested = False
        self._previous_handlers: dict[int, Any] = {}

    def _on_training_start(self) -> None:
        if self.resume_timesteps > 0:
            self.model.num_timesteps = self.resume_timesteps
            self.model._num_timesteps_at_start = self.resume_timesteps
        self.save_path.mkdir(parents=True, exist_ok=True)
        if threading.current_thread() is threading.main_thread():  # Python sets signal handlers there only
            for signum in (signal.SIGTERM, signal.SIGINT):
                self._previous_handlers[signum] = signal.signal(signum, self._request_stop)

    def _request_stop(self, signum: int, frame: Any) -> None:
        if self.stop_requested:  # the second signal: stop now, the last resume point stays as it is
            raise KeyboardInterrupt
        self.stop_requested = True
        print(f"Stop requested (signal {signum}): training ends at the next multiple of {self.stop_freq} steps with a"
              " resume point there; signal again to stop at once", flush=True)  # fmt: skip

    def _on_step(self) -> bool:
        saved = self.n_calls % calls_between(self.save_freq, self.training_env) == 0
        if saved:
            self.save()
        if self.stop_requested and self.n_calls % calls_between(self.stop_freq, self.training_env) == 0:
            if not saved:
                self.save()
            print(f"Stopped at {self.model.num_timesteps} steps; resume point: {self.save_path}", flush=True)
            return False
        return True

    def _on_training_end(self) -> None:
        for signum, handler in self._previous_handlers.items():
            signal.signal(signum, handler)
        self._previous_handlers.clear()
        # A completed run ends with a resume point marked finished (it can still be extended to more steps)
        if self.model.num_timesteps >= self.model._total_timesteps:
            self.save(finished=True)

    def save(self, finished: bool = False) -> None:
        """Write the resume point; each file is written aside and renamed, so a kill never leaves a torn one."""
        model = self.model
        _write_atomically(self.save_path / RESUME_MODEL, model.save)
        if hasattr(model, "save_replay_buffer"):
            _write_atomically(self.save_path / RESUME_BUFFER, model.save_replay_buffer)
        vec_normalize = model.get_vec_normalize_env()
        if vec_normalize is not None:
            _write_atomically(self.save_path / RESUME_VECNORMALIZE, vec_normalize.save)
        state = {"num_timesteps": int(model.num_timesteps), "finished": finished}
        _write_atomically(self.save_path / RESUME_STATE, lambda path: Path(path).write_text(json.dumps(state)))
        if self.verbose >= 1:
            print(f"Resume point at {model.num_timesteps} steps: {self.save_path}")


def calls_between(freq: int, env: VecEnv) -> int:
    """Callback calls per ``freq`` environment steps: each call is one step of every env (as rl-zoo3 counts)."""
    return max(freq // env.num_envs, 1)


def _write_atomically(path: Path, write: object) -> None:
    suffix = "".join(path.suffixes)
    temporary = path.with_name(f"{path.name.removesuffix(suffix)}.partial{suffix}")
    write(str(temporary))  # type: ignore[operator]
    os.replace(temporary, path)


def read_resume_state(save_path: str | Path) -> tuple[int, bool]:
    """(step count, finished) of the resume point in ``save_path``; (0, False) when there is none to resume from."""
    state_file = Path(save_path) / RESUME_STATE
    if not state_file.exists():
        return 0, False
    state = json.loads(state_file.read_text())
    if state.get("finished"):
        return int(state["num_timesteps"]), True
    if not (Path(save_path) / RESUME_MODEL).exists():
        return 0, False
    return int(state["num_timesteps"]), False


class CSVLogCallback(BaseCallback):
    """Adds a CSV output to the model's logger, so every logged value (``train/q_expert``, ``train/reward_policy``,
    ``rollout/ep_len_mean``, ...) is kept as data without tensorboard.

    :param path: the CSV file (one per process: SB3's CSV writer starts the file anew)
    """

    def __init__(self, path: str) -> None:
        super().__init__(verbose=0)
        self.path = path
        self.output: CSVOutputFormat | None = None

    def _on_training_start(self) -> None:
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self.output = CSVOutputFormat(self.path)
        self.model.logger.output_formats.append(self.output)

    def _on_step(self) -> bool:
        return True

    def _on_training_end(self) -> None:
        if self.output is not None:
            self.model.logger.output_formats.remove(self.output)
            self.output.close()


class StochasticEvalCallback(BaseCallback):
    """Evaluates the stochastic policy every ``eval_freq`` steps and keeps the curve in ``<log_path>``, in the
    layout of SB3's ``evaluations.npz`` (timesteps, results, ep_lengths), so the same readers serve both.

    rl-zoo3's own EvalCallback evaluates the deterministic policy; the benchmark wants both.

    :param env_id: the gymnasium env id (the evaluation env is made here, seeded with ``seed``)
    :param eval_freq: steps between evaluations
    :param n_eval_episodes: episodes per evaluation
    :param log_path: the ``.npz`` file that keeps the curve (extended across resumed processes)
    :param seed: seed of the evaluation env
    :param env_kwargs: keyword arguments of the env's constructor, the hyperparameter entry's ``env_kwargs`` (rl-zoo3
        makes its training and evaluation envs with them; this env must observe the same)
    """

    def __init__(
        self,
        env_id: str,
        eval_freq: int,
        n_eval_episodes: int,
        log_path: str,
        seed: int = 0,
        env_kwargs: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(verbose=0)
        self.env_id = env_id
        self.env_kwargs = env_kwargs
        self.eval_freq = eval_freq
        self.n_eval_episodes = n_eval_episodes
        self.log_path = Path(log_path)
        self.seed = seed
        self.eval_env: VecEnv | None = None

    def _on_training_start(self) -> None:
        self.eval_env = make_vec_env(self.env_id, n_envs=1, seed=self.seed, env_kwargs=self.env_kwargs)
        if self.model.get_vec_normalize_env() is not None:
            # The statistics are copied from the training env before every evaluation, never updated here
            self.eval_env = VecNormalize(self.eval_env, training=False, norm_reward=False)

    def _on_step(self) -> bool:
        if self.n_calls % calls_between(self.eval_freq, self.training_env) != 0:
            return True
        assert self.eval_env is not None
        if self.model.get_vec_normalize_env() is not None:
            sync_envs_normalization(self.training_env, self.eval_env)
        returns, lengths = evaluate_policy(
            self.model, self.eval_env, n_eval_episodes=self.n_eval_episodes, deterministic=False, return_episode_rewards=True
        )
        self._append(self.num_timesteps, np.asarray(returns, dtype=np.float64), np.asarray(lengths, dtype=np.int64))
        self.logger.record("eval/stochastic_mean_reward", float(np.mean(returns)))
        return True

    def _append(self, timesteps: int, returns: np.ndarray, lengths: np.ndarray) -> None:
        steps, results, ep_lengths = [], [], []
        if self.log_path.exists():
            with np.load(self.log_path) as old:
                steps, results, ep_lengths = list(old["timesteps"]), list(old["results"]), list(old["ep_lengths"])
        # a resumed process re-evaluates from its resume point: drop what a killed process logged after it
        keep = [i for i, step in enumerate(steps) if step < timesteps]
        steps = [steps[i] for i in keep] + [timesteps]
        results = [results[i] for i in keep] + [returns]
        ep_lengths = [ep_lengths[i] for i in keep] + [lengths]
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(self.log_path, timesteps=np.asarray(steps), results=np.stack(results), ep_lengths=np.stack(ep_lengths))

    def _on_training_end(self) -> None:
        if self.eval_env is not None:
            self.eval_env.close()
