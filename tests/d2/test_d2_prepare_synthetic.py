"""The synthetic set is written only for configs that use it, and never over a user's folder
(detectron2 builtins and the mm `TSJPairDataset(reader="synthetic")`)."""

from __future__ import annotations

import pytest

from tsjnet_plugin.d2.data import prepare_synthetic
from tsjnet_plugin.data import DatasetError, read_msrs


def test_written_only_when_a_dataset_uses_it(tmp_path):
    assert prepare_synthetic(["msrs_train", "msrs_test"], tmp_path) is None
    assert list(tmp_path.iterdir()) == []  # nothing, not even a temporary folder
    root = prepare_synthetic(["msrs_train", "tsj_synthetic_test"], tmp_path)
    assert root == tmp_path / "synthetic" and len(read_msrs(root, "test")) == 4


def test_a_users_folder_at_the_synthetic_path_is_kept(tmp_path):
    (tmp_path / "synthetic").mkdir()
    (tmp_path / "synthetic" / "notes.txt").write_text("mine")
    with pytest.raises(DatasetError, match=r"synthetic: not an empty folder"):
        prepare_synthetic(["tsj_synthetic_train"], tmp_path)
    assert (tmp_path / "synthetic" / "notes.txt").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["synthetic"]


def test_mm_synthetic_reader_keeps_a_users_folder(tmp_path):
    from tsjnet_plugin.mm import TSJPairDataset

    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(DatasetError, match=r"holds no synthetic\.json"):
        TSJPairDataset(reader="synthetic", data_root=str(tmp_path), split="train")
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]
