"""tools/make_synthetic.py: writes the dataset and its preview grid."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from PIL import Image

from tsjnet_plugin.data import read_msrs

TOOL = Path(__file__).resolve().parents[2] / "tools" / "make_synthetic.py"


def _load_tool():
    spec = importlib.util.spec_from_file_location("make_synthetic", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cli_writes_dataset_and_preview(tmp_path, capsys):
    tool = _load_tool()
    out = tmp_path / "syn"
    argv = ["--out", str(out), "--num-train", "3", "--num-test", "1"]
    argv += ["--height", "40", "--width", "48", "--seed", "3", "--preview-rows", "2"]
    preview = tool.main(argv)
    assert preview == out / "preview.png"
    gap = tool.GAP
    assert Image.open(preview).size == (3 * 48 + 2 * gap, 2 * (40 + gap) - gap)
    assert (len(read_msrs(out, "train")), len(read_msrs(out, "test"))) == (3, 1)
    assert "3 train + 1 test" in capsys.readouterr().out
