"""FID, KID, precision/recall against independent computations."""

import math

import numpy as np
import pytest
import scipy.linalg
from scipy.stats import ortho_group

from keras_gen.evaluation.metrics import (
    RunningGaussian,
    bits_per_dim,
    frechet_distance,
    kernel_inception_distance,
    mmd2_unbiased,
    polynomial_kernel,
    precision_recall,
    psnr,
)


# ----------------------------------------------------------------- moments
def test_running_gaussian_matches_numpy_over_uneven_batches():
    rng = np.random.default_rng(0)
    # A large common offset: the naive E[xx^T] - mm^T formula loses ~8 digits.
    x = rng.normal(size=(1000, 6)) * [1, 2, 3, 0.1, 5, 1] + 1e4
    stats = RunningGaussian()
    start = 0
    for size in (1, 7, 300, 2, 690):
        stats.update(x[start : start + size])
        start += size
    assert stats.count == 1000
    np.testing.assert_allclose(stats.mean, x.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(stats.covariance(), np.cov(x, rowvar=False), rtol=1e-9)


def test_running_gaussian_needs_two_samples():
    stats = RunningGaussian()
    stats.update(np.zeros((1, 3)))
    with pytest.raises(ValueError, match="at least 2"):
        stats.covariance()


# --------------------------------------------------------------------- FID
def closed_form_commuting(mu1, a, mu2, b):
    """FID of N(mu1, Q diag(a) Q^T) and N(mu2, Q diag(b) Q^T)."""
    return float(np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2))


@pytest.mark.parametrize("method", ["eigh", "sqrtm"])
@pytest.mark.parametrize("rotate", [False, True])
def test_frechet_distance_closed_form(method, rotate):
    rng = np.random.default_rng(1)
    d = 16
    mu1, mu2 = rng.normal(size=d), rng.normal(size=d)
    a, b = rng.uniform(0.1, 3.0, d), rng.uniform(0.1, 3.0, d)
    q = ortho_group.rvs(d, random_state=2) if rotate else np.eye(d)
    sigma1, sigma2 = q @ np.diag(a) @ q.T, q @ np.diag(b) @ q.T
    expected = closed_form_commuting(mu1, a, mu2, b)
    got = frechet_distance(mu1, sigma1, mu2, sigma2, method=method)
    assert got == pytest.approx(expected, rel=1e-8)


def test_frechet_distance_non_commuting_matches_scipy_sqrtm_of_symmetric_form():
    # Independent route: tr sqrt(S1 S2) = tr sqrt(S1^1/2 S2 S1^1/2), both
    # square roots by scipy.linalg.sqrtm.
    rng = np.random.default_rng(3)
    d = 20
    m1, m2 = rng.normal(size=(d, d)), rng.normal(size=(d, d))
    sigma1, sigma2 = m1 @ m1.T / d, m2 @ m2.T / d + 0.1 * np.eye(d)
    mu1, mu2 = rng.normal(size=d), rng.normal(size=d)
    root1 = scipy.linalg.sqrtm(sigma1).real
    tr = np.trace(scipy.linalg.sqrtm(root1 @ sigma2 @ root1).real)
    expected = np.sum((mu1 - mu2) ** 2) + np.trace(sigma1 + sigma2) - 2 * tr
    for method in ("eigh", "sqrtm"):
        got = frechet_distance(mu1, sigma1, mu2, sigma2, method=method)
        assert got == pytest.approx(expected, rel=1e-7)


def test_frechet_distance_of_identical_sets_is_zero_even_when_singular():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(10, 30))  # 10 samples in 30-d: rank-9 covariance
    stats = RunningGaussian()
    stats.update(x)
    mu, sigma = stats.stats()
    assert frechet_distance(mu, sigma, mu, sigma) == pytest.approx(0.0, abs=1e-6)
    # sqrtm of a singular product needs the eps fix-up or is inexact; it must
    # still be finite and close.
    with np.errstate(all="ignore"):
        value = frechet_distance(mu, sigma, mu, sigma, method="sqrtm")
    assert math.isfinite(value) and value < 1e-2


def test_frechet_distance_rejects_non_finite_and_mismatched():
    with pytest.raises(ValueError, match="not finite"):
        frechet_distance(np.array([np.nan, 0]), np.eye(2), np.zeros(2), np.eye(2))
    with pytest.raises(ValueError, match="dimensions differ"):
        frechet_distance(np.zeros(2), np.eye(2), np.zeros(3), np.eye(3))
    with pytest.raises(ValueError, match="method"):
        frechet_distance(np.zeros(2), np.eye(2), np.zeros(2), np.eye(2), method="x")


def test_frechet_distance_of_samples_approaches_closed_form():
    rng = np.random.default_rng(5)
    d, n = 4, 200_000
    a, b = np.array([1.0, 2.0, 0.5, 1.5]), np.array([2.0, 1.0, 0.5, 3.0])
    x = rng.normal(size=(n, d)) * np.sqrt(a)
    y = rng.normal(size=(n, d)) * np.sqrt(b) + 0.5
    sx, sy = RunningGaussian(), RunningGaussian()
    for start in range(0, n, 50_000):
        sx.update(x[start : start + 50_000])
        sy.update(y[start : start + 50_000])
    expected = closed_form_commuting(np.zeros(d), a, np.full(d, 0.5), b)
    assert frechet_distance(*sx.stats(), *sy.stats()) == pytest.approx(
        expected, abs=0.02
    )


# --------------------------------------------------------------------- KID
def brute_force_mmd2(x, y):
    def k(u, v):
        return (np.dot(u, v) / len(u) + 1.0) ** 3

    n, m = len(x), len(y)
    xx = sum(k(x[i], x[j]) for i in range(n) for j in range(n) if i != j)
    yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j)
    xy = sum(k(x[i], y[j]) for i in range(n) for j in range(m))
    return xx / (n * (n - 1)) + yy / (m * (m - 1)) - 2 * xy / (n * m)


def test_mmd2_unbiased_matches_brute_force():
    rng = np.random.default_rng(6)
    x, y = rng.normal(size=(7, 5)), rng.normal(size=(9, 5)) + 0.3
    assert mmd2_unbiased(x, y) == pytest.approx(brute_force_mmd2(x, y), rel=1e-10)
    assert polynomial_kernel(x, y).shape == (7, 9)


def test_kid_is_the_mean_over_the_documented_subsets():
    rng = np.random.default_rng(7)
    x = rng.normal(size=(50, 4)).astype(np.float32)
    y = rng.normal(size=(40, 4)).astype(np.float32) + 0.5
    mean, std = kernel_inception_distance(x, y, num_subsets=5, subset_size=20, seed=11)
    draw = np.random.default_rng(11)
    values = []
    for _ in range(5):
        xs = x[draw.choice(50, 20, replace=False)]
        ys = y[draw.choice(40, 20, replace=False)]
        values.append(brute_force_mmd2(xs.astype(np.float64), ys.astype(np.float64)))
    assert mean == pytest.approx(np.mean(values), rel=1e-5)
    assert std == pytest.approx(np.std(values), rel=1e-4)


def test_kid_is_about_zero_for_one_distribution_and_grows_with_shift():
    rng = np.random.default_rng(8)
    x = rng.normal(size=(600, 16))
    same = rng.normal(size=(600, 16))
    kid_same, std_same = kernel_inception_distance(
        x, same, num_subsets=20, subset_size=300
    )
    assert abs(kid_same) < 3 * std_same + 1e-3
    values = [
        kernel_inception_distance(x, same + s, num_subsets=20, subset_size=300)[0]
        for s in (0.25, 0.5, 1.0)
    ]
    assert values[0] > 3 * std_same and values == sorted(values)


def test_kid_with_whole_sets_is_computed_once():
    rng = np.random.default_rng(9)
    x, y = rng.normal(size=(30, 3)), rng.normal(size=(30, 3))
    mean, std = kernel_inception_distance(x, y, subset_size=1000)
    assert std == 0.0 and mean == pytest.approx(mmd2_unbiased(x, y))


# --------------------------------------------------------- precision/recall
def brute_force_precision_recall(real, fake, k):
    def radii(s):
        d = np.linalg.norm(s[:, None] - s[None], axis=-1)
        return np.sort(d, axis=1)[:, k]

    def coverage(q, s, r):
        d = np.linalg.norm(q[:, None] - s[None], axis=-1)
        return np.mean([(row <= r + 1e-9).any() for row in d])

    return coverage(fake, real, radii(real)), coverage(real, fake, radii(fake))


@pytest.mark.parametrize("k", [1, 3])
def test_precision_recall_matches_brute_force(k):
    rng = np.random.default_rng(10)
    real = rng.normal(size=(80, 3))
    fake = rng.normal(size=(60, 3)) * 0.5 + 0.7
    got = precision_recall(real, fake, k=k, block=17)
    expected = brute_force_precision_recall(real, fake, k)
    assert got == pytest.approx(expected)
    assert 0 < got[0] < 1 and 0 < got[1] < 1


def test_precision_recall_extremes():
    rng = np.random.default_rng(11)
    real = rng.normal(size=(200, 8))
    assert precision_recall(real, real) == (1.0, 1.0)
    # Mode collapse: all samples near one real point -> precise, no recall.
    collapsed = real[:1] + rng.normal(size=(200, 8)) * 1e-3
    precision, recall = precision_recall(real, collapsed)
    assert precision == 1.0 and recall < 0.05
    # Far away: neither.
    assert precision_recall(real, real + 100.0) == (0.0, 0.0)
    with pytest.raises(ValueError, match="more than 3"):
        precision_recall(real[:3], real)


# --------------------------------------------------------------- VAE helpers
def test_psnr_and_bits_per_dim():
    a = np.zeros((2, 4, 4, 3))
    b = a.copy()
    b[0] += 0.1  # MSE 0.01 -> 20 dB
    values = psnr(a, b)
    assert values[0] == pytest.approx(20.0) and values[1] == np.inf
    assert bits_per_dim(12 * math.log(2), 12) == pytest.approx(1.0)


def test_limit_blas_threads_restores_the_previous_count():
    from threadpoolctl import threadpool_info

    from keras_gen.evaluation.blas import limit_blas_threads

    np.linalg.eigh(np.eye(4))  # numpy's BLAS is loaded
    if not any(p["user_api"] == "blas" for p in threadpool_info()):
        pytest.skip("no BLAS library loaded")

    def counts():
        return [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]

    before = counts()
    with limit_blas_threads(2):
        inside = counts()
        with limit_blas_threads(1):
            assert counts() == [1] * len(before)
        assert counts() == inside
    assert counts() == before
