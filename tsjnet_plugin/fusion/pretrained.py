"""Fusion weights shipped inside the package, loadable by name: one record per file.

A checkpoint argument anywhere in the project (``load_checkpoint``, ``tools/fuse.py
--checkpoint``, ``MODEL.TSJNET.WEIGHTS``, ``fusion=dict(checkpoint=...)``) may be a file path or
one of the names in :data:`PRETRAINED`; :func:`resolve_weights` turns it into a path.
``build_fusion_model(arch, pretrained=True)`` loads the record of that arch marked ``default``
(:data:`DEFAULT_WEIGHTS` is derived from the records). Model cards: ``docs/model_zoo.md``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["DEFAULT_WEIGHTS", "PRETRAINED", "PretrainedWeights", "resolve_weights"]

WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"


@dataclass(frozen=True)
class PretrainedWeights:
    """One shipped checkpoint.

    Attributes:
        name: the name it is loaded by.
        arch: the preset of :data:`tsjnet_plugin.fusion.ARCHS` it was trained for.
        filename: the file in ``tsjnet_plugin/weights/``.
        sha256: the file's SHA-256 (hex), checked by the tests.
        summary: what it was trained on.
        card: the model card's anchor in ``docs/model_zoo.md``.
        default: what ``build_fusion_model(arch, pretrained=True)`` loads (one per arch).
    """

    name: str
    arch: str
    filename: str
    sha256: str
    summary: str
    card: str
    default: bool = False

    @property
    def path(self) -> Path:
        return WEIGHTS_DIR / self.filename


PRETRAINED: dict[str, PretrainedWeights] = {
    w.name: w
    for w in (
        PretrainedWeights(
            name="tsjnet_fast_roadscene",
            arch="fast",
            filename="tsjnet_fast_roadscene.pth",
            sha256="53c521bc4d4dd4e6c12d6300da22e6e8ec9bc0e556ed8a46fe3e1e18c80a4524",
            summary="fast arch, fusion loss only, 154 RoadScene + 3 MSRS pairs (CPU)",
            card="model-card-tsjnet_fast_roadscene",
            default=True,
        ),
    )
}
# arch -> the shipped weights `build_fusion_model(arch, pretrained=True)` loads.
DEFAULT_WEIGHTS: dict[str, str] = {w.arch: w.name for w in PRETRAINED.values() if w.default}


def resolve_weights(name_or_path: str | os.PathLike) -> Path:
    """The file of a shipped checkpoint name, or ``name_or_path`` itself as a path.

    Raises:
        FileNotFoundError: neither a shipped name nor an existing file; the message lists the
            shipped names.
    """
    key = os.fspath(name_or_path)
    if key in PRETRAINED:
        path = PRETRAINED[key].path
        if not path.is_file():
            raise FileNotFoundError(
                f"shipped weights {key!r} are missing from the installation ({path}); "
                "reinstall tsjnet_plugin"
            )
        return path
    path = Path(key).expanduser()
    if not path.is_file():
        raise FileNotFoundError(
            f"checkpoint not found: {key} (neither a file nor a shipped name; shipped: "
            f"{sorted(PRETRAINED)})"
        )
    return path
