"""Builders for tiny dataset layouts (32 x 40 images by default) written into tmp_path."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

HEIGHT, WIDTH = 32, 40


class LayoutBuilder:
    """Writes images and label files under `root`; every method returns the path it wrote."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def image(self, relative: str, array: np.ndarray) -> Path:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(array).save(path)
        return path

    def grey(self, relative: str, size: tuple[int, int] = (HEIGHT, WIDTH), value: int = 90) -> Path:
        array = np.full(size, value, np.uint8)
        array[: size[0] // 2] += 40
        return self.image(relative, array)

    def rgb(self, relative: str, size: tuple[int, int] = (HEIGHT, WIDTH)) -> Path:
        array = np.zeros((*size, 3), np.uint8)
        array[..., 0] = 200
        array[:, : size[1] // 2, 2] = 50
        return self.image(relative, array)

    def pair(
        self,
        ir_dir: str,
        vis_dir: str,
        stem: str,
        size: tuple[int, int] = (HEIGHT, WIDTH),
        ext: str = ".png",
    ) -> tuple[Path, Path]:
        return self.grey(f"{ir_dir}/{stem}{ext}", size), self.rgb(f"{vis_dir}/{stem}{ext}", size)

    def seg(self, relative: str, size: tuple[int, int] = (HEIGHT, WIDTH), value: int = 2) -> Path:
        array = np.zeros(size, np.uint8)
        array[4:10, 5:15] = value
        return self.image(relative, array)

    def text(self, relative: str, content: str) -> Path:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
        return path

    def voc(
        self,
        relative: str,
        objects: Sequence[tuple[str, float, float, float, float]],
        size: tuple[int, int] = (HEIGHT, WIDTH),
    ) -> Path:
        """A VOC XML file with (name, xmin, ymin, xmax, ymax) objects."""
        parts = [
            f"<object><name>{name}</name><difficult>0</difficult><bndbox><xmin>{x1}</xmin>"
            f"<ymin>{y1}</ymin><xmax>{x2}</xmax><ymax>{y2}</ymax></bndbox></object>"
            for name, x1, y1, x2, y2 in objects
        ]
        return self.text(
            relative,
            f"<annotation><filename>{Path(relative).stem}.png</filename><size><width>{size[1]}"
            f"</width><height>{size[0]}</height></size>{''.join(parts)}</annotation>",
        )


@pytest.fixture
def layout(tmp_path: Path) -> LayoutBuilder:
    return LayoutBuilder(tmp_path)
