"""Relative paths in configs resolve under the project or the datasets root, not the cwd."""

from pathlib import Path

from tsjnet_plugin.paths import (
    DATASETS_ENV,
    PROJECT_ROOT,
    datasets_root,
    resolve_dataset_path,
    resolve_project_path,
)


def test_paths_resolve_the_same_from_any_working_directory(tmp_path, monkeypatch):
    monkeypatch.delenv(DATASETS_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    assert (PROJECT_ROOT / "tsjnet_plugin" / "paths.py").is_file()
    config = resolve_project_path("configs/mm/seg_deeplabv3plus_r18_tsj.py")
    assert config.is_file() and config.is_relative_to(PROJECT_ROOT)
    assert datasets_root() == PROJECT_ROOT / "datasets"
    assert resolve_dataset_path("MSRS") == PROJECT_ROOT / "datasets" / "MSRS"
    assert resolve_dataset_path(tmp_path / "x") == tmp_path / "x"  # absolute: as given
    monkeypatch.setenv(DATASETS_ENV, str(tmp_path / "data"))
    assert resolve_dataset_path("MSRS") == tmp_path / "data" / "MSRS"
    assert datasets_root("elsewhere") == Path("elsewhere")  # an explicit root wins
