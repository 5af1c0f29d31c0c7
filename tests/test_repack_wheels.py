"""tools/repack_wheels.py: wheels rebuilt from installed packages install and work (what
tools/gpu_check_prepare.sh carries to a GPU machine without a package registry)."""

import importlib.metadata as md
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_repacked_wheels_install_with_their_files_and_executables(tmp_path):
    wheels, target = tmp_path / "wheels", tmp_path / "target"
    cmd = [sys.executable, str(ROOT / "tools" / "repack_wheels.py"), "--out", str(wheels)]
    cmd += [
        "--import",
        "tabulate",
        "--dists",
        "ninja",
        "--exclude",
        "wcwidth",
    ]  # tabulate imports it
    result = subprocess.run(cmd, capture_output=True, text=True, env=os.environ, timeout=300)
    assert result.returncode == 0, result.stderr
    made = {row["name"]: row for row in map(json.loads, result.stdout.splitlines())}
    assert set(made) == {"tabulate", "ninja"}
    assert made["tabulate"]["file"] == f"tabulate-{md.version('tabulate')}-py3-none-any.whl"
    with zipfile.ZipFile(wheels / made["ninja"]["file"]) as archive:
        names = archive.namelist()
        assert f"ninja-{md.version('ninja')}.data/scripts/ninja" in names  # the binary
        assert not any(n.endswith(".pyc") for n in names)
    with zipfile.ZipFile(wheels / made["tabulate"]["file"]) as archive:
        assert not any(".data/scripts/" in n for n in archive.namelist())  # console script

    pip = [sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    pip += ["--no-index", "--no-deps", "--target", str(target)]
    installed = subprocess.run(
        [*pip, *(str(wheels / row["file"]) for row in made.values())],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert installed.returncode == 0, installed.stderr
    assert os.access(target / "bin" / "ninja", os.X_OK)
    version = subprocess.run(
        [target / "bin" / "ninja", "--version"], capture_output=True, text=True
    )
    assert version.stdout.startswith(md.version("ninja").rsplit(".", 1)[0])
    source = Path(md.distribution("tabulate").locate_file("tabulate"))
    copied = target / "tabulate"
    assert sorted(p.name for p in copied.glob("*.py")) == sorted(
        p.name for p in source.glob("*.py")
    )
    assert all((copied / p.name).read_bytes() == p.read_bytes() for p in source.glob("*.py"))
