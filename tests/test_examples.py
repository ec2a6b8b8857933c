"""The README's main job runs end to end (on a tiny budget) and writes what it promises."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_pendulum_quickstart_writes_model_and_curve(tmp_path):
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "pendulum_quickstart.py"), "--steps", "4000", "--output", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "expert-normalised return" in result.stdout
    assert (tmp_path / "lsiq_pendulum.zip").stat().st_size > 0
    png = (tmp_path / "learning_curve.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


def test_imitation_pipeline_example_prints_its_table():
    pytest.importorskip("imitation")
    budget = ["--expert-steps", "300", "--lsiq-steps", "300", "--bc-epochs", "1", "--gail-steps", "2000",
              "--reward-sac-steps", "300", "--episodes", "2"]  # fmt: skip
    result = subprocess.run([sys.executable, str(ROOT / "examples" / "imitation_pipeline.py"), *budget],
                            capture_output=True, text=True, timeout=900, check=False)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    table = lines[lines.index("| policy | return (10 episodes) | expert-normalised | wall time |") + 2 :]
    names = [row.split("|")[1].strip() for row in table if row.startswith("| ")]
    assert names == ["expert (SAC)", "LSIQ", "BC", "GAIL", "SAC on LSIQ's reward"]


@pytest.mark.parametrize("form", ["advantage", "recovered"])
def test_reward_transfer_example_prints_its_curve(form, tmp_path):
    pytest.importorskip("imitation")
    saved = tmp_path / "lsiq.zip"
    budget = ["--lsiq-steps", "300", "--sac-steps", "400", "--eval-every", "200", "--form", form, "--save-lsiq", str(saved)]
    result = subprocess.run([sys.executable, str(ROOT / "examples" / "reward_transfer.py"), *budget],
                            capture_output=True, text=True, timeout=600, check=False)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert saved.stat().st_size > 0
    lines = result.stdout.splitlines()
    policies = [line.split(":")[0] for line in lines if line.startswith(("LSIQ's policy:", "Q's greedy policy:"))]
    assert policies == ["LSIQ's policy", "Q's greedy policy"]  # their true returns, before SAC's curve
    curve = [line for line in lines if line.startswith(f"SAC on the {form} reward")]
    assert [line.split(",")[1].split(":")[0].strip() for line in curve] == ["200 steps", "400 steps"]
    assert lines[-1].startswith("random policy (100 episodes): ")
