"""tools/setup_env.sh (`make setup`): what it says at each step, the heartbeat during long steps,
the fix printed on failure, and a check-only mode that installs nothing. A fake `python` stands in
for the venv's interpreter, so nothing is installed and the test takes seconds."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "tools" / "setup_env.sh"
STEPS = ("torch", "mmcv", "openmmlab", "detectron2", "tsjnet_plugin")


def fake_venv(tmp_path: Path, body: str) -> Path:
    """A venv whose bin/python logs its arguments to calls.log and then runs ``body``."""
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    python = venv / "bin" / "python"
    python.write_text(f'#!/bin/sh\necho "$@" >> {tmp_path}/calls.log\n{body}\n')
    python.chmod(0o755)
    return venv


def run_setup(venv: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(SCRIPT)],
        env={**os.environ, "VENV": str(venv), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_script_parses():
    assert subprocess.run(["bash", "-n", str(SCRIPT)]).returncode == 0


def test_check_mode_reports_every_step_and_installs_nothing(tmp_path):
    venv = fake_venv(tmp_path, "exit 1")  # every "is it installed?" check fails
    result = run_setup(venv, SETUP_CHECK="1")
    assert result.returncode == 0, result.stderr
    for step in STEPS:
        assert re.search(rf"\[{step}\] missing: would (install|build)", result.stdout), step
    assert "check only: 5 step(s) to do" in result.stdout
    calls = (tmp_path / "calls.log").read_text().splitlines()
    assert calls == ["-"] * 5  # only the checks ran: no pip

    done = run_setup(fake_venv(tmp_path / "ok", "exit 0"), SETUP_CHECK="1")
    assert done.returncode == 0 and "check only: 0 step(s) to do" in done.stdout
    assert "[mmcv] mmcv 2.1.0 with ops present" in done.stdout


def test_heartbeat_during_a_long_command(tmp_path):
    script = f"""
source {SCRIPT}
with_heartbeat "[mmcv] compiling" sleep 2.6
with_heartbeat "[x] failing" sh -c "exit 3" || echo "status $?"
"""
    result = subprocess.run(
        ["bash", "-c", script],
        env={**os.environ, "HEARTBEAT_SECONDS": "1"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    beats = re.findall(r"\[mmcv\] compiling: still working, 0m0(\d)s elapsed", result.stdout)
    assert beats[:2] == ["1", "2"], result.stdout
    assert re.search(r"\[mmcv\] compiling: done in 0m0[23]s", result.stdout)
    assert "status 3" in result.stdout and "[x] failing: done" not in result.stdout


def test_a_failing_step_prints_its_fix(tmp_path):
    # The checks fail (nothing installed) and so does pip: the torch step fails.
    venv = fake_venv(tmp_path, "exit 1")
    result = run_setup(venv, HEARTBEAT_SECONDS="1")
    assert result.returncode == 1
    assert "[torch] install torch 2.14.1" in result.stdout
    assert "step failed: torch (exit 1)" in result.stderr
    assert "fix: check that the package registry is reachable" in result.stderr

    missing_python = run_setup(tmp_path / "none", PYTHON=str(tmp_path / "no-python"))
    assert missing_python.returncode != 0
    assert "step failed: venv" in missing_python.stderr
    assert "fix: install Python 3.11" in missing_python.stderr
