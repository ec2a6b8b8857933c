"""Graceful stopping of the rl-zoo3 training processes a runner starts: on SIGTERM or SIGINT each process trains on to
its next evaluation step, saves a resume point there and exits, and no further run starts."""

from __future__ import annotations

import signal
import subprocess
import threading
from typing import Any

# The rl-zoo3 processes this process started and that still run (several with --jobs 2, one per worker thread)
_TRAINING_PROCESSES: set[subprocess.Popen] = set()
_TRAINING_PROCESSES_LOCK = threading.RLock()  # re-entrant: the handler may interrupt the main thread holding it
# Set by the signal handler: no run starts once the runner is being stopped; holds the signal's number
_STOP_SIGNAL: list[int] = []
# How long a stopped rl-zoo3 process may take to reach its next evaluation step and save a resume point there
# (10k steps at ~40 steps/s, plus the evaluation) before it is killed
STOP_GRACE_SECONDS = 600.0


def train_process(command: list[str], log: Any) -> int:
    """Run one rl-zoo3 process to its end and return its exit code. If this process is interrupted, the child is
    stopped too: left alone it would keep a core busy for hours with nobody to export its curve."""
    with _TRAINING_PROCESSES_LOCK:  # the handler's snapshot and a start cannot interleave
        raise_if_stopping()
        # Its own session: Ctrl-C in a terminal signals the whole foreground group, and a child that got the
        # terminal's SIGINT and then the forwarded SIGTERM would take the second as "stop at once"
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        _TRAINING_PROCESSES.add(process)
    try:
        return process.wait()
    finally:
        with _TRAINING_PROCESSES_LOCK:
            _TRAINING_PROCESSES.discard(process)
        if process.poll() is None:  # an exception (e.g. Ctrl-C without stop_training_on_signals) ends the wait
            process.terminate()
            _wait_or_kill(process, STOP_GRACE_SECONDS)


def stop_signal() -> int | None:
    """The signal that is stopping the runner, if one is."""
    return _STOP_SIGNAL[0] if _STOP_SIGNAL else None


def raise_if_stopping() -> None:
    if _STOP_SIGNAL:
        raise RuntimeError("stopped by a signal before this run started")


def _wait_or_kill(process: subprocess.Popen, seconds: float) -> None:
    try:
        process.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def stop_training_on_signals() -> None:
    """Make SIGTERM and SIGINT stop the runner gracefully: each running rl-zoo3 process is asked to stop (it
    trains on to its next evaluation step, saves a resume point there and exits, see ``ResumeCheckpointCallback``),
    its curve is exported, and no further run starts. A second signal stops the processes at once; one that has
    not stopped after ``STOP_GRACE_SECONDS`` is killed. The handler does not block: signals reach the main thread
    only, while a suite's runs wait in worker threads."""

    def handler(signum: int, frame: Any) -> None:
        with _TRAINING_PROCESSES_LOCK:
            first = not _STOP_SIGNAL
            if first:
                _STOP_SIGNAL.append(signum)
            processes = list(_TRAINING_PROCESSES)
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        if first:
            print(f"Stopping: {len(processes)} training process(es) save a resume point at their next evaluation step"
                  f" (at most {STOP_GRACE_SECONDS:.0f} s); signal again to stop them at once", flush=True)  # fmt: skip
            for process in processes:
                threading.Thread(target=_wait_or_kill, args=(process, STOP_GRACE_SECONDS), daemon=True).start()

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, handler)
