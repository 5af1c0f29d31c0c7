"""docs/errors.md as a test table: every bad input a user can give a tool gets one line naming the
file or key and the fix, exit status 2, no traceback, before any model work; nothing is written.

The tools run in this process (`runpy`, as `python tools/X.py` would), so the table costs
seconds; `test_exit_status_from_a_real_process` checks one case through a real process."""

from __future__ import annotations

import json
import os
import runpy
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tsjnet_plugin.tool_errors import USAGE_EXIT

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "errors.md"


def _pairs(root: Path, size: tuple[int, int] = (40, 48), vis_size: tuple[int, int] | None = None):
    """root/ir/a.png and root/vi/a.png (8-bit random), sizes HxW."""
    rng = np.random.default_rng(0)
    for sub, shape in (("ir", size), ("vi", (*(vis_size or size), 3))):
        (root / sub).mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8)).save(root / sub / "a.png")
    return root


class Case:
    """One row of docs/errors.md: the tool, its arguments (built in a fresh folder) and the text
    its error line must hold."""

    def __init__(
        self,
        tool: str,
        build: Callable[[Path], list[str]],
        expected: str,
        env: dict[str, str] | None = None,
    ):
        self.tool, self.build, self.expected, self.env = tool, build, expected, env or {}


def _random_bytes(path: Path) -> str:
    path.write_bytes(np.random.default_rng(1).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    return str(path)


def _fuse_list(t: Path, lines: str) -> list[str]:
    d = _pairs(t / "d")
    (t / "pairs.txt").write_text(lines.format(ir=d / "ir" / "a.png", vi=d / "vi" / "a.png"))
    return ["--list", str(t / "pairs.txt"), "--out", str(t / "out")]


def _fuse_into(t: Path, manifest: dict | None) -> list[str]:
    d = _pairs(t / "d")
    (t / "out" / "gray").mkdir(parents=True)
    (t / "out" / "gray" / "a.png").write_bytes(b"old result")
    if manifest is not None:
        (t / "out" / "fuse_manifest.json").write_text(json.dumps(manifest))
    return ["--ir", str(d / "ir"), "--vis", str(d / "vi"), "--out", str(t / "out")]


def _fuse_same_stem(t: Path) -> list[str]:
    d = _pairs(t / "d")
    (d / "ir" / "a.jpg").write_bytes((d / "ir" / "a.png").read_bytes())
    return ["--ir", str(d / "ir"), "--vis", str(d / "vi"), "--out", str(t / "o")]


def _user_folder(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "mine.txt").write_text("user data")
    return folder


DEMO_CFG = str(ROOT / "configs" / "tsj_faster_rcnn_demo_cpu.yaml")
MM_CFG = str(ROOT / "configs" / "mm" / "deeplabv3plus_r18-d8_tsj-fast_synthetic-96x128.py")

CASES: dict[str, Case] = {
    # tools/fuse.py
    "fuse-missing-input": Case(
        "fuse",
        lambda t: ["--ir", str(t / "nope"), "--vis", str(_pairs(t) / "vi"), "--out", str(t / "o")],
        "--ir {t}/nope does not exist",
    ),
    "fuse-folder-and-file": Case(
        "fuse",
        lambda t: [
            *("--ir", str(_pairs(t) / "ir"), "--vis", str(t / "vi" / "a.png")),
            *("--out", str(t / "o")),
        ],
        "must both be folders or both files",
    ),
    "fuse-out-is-a-file": Case(
        "fuse",
        lambda t: [
            *("--ir", str(_pairs(t) / "ir"), "--vis", str(t / "vi")),
            *("--out", str(_pairs(t) / "ir" / "a.png")),
        ],
        "is a file; give a folder",
    ),
    "fuse-list-missing": Case(
        "fuse", lambda t: ["--list", str(t / "no.txt"), "--out", str(t / "o")], "does not exist"
    ),
    "fuse-list-bad-line": Case(
        "fuse", lambda t: _fuse_list(t, "{ir}\n"), "pairs.txt:1: expected 'IR_PATH VIS_PATH'"
    ),
    "fuse-list-same-stem": Case(
        "fuse", lambda t: _fuse_list(t, "{ir} {vi}\n{ir} {vi}\n"), "same output name 'a'"
    ),
    "fuse-folder-same-stem": Case(
        "fuse",
        _fuse_same_stem,
        "2 infrared images share the stem 'a'",
    ),
    "fuse-out-over-inputs": Case(
        "fuse",
        lambda t: [
            *("--ir", str(_pairs(t).joinpath("ir").rename(t / "gray") / "a.png")),
            *("--vis", str(t / "vi" / "a.png"), "--out", str(t)),
        ],
        "refusing to overwrite input image {t}/gray/a.png",
    ),
    "fuse-size-mismatch": Case(
        "fuse",
        lambda t: [
            *("--ir", str(_pairs(t, vis_size=(40, 50)) / "ir" / "a.png")),
            *("--vis", str(t / "vi" / "a.png"), "--out", str(t / "o")),
        ],
        "pair same-size images",
    ),
    "fuse-checkpoint-missing": Case(
        "fuse",
        lambda t: [
            *("--ir", str(_pairs(t) / "ir"), "--vis", str(t / "vi"), "--out", str(t / "o")),
            *("--checkpoint", str(t / "none.pth")),
        ],
        "checkpoint not found",
    ),
    "fuse-checkpoint-random-bytes": Case(
        "fuse",
        lambda t: [
            *("--ir", str(_pairs(t) / "ir"), "--vis", str(t / "vi"), "--out", str(t / "o")),
            *("--checkpoint", _random_bytes(t / "junk.pth")),
        ],
        "cannot read checkpoint {t}/junk.pth",
    ),
    "fuse-batch-size-zero": Case(
        "fuse",
        lambda t: [
            *("--ir", str(_pairs(t) / "ir"), "--vis", str(t / "vi"), "--out", str(t / "o")),
            *("--batch-size", "0"),
        ],
        "must be at least 1",
    ),
    "fuse-other-weights-in-out": Case(
        "fuse",
        lambda t: _fuse_into(t, {"weights": "/elsewhere/other.pth", "sha256": "0"}),
        "holds results of other weights (/elsewhere/other.pth",
    ),
    "fuse-results-without-manifest": Case(
        "fuse", lambda t: _fuse_into(t, None), "holds results without fuse_manifest.json"
    ),
    # tools/train_net.py
    "train_net-config-missing": Case(
        "train_net", lambda t: ["--config-file", str(t / "no.yaml")], "does not exist"
    ),
    "train_net-unknown-key": Case(
        "train_net",
        lambda t: ["--config-file", DEMO_CFG, "SOLVER.MAX_ITRE", "3"],
        "Non-existent key: SOLVER.MAX_ITRE",
    ),
    "train_net-odd-overrides": Case(
        "train_net",
        lambda t: ["--config-file", DEMO_CFG, "SOLVER.MAX_ITER"],
        "overrides must be KEY VALUE pairs",
    ),
    "train_net-foreign-synthetic-folder": Case(
        "train_net",
        lambda t: [
            *("--config-file", DEMO_CFG, "OUTPUT_DIR", str(t / "run")),
            *(
                "DATASETS.TRAIN",
                f"('tsj_synthetic_train',)  # {_user_folder(t / 'd' / 'synthetic')}",
            ),
        ],
        "holds no synthetic.json",
        env={"TSJNET_DATASETS": "{t}/d"},
    ),
    "train_net-dataset-folder-missing": Case(
        "train_net",
        lambda t: ["--config-file", str(ROOT / "configs" / "tsj_faster_rcnn_msrs.yaml")],
        "dataset msrs_train: {t}/d/MSRS does not exist",
        env={"TSJNET_DATASETS": "{t}/d"},
    ),
    "train_net-weights-missing": Case(
        "train_net",
        lambda t: ["--config-file", DEMO_CFG, "--eval-only", "MODEL.WEIGHTS", str(t / "no.pth")],
        "MODEL.WEIGHTS {t}/no.pth does not exist",
    ),
    # tools/train_mm.py
    "train_mm-config-missing": Case(
        "train_mm", lambda t: [str(t / "no.py")], "No such file or directory: '{t}/no.py'"
    ),
    "train_mm-resume-missing": Case(
        "train_mm",
        lambda t: [MM_CFG, "--resume", str(t / "none.pth"), "--work-dir", str(t / "w")],
        "checkpoint {t}/none.pth (load_from / --resume) does not exist",
    ),
    "test_mm-checkpoint-missing": Case(
        "test_mm",
        lambda t: [MM_CFG, str(t / "none.pth"), "--work-dir", str(t / "w")],
        "checkpoint {t}/none.pth (load_from / --resume) does not exist",
    ),
    # tools/train_fusion.py
    "train_fusion-bad-dataset-spec": Case(
        "train_fusion", lambda t: ["--dataset", "msrs", "--out", str(t / "o")], "READER:ROOT"
    ),
    "train_fusion-ir-without-vis": Case(
        "train_fusion",
        lambda t: ["--ir", str(_pairs(t) / "ir"), "--out", str(t / "o")],
        "give them in pairs",
    ),
    "train_fusion-init-random-bytes": Case(
        "train_fusion",
        lambda t: [
            *("--ir", str(_pairs(t) / "ir"), "--vis", str(t / "vi")),
            *("--val-ir", str(t / "ir"), "--val-vis", str(t / "vi")),
            *("--init", _random_bytes(t / "junk.pth"), "--out", str(t / "o")),
        ],
        "cannot read checkpoint {t}/junk.pth",
    ),
    # tools/eval_fusion.py
    "eval_fusion-names-mismatch": Case(
        "eval_fusion",
        lambda t: [
            *("--ir", str(_pairs(t) / "ir"), "--vis", str(t / "vi"), "--fused", str(t / "ir")),
            *("--name", "a", "--name", "b", "--out", str(t / "res")),
        ],
        "give one per folder",
    ),
    # tools/make_synthetic.py
    "make_synthetic-too-small": Case(
        "make_synthetic", lambda t: ["--out", str(t / "s"), "--height", "16"], "at least 32x32"
    ),
    "make_synthetic-user-folder": Case(
        "make_synthetic",
        lambda t: ["--out", str(_user_folder(t / "mine"))],
        "holds no synthetic.json; refusing",
    ),
    # tools/demo.py
    "demo-config-missing": Case(
        "demo",
        lambda t: ["--out", str(t / "o"), "--config-file", str(t / "no.yaml")],
        "does not exist",
    ),
    "demo-out-is-a-file": Case(
        "demo", lambda t: ["--out", str(_user_folder(t / "u") / "mine.txt")], "is a file"
    ),
}


_OUR_DATASETS = ("tsj_", "msrs_", "m3fd", "llvip_")


def _run_tool(tool: str, argv: list[str], capsys, monkeypatch) -> tuple[int, str]:
    """Run tools/<tool>.py as __main__ here. Our builtin datasets that earlier tests registered
    (with their own roots) are set aside meanwhile; what the tool registers is removed after."""
    catalog = sys.modules.get("detectron2.data")
    set_aside = {}
    for name in catalog.DatasetCatalog.list() if catalog else ():
        if name.startswith(_OUR_DATASETS):
            set_aside[name] = (catalog.DatasetCatalog[name], catalog.MetadataCatalog.get(name))
            catalog.DatasetCatalog.remove(name)
            catalog.MetadataCatalog.remove(name)
    registered = set(catalog.DatasetCatalog.list()) if catalog else set()
    monkeypatch.setattr(sys, "argv", [f"tools/{tool}.py", *argv])
    try:
        with pytest.raises(SystemExit) as exit_info:
            runpy.run_path(str(ROOT / "tools" / f"{tool}.py"), run_name="__main__")
    finally:
        catalog = sys.modules.get("detectron2.data")
        for name in set(catalog.DatasetCatalog.list()) - registered if catalog else ():
            catalog.DatasetCatalog.remove(name)
            catalog.MetadataCatalog.remove(name)
        for name, (loader, metadata) in set_aside.items():
            catalog.DatasetCatalog.register(name, loader)
            catalog.MetadataCatalog.get(name).set(**metadata.as_dict())
    code = exit_info.value.code
    return (code if isinstance(code, int) else 1), capsys.readouterr().err


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_input_gets_one_line_and_exit_2(name, tmp_path, capsys, monkeypatch):
    case = CASES[name]
    argv = case.build(tmp_path)
    for key, value in case.env.items():
        monkeypatch.setenv(key, value.format(t=tmp_path))
    before = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")}
    code, err = _run_tool(case.tool, argv, capsys, monkeypatch)
    lines = [line for line in err.splitlines() if "error:" in line]
    assert code == USAGE_EXIT, err
    assert "Traceback" not in err and len(lines) == 1, err
    assert case.expected.format(t=tmp_path) in lines[0], err
    assert "weights_only" not in err
    after = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")}
    assert after == before, "an erroring tool wrote or changed files"


def test_every_case_is_documented():
    documented = DOC.read_text()
    missing = [name for name in CASES if f"`{name}`" not in documented]
    assert not missing, f"docs/errors.md lacks rows for {missing}"
    assert len(CASES) >= 20


def test_train_net_random_bytes_weights(tmp_path, capsys, monkeypatch):
    """After the model is built: detectron2's loader, with our one-line error."""
    argv = ["--config-file", DEMO_CFG, "--eval-only", "OUTPUT_DIR", str(tmp_path / "run")]
    argv += ["MODEL.TSJNET.ARCH", "tiny", "MODEL.TSJNET.WEIGHTS", ""]
    argv += ["MODEL.WEIGHTS", _random_bytes(tmp_path / "junk.pth")]
    monkeypatch.setenv("TSJNET_DATASETS", str(tmp_path / "datasets"))
    code, err = _run_tool("train_net", argv, capsys, monkeypatch)
    assert code == USAGE_EXIT and "Traceback" not in err and "weights_only" not in err
    assert f"train_net: error: cannot read checkpoint {tmp_path}/junk.pth" in err


def test_exit_status_from_a_real_process(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    argv = CASES["fuse-checkpoint-random-bytes"].build(tmp_path)
    result = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "fuse.py"), *argv],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert result.returncode == USAGE_EXIT
    assert result.stderr.strip().splitlines()[-1].startswith("fuse: error: cannot read checkpoint")
