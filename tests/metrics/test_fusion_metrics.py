"""Tests of tsjnet_plugin.metrics: hand-worked values, properties, reference values, errors."""

import math

import numpy as np
import pytest
import torch

from tsjnet_plugin.metrics import (
    METRIC_NAMES,
    METRIC_OPTIONS,
    average_gradient,
    correlation_coefficient,
    correlation_of_differences,
    edge_preservation,
    entropy,
    evaluate_fusion,
    mean_squared_error,
    mutual_information,
    mutual_information_score,
    peak_signal_to_noise_ratio,
    spatial_frequency,
    ssim_index,
    standard_deviation,
    structural_similarity,
    vifp,
    visual_information_fidelity,
)

# Q^{AB/F} sigmoid constants (Xydeas & Petrovic), restated here on purpose.
TG, KG, DG, TA, KA, DA = 0.9994, -15.0, 0.5, 0.9879, -22.0, 0.8

# Values of the reference evaluator (MMIF-CDDFuse utils/Evaluator.py, its skimage SSIM call
# with data_range=2 as scikit-image 0.19 guesses it for float32) on `reference_triplet()` read
# as float32, computed with scipy 1.17, scikit-image 0.26, scikit-learn 1.9.
REFERENCE_VALUES = {
    "EN": 7.639603216810434,
    "SD": 51.96500778198242,
    "SF": 75.28562927246094,
    "AG": 25.41958999633789,
    "MI": 5.411942336574006,
    "SCD": 1.416910171508789,
    "VIF": 0.24308204584637622,
    "Qabf": 0.35763055086135864,
    "SSIM": 1.1109910300896293,
    "PSNR": 13.552851676940918,
    "CC": 0.7056076526641846,
    "MSE": 2758.00390625,
}


def reference_triplet() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Deterministic 48x56 (fused, ir, vis) with texture, ramps and a flat block."""
    y, x = np.mgrid[0:48, 0:56]
    ir = (x * x + 3 * y * y) % 256
    ir[10:30, 5:25] = 200
    vis = (7 * x + 11 * y + (x * y) % 29) % 256
    fused = (ir + vis) // 2
    return fused.astype(np.float32), ir.astype(np.float32), vis.astype(np.float32)


def random_image(rng: np.random.Generator, shape=(16, 16)) -> np.ndarray:
    return rng.integers(0, 256, shape).astype(np.float64)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


# --- reference values -------------------------------------------------------------------------


def test_all_metrics_match_reference_evaluator():
    scores = evaluate_fusion(*reference_triplet())
    assert list(scores) == list(METRIC_NAMES)
    for name, expected in REFERENCE_VALUES.items():
        assert scores[name] == pytest.approx(expected, rel=1e-6), name


# --- EN ---------------------------------------------------------------------------------------


def test_entropy_hand_values():
    assert entropy(np.array([[0, 0], [255, 255]])) == pytest.approx(1.0)
    assert entropy(np.array([[0, 1], [2, 3]])) == pytest.approx(2.0)
    p = np.array([0.75, 0.25])
    assert entropy(np.array([[7, 7], [7, 9]])) == pytest.approx(-(p * np.log2(p)).sum())
    assert entropy(np.array([[0, 1], [2, 3]]), base=math.e) == pytest.approx(math.log(4))


def test_entropy_rounds_to_gray_levels_half_to_even():
    # 0.4 -> 0, 0.5 -> 0, 1.5 -> 2, 2.4 -> 2: two levels, two pixels each.
    assert entropy(np.array([[0.4, 0.5], [1.5, 2.4]])) == pytest.approx(1.0)


def test_entropy_of_constant_is_zero():
    assert entropy(np.full((5, 4), 37.0)) == 0.0


# --- SD ---------------------------------------------------------------------------------------


def test_standard_deviation_is_population():
    # mean 3, squared deviations 9, 1, 1, 9 -> variance 20 / 4.
    assert standard_deviation(np.array([[0, 2], [4, 6]])) == pytest.approx(math.sqrt(5))
    assert standard_deviation(np.full((3, 3), 200)) == 0.0


# --- SF ---------------------------------------------------------------------------------------


def test_spatial_frequency_hand_values():
    ramp = np.tile(10.0 * np.arange(4), (3, 1))  # 3x4, horizontal steps of 10
    # 9 horizontal differences of 10 averaged over themselves (not over 12 pixels): RF^2 = 100.
    assert spatial_frequency(ramp) == pytest.approx(10.0)
    # [[0, 3], [4, 0]]: row diffs 3, -4; column diffs 4, -3 -> sqrt(12.5 + 12.5).
    assert spatial_frequency(np.array([[0, 3], [4, 0]])) == pytest.approx(5.0)
    assert spatial_frequency(np.full((4, 4), 9.0)) == 0.0


# --- AG ---------------------------------------------------------------------------------------


def test_average_gradient_plane():
    y, x = np.mgrid[0:4, 0:5]
    plane = 3.0 * y + 4.0 * x  # Gx = 4, Gy = 3 everywhere, both difference schemes
    for difference in ("central", "forward"):
        assert average_gradient(plane, difference=difference) == pytest.approx(5 / math.sqrt(2))


def test_average_gradient_central_versus_forward():
    cubic = np.tile(np.arange(4.0) ** 3, (3, 1))  # rows 0, 1, 8, 27
    # central (one-sided at the ends): 1, (8-0)/2, (27-1)/2, 19 -> mean 9.25
    assert average_gradient(cubic) == pytest.approx(9.25 / math.sqrt(2))
    # forward over (H-1) x (W-1): 1, 7, 19 -> mean 9
    assert average_gradient(cubic, difference="forward") == pytest.approx(9 / math.sqrt(2))
    assert average_gradient(np.full((4, 4), 50.0)) == 0.0


# --- MI ---------------------------------------------------------------------------------------


def _mi_by_counting(a: np.ndarray, b: np.ndarray) -> float:
    """Plug-in mutual information in nats from explicit pair counts."""
    pairs = list(zip(a.ravel().tolist(), b.ravel().tolist()))
    n = len(pairs)
    joint = {pair: pairs.count(pair) / n for pair in set(pairs)}
    pa = {v: a.ravel().tolist().count(v) / n for v in set(a.ravel().tolist())}
    pb = {v: b.ravel().tolist().count(v) / n for v in set(b.ravel().tolist())}
    return sum(p * math.log(p / (pa[u] * pb[v])) for (u, v), p in joint.items())


def test_mutual_information_hand_values():
    a = np.array([[0, 1, 1], [0, 1, 0]])
    b = np.array([[0, 1, 0], [0, 1, 1]])
    # joint counts 2, 2, 1, 1 over 6 pixels, uniform marginals: (2/3) ln(4/3) + (1/3) ln(2/3)
    expected = 2 / 3 * math.log(4 / 3) + 1 / 3 * math.log(2 / 3)
    assert mutual_information_score(a, b) == pytest.approx(expected)
    assert mutual_information_score(a, b, base=2) == pytest.approx(expected / math.log(2))
    independent = (np.array([[0, 0], [9, 9]]), np.array([[0, 9], [0, 9]]))
    assert mutual_information_score(*independent) == pytest.approx(0.0, abs=1e-15)


def test_mutual_information_counts_and_sums_both_sources(rng):
    fused, ir, vis = (rng.integers(0, 4, (6, 5)).astype(float) for _ in range(3))
    expected = _mi_by_counting(fused, ir) + _mi_by_counting(fused, vis)
    assert mutual_information(fused, ir, vis) == pytest.approx(expected)


def test_mutual_information_of_image_with_itself_is_its_entropy(rng):
    image = random_image(rng)
    assert mutual_information(image, image, image, base=2) == pytest.approx(2 * entropy(image))
    assert mutual_information_score(image, image) == pytest.approx(entropy(image, base=math.e))
    assert mutual_information_score(np.full((4, 4), 3.0), image[:4, :4]) == 0.0


# --- SCD, CC ----------------------------------------------------------------------------------


def test_scd_hand_values(rng):
    ir, vis = rng.integers(0, 128, (2, 6, 6)).astype(float)
    # F = IR + VIS: F - VIS = IR and F - IR = VIS, both correlations are 1.
    assert correlation_of_differences(ir + vis, ir, vis) == pytest.approx(2.0)
    fused = random_image(rng, (6, 6))
    expected = (
        np.corrcoef(ir.ravel(), (fused - vis).ravel())[0, 1]
        + np.corrcoef(vis.ravel(), (fused - ir).ravel())[0, 1]
    )
    assert correlation_of_differences(fused, ir, vis) == pytest.approx(expected)


def test_correlation_coefficient(rng):
    image = random_image(rng, (5, 5))
    assert correlation_coefficient(image, image, image) == pytest.approx(1.0)
    assert correlation_coefficient(image, image, 255 - image) == pytest.approx(0.0, abs=1e-12)
    ir, vis = random_image(rng, (5, 5)), random_image(rng, (5, 5))
    expected = (
        np.corrcoef(ir.ravel(), image.ravel())[0, 1] + np.corrcoef(vis.ravel(), image.ravel())[0, 1]
    ) / 2
    assert correlation_coefficient(image, ir, vis) == pytest.approx(expected)
    assert math.isnan(correlation_coefficient(np.full((5, 5), 4.0), ir, vis))


# --- MSE, PSNR --------------------------------------------------------------------------------


def test_mse_and_psnr_hand_values():
    zeros = np.zeros((2, 2))
    assert mean_squared_error(zeros, np.full((2, 2), 2.0), np.full((2, 2), 4.0)) == 10.0
    fused = np.array([[10.0, 0], [0, 0]])
    vis = fused + np.array([[0, 0], [0, 2.0]])
    # MSE = (0 + 4 / 4) / 2 = 0.5; the reference's peak is max(F) = 10.
    assert peak_signal_to_noise_ratio(fused, fused, vis) == pytest.approx(10 * math.log10(200))
    expected_255 = 10 * math.log10(255**2 / 0.5)
    assert peak_signal_to_noise_ratio(fused, fused, vis, peak=255.0) == pytest.approx(expected_255)


def test_psnr_of_identical_images_is_inf(rng):
    image = random_image(rng)
    assert peak_signal_to_noise_ratio(image, image, image) == math.inf
    assert mean_squared_error(image, image, image) == 0.0


# --- SSIM -------------------------------------------------------------------------------------


def _ssim_by_windows(a: np.ndarray, b: np.ndarray, data_range: float) -> float:
    """Mean SSIM over every 7x7 window lying inside the image, sample (co)variances."""
    values = []
    for i in range(a.shape[0] - 6):
        for j in range(a.shape[1] - 6):
            x, y = a[i : i + 7, j : j + 7].ravel(), b[i : i + 7, j : j + 7].ravel()
            mx, my = x.mean(), y.mean()
            vx, vy = x.var(ddof=1), y.var(ddof=1)
            cxy = np.cov(x, y)[0, 1]
            c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
            values.append(
                (2 * mx * my + c1) * (2 * cxy + c2) / ((mx**2 + my**2 + c1) * (vx + vy + c2))
            )
    return float(np.mean(values))


@pytest.mark.parametrize("shape", [(7, 7), (9, 12)])
@pytest.mark.parametrize("data_range", [2.0, 255.0])
def test_ssim_equals_mean_over_inner_windows(rng, shape, data_range):
    a, b = random_image(rng, shape), random_image(rng, shape)
    expected = _ssim_by_windows(a, b, data_range)
    got = ssim_index(a, b, data_range=data_range, precision="float64")
    assert got == pytest.approx(expected, rel=1e-10)
    assert ssim_index(a, b, data_range=data_range) == pytest.approx(expected, rel=1e-4)


def test_ssim_of_image_with_itself_is_one(rng):
    image = random_image(rng, (10, 9))
    assert ssim_index(image, image) == 1.0
    assert structural_similarity(image, image, image) == 2.0
    assert structural_similarity(image, image, image, data_range=255.0) == 2.0


# --- VIF --------------------------------------------------------------------------------------


def test_vif_properties(rng):
    image = rng.integers(0, 101, (41, 44)).astype(float)
    assert visual_information_fidelity(image, image, image) == pytest.approx(2.0, abs=1e-9)
    # A brightness offset keeps every local variance and covariance: VIFp stays 1.
    assert vifp(image, image + 50) == pytest.approx(1.0, abs=1e-9)
    # Doubling contrast gives gain 2 without noise: more information than the reference.
    assert vifp(image, 2 * image) > 1.2
    # Undefined (no variance anywhere) is reported as 1, as the reference does.
    assert vifp(np.full((41, 41), 9.0), np.full((41, 41), 9.0)) == 1.0
    noisy = np.clip(image + rng.normal(0, 20, image.shape), 0, 255)
    assert 0.0 < vifp(image, noisy) < 1.0


# --- Qabf -------------------------------------------------------------------------------------


def _sobel_by_loops(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sobel (Sx, Sy) by explicit zero-padded correlation with the 180-degree-rotated kernels."""
    padded = np.pad(image, 1)
    kx = -np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]])
    ky = -np.array([[1, 2, 1], [0, 0, 0], [-1, -2, -1]])
    sx, sy = np.zeros_like(image), np.zeros_like(image)
    for i in range(image.shape[0]):
        for j in range(image.shape[1]):
            sx[i, j] = (padded[i : i + 3, j : j + 3] * kx).sum()
            sy[i, j] = (padded[i : i + 3, j : j + 3] * ky).sum()
    return sx, sy


def _qabf_by_loops(fused, ir, vis, paper: bool) -> float:
    def strength_angle(image):
        sx, sy = _sobel_by_loops(image)
        angle = np.array(
            [math.pi / 2 if x == 0 else math.atan(y / x) for x, y in zip(sx.ravel(), sy.ravel())]
        )
        return np.hypot(sx, sy).ravel(), angle

    gf, af = strength_angle(fused)
    num = den = 0.0
    for source in (ir, vis):
        gs, as_ = strength_angle(source)
        for g_s, a_s, g_f, a_f in zip(gs, as_, gf, af):
            if g_s == g_f:
                ratio = 1.0 if paper else g_f
            else:
                ratio = min(g_s, g_f) / max(g_s, g_f)
            align = 1 - abs(a_s - a_f) / (math.pi / 2)
            q = TG / (1 + math.exp(KG * (ratio - DG))) * TA / (1 + math.exp(KA * (align - DA)))
            num += q * g_s
            den += g_s
    return num / den


@pytest.mark.parametrize("gradient_ratio", ["reference", "paper"])
def test_qabf_equals_loop_formula(rng, gradient_ratio):
    fused, ir, vis = (random_image(rng, (5, 6)) for _ in range(3))
    ir[1:3, 1:4] = fused[1:3, 1:4]  # some pixels with equal gradient strength
    expected = _qabf_by_loops(fused, ir, vis, paper=gradient_ratio == "paper")
    got = edge_preservation(fused, ir, vis, gradient_ratio=gradient_ratio)
    assert got == pytest.approx(expected, rel=1e-12)


def test_qabf_of_image_with_itself(rng):
    image = random_image(rng, (6, 6))
    perfect = TG / (1 + math.exp(KG * (1 - DG))) * TA / (1 + math.exp(KA * (1 - DA)))
    assert edge_preservation(image, image, image, gradient_ratio="paper") == pytest.approx(perfect)
    # The reference uses the fused strength (>= 1 on gray levels) as the ratio: a bit higher.
    assert perfect < edge_preservation(image, image, image) <= TG * TA


# --- evaluate_fusion and inputs ---------------------------------------------------------------


def test_evaluate_fusion_order_subset_and_options():
    fused, ir, vis = reference_triplet()
    scores = evaluate_fusion(fused, ir, vis, metrics=("SSIM", "EN"), SSIM={"data_range": 255.0})
    assert list(scores) == ["SSIM", "EN"]
    assert scores["SSIM"] == pytest.approx(structural_similarity(fused, ir, vis, data_range=255.0))
    assert scores["SSIM"] != pytest.approx(REFERENCE_VALUES["SSIM"], rel=1e-3)
    assert scores["EN"] == pytest.approx(REFERENCE_VALUES["EN"])
    assert set(METRIC_OPTIONS) == set(METRIC_NAMES)


def test_inputs_uint8_float_and_tensor_agree():
    fused, ir, vis = reference_triplet()
    base = evaluate_fusion(fused, ir, vis, metrics=("MI", "Qabf", "SSIM"))
    as_uint8 = evaluate_fusion(
        *(v.astype(np.uint8) for v in (fused, ir, vis)), ("MI", "Qabf", "SSIM")
    )
    as_tensor = evaluate_fusion(
        *(torch.from_numpy(v) for v in (fused, ir, vis)), ("MI", "Qabf", "SSIM")
    )
    assert as_uint8 == base
    assert as_tensor == base


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda g: entropy(g[None]), ValueError, "2-D"),
        (lambda g: entropy(g[0]), ValueError, "2-D"),
        (lambda g: entropy(g + 256), ValueError, r"\[0, 255\]"),
        (lambda g: entropy(g - 1), ValueError, r"\[0, 255\]"),
        (lambda g: entropy(np.where(g > 100, np.nan, g)), ValueError, "NaN"),
        (lambda g: entropy(g > 100), TypeError, "dtype"),
        (lambda g: entropy(g[:1]), ValueError, "at least 2x2"),
        (lambda g: mean_squared_error(g, g[:5], g), ValueError, "same"),
        (lambda g: mutual_information_score(g, g[:, :5]), ValueError, "same shape"),
        (lambda g: ssim_index(g[:6, :6], g[:6, :6]), ValueError, "SSIM.*7x7"),
        (lambda g: vifp(g, g), ValueError, "VIF.*41x41"),
        (lambda g: average_gradient(g, difference="sobel"), ValueError, "central"),
        (lambda g: edge_preservation(g, g, g, gradient_ratio="one"), ValueError, "paper"),
        (lambda g: mutual_information(g, g, g, base=1), ValueError, "base"),
        (lambda g: peak_signal_to_noise_ratio(g, g, g, peak=-1.0), ValueError, "peak"),
        (lambda g: ssim_index(g, g, precision="half"), ValueError, "float32"),
        (lambda g: evaluate_fusion(g, g, g, metrics=("EN", "Entropy")), ValueError, "Entropy"),
        (lambda g: evaluate_fusion(g, g, g, metrics="EN"), TypeError, "sequence"),
        (lambda g: evaluate_fusion(g, g, g, ("EN",), EN={"log": 2}), ValueError, "base"),
        (lambda g: evaluate_fusion(g, g, g, ("EN",), SSIM=255), TypeError, "dict"),
    ],
)
def test_errors_name_the_problem(rng, call, error, match):
    with pytest.raises(error, match=match):
        call(random_image(rng, (8, 8)))


# --- against the libraries the reference calls (dev extras) -----------------------------------


def test_mutual_information_matches_sklearn(rng):
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    a, b = random_image(rng, (64, 64)), random_image(rng, (64, 64))
    b = np.round((a + b) / 2)  # dependent, so MI is not near 0
    expected = sklearn_metrics.mutual_info_score(a.ravel(), b.ravel())
    assert mutual_information_score(a, b) == pytest.approx(expected, rel=1e-12)


def test_ssim_matches_skimage(rng):
    skimage_metrics = pytest.importorskip("skimage.metrics")
    a, b = random_image(rng, (64, 64)), random_image(rng, (64, 64))
    b = np.round((a + b) / 2)
    # The reference: float32 images, data_range guessed as 2 by scikit-image 0.19.
    expected = skimage_metrics.structural_similarity(
        a.astype(np.float32), b.astype(np.float32), data_range=2
    )
    assert ssim_index(a, b) == pytest.approx(expected, rel=1e-6)
    expected_255 = skimage_metrics.structural_similarity(a, b, data_range=255)
    got_255 = ssim_index(a, b, data_range=255.0, precision="float64")
    assert got_255 == pytest.approx(expected_255, rel=1e-12)
