"""FusionPredictor under autocast on CUDA: each dtype runs, and the fused 8-bit image stays
within a few gray levels of float32."""

import numpy as np
import pytest

from tsjnet_plugin import build_fusion_model
from tsjnet_plugin.inference import FusionPredictor

pytestmark = pytest.mark.cuda


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_amp_fusion_is_close_to_float32(cuda, dtype):
    model = build_fusion_model("fast", pretrained=True)
    rng = np.random.default_rng(0)
    ir = rng.integers(0, 256, (240, 320), dtype=np.uint8)
    vis = rng.integers(0, 256, (240, 320, 3), dtype=np.uint8)
    reference = FusionPredictor(model, cuda)(ir, vis).gray.astype(int)
    predictor = FusionPredictor(model, cuda, amp=dtype)
    assert predictor.amp_dtype is not None
    fused = predictor(ir, vis).gray.astype(int)
    difference = np.abs(fused - reference)
    assert difference.mean() < 1.0 and difference.max() <= 8, (difference.mean(), difference.max())
