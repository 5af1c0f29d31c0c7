"""Where relative paths in configs point: never the working directory.

* Files of the project (``MODEL.TSJNET.SEGMENTOR.CONFIG: configs/mm/...``) are relative to the
  project root, the folder that holds the ``tsjnet_plugin`` package and ``configs/``
  (:func:`resolve_project_path`); mm configs name their files with ``{{ fileDirname }}`` or
  ``_base_``, relative to the config file, as mmengine resolves them.
* Datasets are relative to the datasets root: the ``TSJNET_DATASETS`` environment variable, else
  ``datasets/`` in the project root (:func:`datasets_root`, :func:`resolve_dataset_path`), for
  the detectron2 builtin names and for a relative ``data_root`` of ``TSJPairDataset`` alike.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = [
    "DATASETS_ENV",
    "PROJECT_ROOT",
    "datasets_root",
    "resolve_dataset_path",
    "resolve_project_path",
]

DATASETS_ENV = "TSJNET_DATASETS"
PROJECT_ROOT = Path(__file__).resolve().parents[1]

PathLike = str | os.PathLike[str]


def datasets_root(root: PathLike | None = None) -> Path:
    """``root``, else ``$TSJNET_DATASETS``, else ``PROJECT_ROOT/datasets``; ``~`` expanded, a
    relative ``root`` or variable taken as the user gave it (a command-line choice)."""
    if root is None:
        root = os.environ.get(DATASETS_ENV) or PROJECT_ROOT / "datasets"
    return Path(root).expanduser()


def resolve_dataset_path(path: PathLike) -> Path:
    """A dataset folder from a config: absolute (or ``~``) as it is, relative under
    :func:`datasets_root`."""
    path = Path(path).expanduser()
    return path if path.is_absolute() else datasets_root() / path


def resolve_project_path(path: PathLike) -> Path:
    """A file named in a config: absolute (or ``~``) as it is, relative under
    :data:`PROJECT_ROOT`."""
    path = Path(path).expanduser()
    return path if path.is_absolute() else PROJECT_ROOT / path
