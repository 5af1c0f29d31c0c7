"""A segmentation label with a value that is neither a class nor the ignore label fails when the
dataset is indexed (naming the file), not at some training iteration."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from tsjnet_plugin.data import DatasetError, read_msrs, write_synthetic_msrs


def test_bad_label_value_fails_at_indexing(tmp_path):
    root = write_synthetic_msrs(tmp_path / "syn", 3, 1, 32, 40)
    label = root / "train" / "Segmentation_labels" / "00001.png"
    values = np.array(Image.open(label))
    values[0, 0] = 7  # 4 classes: 0..3, ignore 255
    values[0, 1] = 255
    Image.fromarray(values).save(label)
    with pytest.raises(DatasetError, match=r"00001\.png: segmentation values \[7\] are outside"):
        read_msrs(root, "train")
    skipped = read_msrs(root, "train", on_error="skip")
    assert [r.sample_id for r in skipped] == ["00000", "00002"]
    values[0, 0] = 3  # the largest class and the ignore label are fine
    Image.fromarray(values).save(label)
    assert len(read_msrs(root, "train")) == 3
