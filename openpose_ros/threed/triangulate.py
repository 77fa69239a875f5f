"""Triangulation of 2D joints seen by several calibrated cameras (spec §5, for many joints at once).

All functions work on flat batches: ``N`` joints (every joint of every person), ``V`` views.
Points are ideal (undistorted) pixels and ``P [V, 3, 4]`` are ideal-pixel projection matrices
(``Camera.projection``), so reprojection errors are in pixels. World points are metres.

Steps, each vectorised over all N joints:
1. confidence-weighted DLT: per view the rows ``x P3 - P1`` and ``y P3 - P2`` scaled by the 2D score
   and by 1/depth (so that the algebraic error approximates the pixel error), solved through the
   4x4 normal matrices with the homogeneous coordinate fixed to 1 (closed-form 3x3 solves);
2. view rejection when more than two views agree poorly: leave-one-out solutions come for free by
   subtracting one view's 4x4 block from the normal matrix; the view whose removal fits the rest
   best is dropped while the worst error stays above ``reject_error_px`` (OpenPose tries the same
   leave-one-out subsets, spec §5);
3. Levenberg-Marquardt refinement of the 3 coordinates on confidence-weighted pixel residuals with a
   Huber loss (delta 2 px, as OpenPose's Ceres refinement), for the joints whose linear fit is off
   by more than 3 px (OpenPose's rule): batched in numpy (one 3x3 system per joint and
   iteration), or through ``scipy.optimize.least_squares`` (trf, Huber) in one sparse call.
A joint left with fewer than ``min_views`` views, or with a mean error above ``max_error_px``, is
missing (NaN): it is never guessed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import least_squares
from scipy.sparse import csr_matrix

__all__ = [
    "TriangulationConfig",
    "TriangulatedPoints",
    "triangulate_points",
    "triangulate_plain_dlt",
    "weighted_dlt",
    "reprojection_errors",
    "project_points",
]


@dataclass(frozen=True)
class TriangulationConfig:
    """Triangulation settings (pixels are ideal-image pixels).

    Attributes:
        min_score: a view counts for a joint when its 2D confidence exceeds this.
        min_views: fewest views for a joint to be reconstructed (at least 2).
        reject_error_px: with three or more views, drop views while the worst reprojection error
            exceeds this.
        max_error_px: a joint whose mean reprojection error stays above this is missing.
        refine: run the Levenberg-Marquardt refinement.
        refine_min_error_px: refine only joints whose DLT reprojection error exceeds this (OpenPose:
            3 px); below it the linear solution is already within the detection noise.
        huber_delta_px: Huber loss threshold of the refinement, pixels (OpenPose: 2).
        refine_solver: ``"batched"`` (numpy LM, one 3x3 system per joint, the fast default) or
            ``"scipy"`` (``least_squares`` trf + Huber with a block-sparse Jacobian; same optimum).
    """

    min_score: float = 0.3
    min_views: int = 2
    reject_error_px: float = 15.0
    max_error_px: float = 30.0
    refine: bool = True
    refine_min_error_px: float = 3.0
    huber_delta_px: float = 2.0
    refine_solver: str = "batched"

    def __post_init__(self) -> None:
        if self.refine_solver not in ("batched", "scipy"):
            raise ValueError(f"refine_solver must be 'batched' or 'scipy', got {self.refine_solver!r}")
        if self.min_views < 2:
            raise ValueError(f"min_views must be >= 2, got {self.min_views}")
        if not (self.reject_error_px > 0 and self.max_error_px > 0 and self.huber_delta_px > 0):
            raise ValueError("reject_error_px, max_error_px and huber_delta_px must be > 0")


@dataclass(frozen=True)
class TriangulatedPoints:
    """Result for N joints.

    Attributes:
        points: float64 ``[N, 3]`` world metres, NaN when missing.
        used: bool ``[N, V]`` views used for each joint (all False when missing).
        error: float64 ``[N]`` mean reprojection error over the used views, px (NaN when missing).
        score: float64 ``[N]`` mean 2D confidence of the used views (0 when missing).
    """

    points: np.ndarray
    used: np.ndarray
    error: np.ndarray
    score: np.ndarray


def _normal_blocks(P: np.ndarray, pts: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``[N, V, 4, 4]`` per-view contributions ``A_v^T A_v`` of the weighted DLT rows (finite pts)."""
    x = pts[..., 0, None]
    y = pts[..., 1, None]
    rows = np.stack([x * P[None, :, 2] - P[None, :, 0], y * P[None, :, 2] - P[None, :, 1]], axis=2)
    rows = rows * weights[..., None, None]  # [N, V, 2, 4]
    return rows.transpose(0, 1, 3, 2) @ rows


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cross product over the last axis (np.cross is slow on many tiny vectors)."""
    return np.stack([a[..., 1] * b[..., 2] - a[..., 2] * b[..., 1],
                     a[..., 2] * b[..., 0] - a[..., 0] * b[..., 2],
                     a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0]], axis=-1)


def _solve(normal: np.ndarray) -> np.ndarray:
    """``[..., 3]`` points minimising ``|A [X; 1]|^2`` given the normal matrices ``A^T A [..., 4, 4]``.

    Closed-form 3x3 solve (adjugate / determinant), so thousands of leave-one-out systems cost a
    few array operations; NaN where the views do not constrain the point (parallel rays, < 2 views).
    """
    m = normal[..., :3, :3]
    b = -normal[..., :3, 3]
    r0, r1, r2 = m[..., 0, :], m[..., 1, :], m[..., 2, :]
    c0, c1, c2 = _cross(r1, r2), _cross(r2, r0), _cross(r0, r1)  # adjugate rows (m is symmetric)
    det = (r0 * c0).sum(-1)
    scale = (m[..., 0, 0] + m[..., 1, 1] + m[..., 2, 2]) ** 3
    ok = np.abs(det) > 1e-10 * np.abs(scale)
    adj_b = np.stack([(c * b).sum(-1) for c in (c0, c1, c2)], axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(ok[..., None], adj_b / np.where(ok, det, 1.0)[..., None], np.nan)


def project_points(P: np.ndarray, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ideal pixels ``[..., V, 2]`` and depths ``[..., V]`` of points ``X [..., 3]`` in every view."""
    V = len(P)
    h = (X.reshape(-1, 3) @ P[:, :, :3].reshape(3 * V, 3).T).reshape(X.shape[:-1] + (V, 3)) + P[:, :, 3]
    depth = h[..., 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        uv = h[..., :2] / np.where(depth > 1e-9, depth, np.nan)[..., None]
    return uv, depth


def reprojection_errors(P: np.ndarray, X: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """``[..., V]`` pixel distance between ``pts [..., V, 2]`` and the projections of ``X [..., 3]``."""
    uv, _ = project_points(P, X)
    return np.linalg.norm(uv - pts, axis=-1)


def weighted_dlt(P: np.ndarray, pts: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Confidence-weighted DLT with one depth re-weighting pass.

    Args:
        P: ``[V, 3, 4]``; pts: ``[N, V, 2]`` ideal px; weights: ``[N, V]`` (0 = view unused).
    Returns:
        points ``[N, 3]`` and the per-view normal blocks ``[N, V, 4, 4]`` used for the final solve.
    """
    blocks = _normal_blocks(P, pts, weights)
    X = _solve(blocks.sum(axis=1))
    _, depth = project_points(P, X)
    scale = np.where(np.isfinite(depth) & (depth > 1e-6), 1.0 / np.where(depth > 1e-6, depth, 1.0), 0.0)
    scale = np.where(np.isfinite(X).all(-1, keepdims=True), scale, 1.0)
    blocks = blocks * (scale**2)[..., None, None]
    return _solve(blocks.sum(axis=1)), blocks


def _finite(values: np.ndarray, fill: float) -> np.ndarray:
    """``values`` with NaN and inf replaced by ``fill`` (cheaper than np.nan_to_num)."""
    return np.where(np.isfinite(values), values, fill)


def _mean_over(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    count = mask.sum(axis=-1)
    total = np.where(mask, values, 0.0).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / count, np.nan)


def _reject_views(P, pts, blocks, X, used, reject_px):
    """Drop, joint by joint, the view whose removal best fits the others (see module docstring)."""
    V = P.shape[0]
    others = ~np.eye(V, dtype=bool)
    for _ in range(max(V - 2, 0)):
        err = reprojection_errors(P, X, pts)
        worst = np.where(used, _finite(err, np.inf), -np.inf).max(axis=1)
        todo = np.flatnonzero((used.sum(axis=1) >= 3) & (worst > reject_px))
        if todo.size == 0:
            break
        u = used[todo]
        total = (blocks[todo] * u[..., None, None]).sum(axis=1)
        X_loo = _solve(total[:, None] - blocks[todo])  # [n, V(left out), 3]
        err_loo = reprojection_errors(P, X_loo, pts[todo][:, None])  # [n, V, V]
        keep = u[:, None, :] & others[None]
        mean_loo = np.where(u, _mean_over(_finite(err_loo, 1e9), keep), np.inf)
        k = np.argmin(mean_loo, axis=1)
        current = _mean_over(_finite(err[todo], 1e9), u)
        better = mean_loo[np.arange(todo.size), k] < current
        rows = todo[better]
        used[rows, k[better]] = False
        X[rows] = X_loo[better, k[better]]
        if not better.any():
            break
    return X, used


def _huber(sq: np.ndarray, delta: float) -> tuple[np.ndarray, np.ndarray]:
    """Huber cost and its derivative for squared residual norms ``sq`` (Ceres' HuberLoss)."""
    r = np.sqrt(sq)
    big = r > delta
    cost = np.where(big, 2.0 * delta * r - delta * delta, sq)
    slope = np.where(big, delta / np.where(big, r, 1.0), 1.0)
    return cost, slope


def _refine_batched(P, pts, weights, used, X, delta_px, iterations=6, step_tol_m=1e-4):
    """Huber-robust Levenberg-Marquardt, one independent 3-parameter problem per joint, batched.

    Each view's 2D residual (pixels x confidence) is one Huber block, as in OpenPose's Ceres
    problem (iteratively re-weighted Gauss-Newton steps with per-joint damping). A step is kept
    only when it lowers that joint's cost; a joint stops once its step is under 0.1 mm,
    and later iterations only touch the joints still moving.
    """
    rows = np.flatnonzero(used.any(axis=1))
    if rows.size == 0:
        return X
    u = used[rows]
    w = (weights[rows] * u)[..., None]
    obs = pts[rows]
    P3 = P[:, :, :3]

    def evaluate(x, idx):
        uv, depth = project_points(P, x)
        res = np.where(u[idx, :, None], w[idx] * (uv - obs[idx]), 0.0)  # [n, V, 2]; NaN behind
        cost, slope = _huber((res**2).sum(-1), delta_px)
        return cost.sum(-1), res, slope, uv, np.where(u[idx], depth, 1.0)

    x = X[rows].copy()
    active = np.arange(rows.size)
    state = list(evaluate(x, active))  # cost, res, slope, uv, depth for every joint
    lam = np.full(rows.size, 1e-4)
    eye = np.eye(3)
    for _ in range(iterations):
        a = active
        cost, res, slope, uv, depth = (v[a] for v in state)
        root = np.sqrt(slope)
        J = w[a, :, :, None] * (P3[None, :, :2] - uv[..., None] * P3[None, :, 2:3])
        J = np.where(u[a, :, None, None], J / depth[..., None, None], 0.0) * root[..., None, None]
        Jf = J.reshape(len(a), -1, 3)
        Jt = Jf.transpose(0, 2, 1)
        JtJ = Jt @ Jf
        g = Jt @ (res * root[..., None]).reshape(len(a), -1, 1)
        damped = JtJ + (lam[a, None, None] * np.diagonal(JtJ, axis1=1, axis2=2)[:, None, :] + 1e-12) * eye
        step = np.linalg.solve(damped, -g)[..., 0]  # NaN (a point behind a camera) never improves
        new = evaluate(x[a] + step, a)
        better = new[0] < cost
        took = a[better]
        x[took] += step[better]
        for v, nv in zip(state, new):
            v[took] = nv[better]
        lam[a] = np.where(better, lam[a] * 0.3, lam[a] * 10.0)
        active = a[(np.abs(step).max(axis=1) >= step_tol_m) & (lam[a] <= 1e6)]
        if active.size == 0:
            break
    out = X.copy()
    out[rows] = x
    return out


def _refine_scipy(P, pts, weights, used, X, delta_px):
    """The same problem through ``scipy.optimize.least_squares`` (trf, Huber), one sparse call.

    scipy applies the loss to each residual coordinate, not to each view's 2D residual as Ceres
    does, so with outliers the optimum differs slightly from ``_refine_batched``'s.
    """
    n_idx, v_idx = np.nonzero(used)
    if n_idx.size == 0:
        return X
    joints, local = np.unique(n_idx, return_inverse=True)
    w = weights[n_idx, v_idx][:, None]
    obs = pts[n_idx, v_idx]
    Pv = P[v_idx]  # [K, 3, 4]
    cols = (3 * local[:, None] + np.arange(3)).repeat(2, axis=0).ravel()
    rows = np.repeat(np.arange(2 * n_idx.size), 3)

    def residuals(x):
        Xk = x.reshape(-1, 3)[local]
        h = np.einsum("kij,kj->ki", Pv[:, :, :3], Xk) + Pv[:, :, 3]
        return (w * (h[:, :2] / h[:, 2:] - obs)).ravel()

    def jacobian(x):
        Xk = x.reshape(-1, 3)[local]
        h = np.einsum("kij,kj->ki", Pv[:, :, :3], Xk) + Pv[:, :, 3]
        uv = h[:, :2] / h[:, 2:]
        d = (Pv[:, :2, :3] - uv[:, :, None] * Pv[:, 2:3, :3]) / h[:, 2, None, None]  # [K, 2, 3]
        return csr_matrix(((w[:, :, None] * d).ravel(), (rows, cols)),
                          shape=(2 * n_idx.size, 3 * joints.size))

    x0 = X[joints].ravel()
    sol = least_squares(residuals, x0, jac=jacobian, method="trf", loss="huber", f_scale=delta_px,
                        tr_solver="lsmr", x_scale="jac", ftol=1e-6, xtol=1e-8, gtol=1e-8, max_nfev=50)
    out = X.copy()
    out[joints] = sol.x.reshape(-1, 3)
    return out


def triangulate_points(P: np.ndarray, pts: np.ndarray, scores: np.ndarray,
                       config: TriangulationConfig = TriangulationConfig()) -> TriangulatedPoints:
    """Triangulate N joints from V views (see module docstring).

    Args:
        P: float ``[V, 3, 4]`` ideal-pixel projection matrices.
        pts: float ``[N, V, 2]`` ideal pixels, NaN where a view has no detection.
        scores: float ``[N, V]`` 2D confidences (0 where missing).
    """
    P = np.asarray(P, dtype=np.float64)
    pts = np.asarray(pts, dtype=np.float64)
    scores = _finite(np.asarray(scores, dtype=np.float64), 0.0)
    finite = np.isfinite(pts).all(axis=-1)
    usable = (scores > config.min_score) & finite
    pts = np.where(finite[..., None], pts, 0.0)  # unused views carry weight 0 from here on
    weights = np.where(usable, scores, 0.0)
    X, blocks = weighted_dlt(P, pts, weights)
    used = usable & (usable.sum(axis=1, keepdims=True) >= config.min_views)
    X, used = _reject_views(P, pts, blocks, X, used, config.reject_error_px)
    ok = (used.sum(axis=1) >= config.min_views) & np.isfinite(X).all(axis=1)
    used &= ok[:, None]
    err = reprojection_errors(P, X, pts)
    mean_err = _mean_over(_finite(err, np.inf), used)
    todo = ok & (mean_err > config.refine_min_error_px)
    if config.refine and todo.any():
        refine = _refine_batched if config.refine_solver == "batched" else _refine_scipy
        X = refine(P, pts, weights, used & todo[:, None], X, config.huber_delta_px)
        err = reprojection_errors(P, X, pts)
        mean_err = _mean_over(_finite(err, np.inf), used)
    ok &= mean_err <= config.max_error_px
    used &= ok[:, None]
    X = np.where(ok[:, None], X, np.nan)
    score = np.where(ok, _mean_over(scores, used), 0.0)
    return TriangulatedPoints(X, used, np.where(ok, mean_err, np.nan), _finite(score, 0.0))


def triangulate_plain_dlt(P: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Unweighted DLT over every finite view, no rejection: the baseline. ``[N, 3]``, NaN under 2 views.

    Solved by a batched SVD of the ``[N, 2V, 4]`` systems (rows of missing views are zero).
    """
    P = np.asarray(P, dtype=np.float64)
    pts = np.asarray(pts, dtype=np.float64)
    seen = np.isfinite(pts).all(axis=-1)
    x = np.nan_to_num(pts[..., 0])[..., None]
    y = np.nan_to_num(pts[..., 1])[..., None]
    rows = np.stack([x * P[None, :, 2] - P[None, :, 0], y * P[None, :, 2] - P[None, :, 1]], axis=2)
    rows = (rows * seen[..., None, None]).reshape(len(pts), -1, 4)
    _, _, vt = np.linalg.svd(rows)
    h = vt[:, -1]
    with np.errstate(divide="ignore", invalid="ignore"):
        X = h[:, :3] / h[:, 3:]
    return np.where((seen.sum(axis=1) >= 2)[:, None] & (np.abs(h[:, 3:]) > 1e-12), X, np.nan)
