"""The longitudinal models' compiled sums equal their array formulation (issue 13's speed work).

Sums in numpy's order are compared bit for bit; where the reference is a BLAS matrix product, whose
rounding depends on the machine's BLAS kernel (FMA or not), to 1e-13 relative.
"""

from __future__ import annotations

import numpy as np

from trialsim.design.longitudinal import pending_patients
from trialsim.design.longitudinal_models import (ITP_KT, LookPatients, _completer_grid, _pending_grid, itp_shape,
                                                 sums)


def blas_close(mine: np.ndarray, ref: np.ndarray, name: str = "") -> None:
    np.testing.assert_allclose(mine, ref, rtol=1e-13, atol=1e-12, err_msg=name)


def by_grid(index: np.ndarray, size: int, w: np.ndarray) -> np.ndarray:
    g = w.shape[1]
    return sums((index[:, None] * g + np.arange(g)).ravel(), size * g, w.ravel()).reshape(size, g)


def test_itp_grid_sums_equal_the_array_formulation():
    rs = np.random.default_rng(11)
    shape = itp_shape(ITP_KT, np.array([4.0, 8.0, 12.0]))
    ff = (shape * shape).sum(1)
    n, size = 5000, 40
    index = np.sort(rs.integers(0, size, n))
    full = np.rint(rs.normal(-2, 2.5, (n, 3)))  # integer NRS changes, as the cohort's
    full[::3] += rs.normal(0, 1, (len(full[::3]), 3))
    along = full @ shape.T
    proj = along / ff
    rss = np.maximum((full * full).sum(1)[:, None] - along * proj, 0.0)
    got = _completer_grid(index, full, shape, ff, size)
    for name, mine, ref in zip(("s1", "s2", "rss"), got, (by_grid(index, size, w) for w in (proj, proj * proj, rss))):
        blas_close(mine, ref, name)  # the reference's `along` is a BLAS product

    early = shape[:, :2]
    reached = np.column_stack([np.ones(n), rs.random(n) < 0.6])
    x_p = np.where(reached > 0, full[:, :2], 0.0)
    a, along_p, rss_p = _pending_grid(reached, x_p, early * early, early)
    blas_close(a, reached @ (early * early).T)
    blas_close(along_p, x_p @ early.T)
    ref = x_p @ early.T
    blas_close(rss_p, np.maximum((x_p * x_p).sum(1)[:, None] - ref * ref / a, 0.0))


def test_completer_moments_equal_bincount():
    rs = np.random.default_rng(12)
    n, b, k = 3000, 7, 5
    c_ta = rs.integers(0, b * k, n)
    y, x = rs.normal(-2, 2.5, n), rs.normal(-1.5, 2, (n, 2))
    look = LookPatients(b, k, c_ta, y, x, np.zeros(0, np.int64), np.zeros(0), np.zeros(0, np.int64),
                        np.zeros((0, 2)), np.zeros((0, 2), bool), None)
    m = look.moments
    np.testing.assert_array_equal(m.n, look.completer_sums())
    np.testing.assert_array_equal(m.sum_y, look.completer_sums(y))
    np.testing.assert_array_equal(m.sum_y2, look.completer_sums(y * y))
    for j in range(2):
        np.testing.assert_array_equal(m.sum_x[j], look.completer_sums(x[:, j]))
        np.testing.assert_array_equal(m.sum_x2[j], look.completer_sums(x[:, j] * x[:, j]))
        np.testing.assert_array_equal(m.sum_xy[j], look.completer_sums(x[:, j] * y))


def test_pending_patients_equal_the_array_formulation():
    rs = np.random.default_rng(13)
    b, w, v = 30, 120, 2
    arm = np.where(rs.random((b, w)) < 0.9, rs.integers(0, 4, (b, w)), -1).astype(np.int16)
    usable, seen = rs.random((b, w)) < 0.95, rs.random((b, w, v)) < 0.9
    early = np.rint(rs.normal(-2, 2, (b, w, v)))
    arrival = np.sort(rs.uniform(0, 30, (b, w)), axis=1)
    weeks, time = np.array([4.0, 8.0]), rs.uniform(15, 35, b)
    n_look = rs.integers(20, 60, b)
    randomised = n_look + rs.integers(0, 60, b)
    got = pending_patients(arm, usable, early, seen, arrival, weeks, time, n_look, randomised)
    # the array formulation over every column
    cols = np.arange(w)
    pending = usable & (arm >= 0) & (cols >= n_look[:, None]) & (cols < randomised[:, None])
    avail = seen & (arrival[..., None] + weeks <= time[:, None, None]) & pending[..., None]
    has = avail.any(axis=-1)
    last = v - 1 - np.argmax(avail[..., ::-1], axis=-1)
    x = np.where(has, np.take_along_axis(early, last[..., None], axis=-1)[..., 0], 0.0)
    assert 0 < has.mean() < 1
    np.testing.assert_array_equal(got.mask, has)
    np.testing.assert_array_equal(got.x, x)
    np.testing.assert_array_equal(got.visit, last)
    np.testing.assert_array_equal(got.reached, avail)


def test_mvn_stage_moments_equal_bincount():
    from trialsim.design.longitudinal_models import _moments

    rs = np.random.default_rng(14)
    n, size, j = 2000, 12, 3
    ta, values, keep = rs.integers(0, size, n), rs.normal(-2, 2.5, (n, 4)), rs.random(n) < 0.7
    count, mean, centred = _moments(ta, size, values, keep, j)
    idx, w = ta[keep], values[keep, :j]
    ref_n = sums(idx, size)
    ref_mean = np.stack([sums(idx, size, w[:, i]) for i in range(j)], -1) / ref_n[:, None]
    raw = np.stack([np.stack([sums(idx, size, w[:, i] * w[:, m]) for m in range(j)], -1) for i in range(j)], -2)
    np.testing.assert_array_equal(count, ref_n)
    np.testing.assert_array_equal(mean, ref_mean)
    np.testing.assert_array_equal(centred, raw - ref_n[:, None, None] * ref_mean[:, :, None] * ref_mean[:, None, :])
