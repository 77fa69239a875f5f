"""Depth under a keypoint: the robust windowed lookup, and the single-pixel one it replaces.

A keypoint on a limb's silhouette (or, with a couple of pixels of detector error, just outside
it) sees, in its neighbourhood, the limb's surface, "flying" pixels that mix limb and background,
and the background itself. The single-pixel lookup other packages use returns whichever of these
lies under the rounded keypoint. Here, per keypoint, a fixed grid of ``grid x grid`` samples spans
a square window of half-size ``radius_px`` (scaled by the caller to the person's size in the
image):

1. the valid samples are sorted by depth; each sample ``k`` starts a *cluster*: the samples within
   ``band(z_k) = band_m + noise_per_m2 * z_k**2`` behind it, weighted by a Gaussian of their
   distance to the keypoint (pixels near the keypoint are the likeliest to be on its limb);
2. clusters holding at least ``min_support`` of the window's valid samples (and ``min_samples``)
   are *supported*; the nearest supported cluster is the foreground;
3. a surface seen at a slant (the floor in front of a foot, the torso behind an arm held close)
   spreads over depth: within ``merge_m`` behind the foreground start, the densest cluster wins;
4. the surface depth is the weighted median of that cluster, taken again over the samples
   within half a band of it (the cluster's start is biased towards the camera by noise).

``select_depths`` makes the choice: this foreground, or, given depth limits (the caller's body
band, a bone's reach), the cluster inside them with the most weight near the keypoint, optionally
weighed by an expected depth. All arrays are vectorised over keypoints: no Python loop per joint.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from openpose_ros.depth_codec import DepthImage, as_depth_image

__all__ = ["WindowConfig", "WindowClusters", "window_clusters", "segment_clusters",
           "sample_clusters", "select_depths",
           "several_surfaces", "surface_centres", "window_depths", "single_pixel_depths"]


@dataclass(frozen=True)
class WindowConfig:
    """Attributes (depths in metres along the optical axis, sizes in depth-image pixels):
    grid: samples per side of the window; band_m, noise_per_m2: cluster depth band
    ``band_m + noise_per_m2 * z**2``; merge_m: a slanted surface's depth spread; min_support:
    least share of the window's valid samples in a cluster; min_samples: least samples in it."""

    grid: int = 7
    band_m: float = 0.04
    noise_per_m2: float = 0.006
    merge_m: float = 0.1
    min_support: float = 0.1
    min_samples: int = 3

    def __post_init__(self) -> None:
        if self.grid < 1 or self.min_samples < 1:
            raise ValueError("grid and min_samples must be >= 1")
        if not (self.band_m > 0 and self.noise_per_m2 >= 0 and self.merge_m >= 0):
            raise ValueError("band_m must be > 0, noise_per_m2 and merge_m >= 0")
        if not 0 < self.min_support <= 1:
            raise ValueError("min_support must be in (0, 1]")


def _sample(depth: DepthImage, pixels: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """``[N, M]`` depths (m) at ``pixels [N, 1, 2] + offsets [N, M, 2]`` (NaN off the image)."""
    h, w = depth.shape
    pts = pixels + offsets
    with np.errstate(invalid="ignore"):
        ix = np.rint(pts[..., 0])
        iy = np.rint(pts[..., 1])
        inside = (ix >= 0) & (ix < w) & (iy >= 0) & (iy < h)  # NaN compares False
    ix = np.where(inside, ix, 0).astype(np.intp)
    iy = np.where(inside, iy, 0).astype(np.intp)
    return np.where(inside, depth.at(iy, ix), np.float32(np.nan))


def single_pixel_depths(depth, pixels: np.ndarray) -> np.ndarray:
    """float32 ``[N]`` depth of the pixel under each keypoint ``pixels [N, 2]`` (NaN = none).

    ``depth``: float32 ``[H, W]`` metres (NaN = none) or a ``depth_codec.DepthImage``.
    """
    pixels = np.asarray(pixels, dtype=np.float64).reshape(-1, 1, 2)
    return _sample(as_depth_image(depth), pixels, np.zeros((len(pixels), 1, 2)))[:, 0]


@dataclass(frozen=True)
class WindowClusters:
    """The depth clusters of ``N`` keypoint windows (rows sorted by depth, NaN last; see module).

    ``s`` ``[N, M]`` sorted depths (m); ``wts`` their Gaussian weights (0 for invalid); ``band``
    each cluster's depth band; ``end`` ``[N, M]`` one past cluster ``k``'s last sample; ``mean``
    its weighted mean depth; ``supported`` clusters with enough samples; ``values`` ``[N, M]``
    the samples unsorted, ``offset`` ``[N, M, 2]`` their pixel offsets from the keypoint;
    ``cum`` ``[N, M + 1]`` the weights' running sums (``cum[:, i]``: samples before ``i``)."""

    s: np.ndarray
    wts: np.ndarray
    band: np.ndarray
    end: np.ndarray
    mass: np.ndarray
    mean: np.ndarray
    supported: np.ndarray
    values: np.ndarray
    offset: np.ndarray
    cum: np.ndarray

    def take(self, rows: np.ndarray) -> "WindowClusters":
        """The clusters of the windows ``rows`` (indices or a bool mask over ``N``)."""
        return WindowClusters(self.s[rows], self.wts[rows], self.band[rows], self.end[rows],
                              self.mass[rows], self.mean[rows], self.supported[rows],
                              self.values[rows], self.offset[rows], self.cum[rows])


@functools.lru_cache(maxsize=None)
def _grid(grid: int) -> np.ndarray:
    """``[grid * grid, 2]`` sample positions spanning ``[-1, 1]`` on both axes."""
    lin = np.linspace(-1.0, 1.0, grid) if grid > 1 else np.zeros(1)
    return np.stack(np.meshgrid(lin, lin), axis=-1).reshape(-1, 2)


def window_clusters(depth, pixels: np.ndarray, radius_px: np.ndarray,
                    config: WindowConfig = WindowConfig()) -> WindowClusters:
    """The clusters of each keypoint's window (arguments as ``window_depths``); sampled once, so
    that several choices (``select_depths``) can be made from one read of the image."""
    pixels = np.asarray(pixels, dtype=np.float64).reshape(-1, 1, 2)
    n = len(pixels)
    unit = _grid(config.grid)  # [M, 2]
    radius = np.maximum(np.asarray(radius_px, dtype=np.float64).reshape(n), 0.0)
    offset = unit[None] * radius[:, None, None]
    values = (_sample(as_depth_image(depth), pixels, offset) if n
              else np.zeros((0, len(unit)), np.float32))
    weight = np.exp(-2.0 * (unit ** 2).sum(axis=1))  # Gaussian, sigma = half the window
    return sample_clusters(values, np.broadcast_to(weight, values.shape), offset, config)


def segment_clusters(depth, start: np.ndarray, end: np.ndarray, fractions: np.ndarray,
                     radius_px: np.ndarray, config: WindowConfig = WindowConfig(),
                     grid: int = 2) -> WindowClusters:
    """The clusters of the samples along each of ``N`` 2D segments ``start -> end`` (``[N, 2]``
    pixels): a ``grid x grid`` patch of half-size ``radius_px [N]`` at each of ``fractions``
    along the segment, pooled and weighed alike (offsets from ``end``)."""
    start, end = (np.asarray(v, np.float64).reshape(-1, 2) for v in (start, end))
    n = len(start)
    centres = start[:, None] + np.asarray(fractions)[None, :, None] * (end - start)[:, None]
    patch = _grid(grid)[None] * np.maximum(np.reshape(radius_px, (n, 1, 1)), 0.0)  # [N, G, 2]
    offset = (centres - end[:, None])[:, :, None] + patch[:, None]  # [N, F, G, 2]
    offset = offset.reshape(n, -1, 2)
    values = (_sample(as_depth_image(depth), end[:, None], offset) if n
              else np.zeros((0, offset.shape[1]), np.float32))
    return sample_clusters(values, np.ones(values.shape), offset, config)


def sample_clusters(values: np.ndarray, weight: np.ndarray, offset: np.ndarray,
                    config: WindowConfig = WindowConfig()) -> WindowClusters:
    """The depth clusters of ``N`` sets of ``M`` samples: ``values [N, M]`` depths (m, NaN =
    none), their ``weight`` and pixel ``offset [N, M, 2]`` from their keypoint."""
    c = config
    n = len(values)
    order = np.argsort(values, axis=1)  # NaN last
    r = np.arange(n)[:, None]
    s = values[r, order].astype(np.float64)
    valid = np.isfinite(s)
    wts = np.where(valid, weight[r, order], 0.0)
    band = c.band_m + c.noise_per_m2 * np.where(valid, s, 0.0) ** 2
    # Cluster k is the run of sorted samples [k, end_k) within band(s_k) of s_k: one searchsorted
    # over all rows at once (each row lifted by its own offset), O(N M log M), no [N, M, M] table.
    m = s.shape[1]
    lift = np.arange(n)[:, None] * 1e6
    flat = (np.where(valid, s, 1e5) + lift).ravel()
    end = np.searchsorted(flat, (np.where(valid, s + band, -1.0) + lift).ravel(), side="right")
    end = np.maximum(end.reshape(n, m) - np.arange(n)[:, None] * m, 0)
    count = np.where(valid, end - np.arange(m)[None, :], 0)
    # cum[:, i] = sum w[:i]
    cum = np.concatenate([np.zeros((n, 1)), np.cumsum(wts, axis=1)], axis=1)
    cum_z = np.concatenate([np.zeros((n, 1)), np.cumsum(wts * np.where(valid, s, 0.0), axis=1)],
                           axis=1)
    mass = cum[r, end] - cum[:, :m]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = (cum_z[r, end] - cum_z[:, :m]) / mass
    n_valid = valid.sum(axis=1, keepdims=True)
    # support counts samples alike: a keypoint just off the silhouette has its limb at the
    # window's rim, where the Gaussian weights are small
    supported = valid & (count >= np.maximum(c.min_support * n_valid, c.min_samples))
    return WindowClusters(s, wts, band, end, mass, mean, supported, values, offset, cum)


def select_depths(clusters: WindowClusters, config: WindowConfig = WindowConfig(),
                  near_m: np.ndarray | None = None, far_m: np.ndarray | None = None,
                  prior_m: np.ndarray | None = None, prior_sigma_m: np.ndarray | None = None,
                  *, centred: bool = True) -> np.ndarray:
    """float32 ``[N]`` surface depth chosen among each window's supported clusters (NaN: none).

    Without limits: the foreground (the nearest supported cluster; on a slanted surface the
    densest within ``merge_m`` behind it). With ``near_m``, ``far_m`` ``[N]`` (m): among the
    supported clusters whose mean lies in ``[near_m, far_m]``, the one with the most weight near
    the keypoint (NaN if none) - a limb in front of the keypoint's own, which holds the window's
    rim, is then not taken for being nearer. ``prior_m``, ``prior_sigma_m`` ``[N]`` (m; NaN: no
    prior) weigh each cluster's weight by a Gaussian of its mean's distance to an expected depth
    (the limb's depth along its bone): a keypoint just off its limb has the background under it.
    The depth is the chosen cluster's re-centred weighted median, or with ``centred`` off its
    weighted mean (cheaper, biased towards the camera by the noise).
    """
    k = clusters
    s, wts, supported = k.s, k.wts, k.supported
    n, m = s.shape
    rows = np.arange(n)
    if near_m is None:
        has = supported.any(axis=1)
        s_first = s[rows, np.argmax(supported, axis=1)]
        with np.errstate(invalid="ignore"):
            near = supported & (s <= (s_first + config.merge_m)[:, None])
        best = np.argmax(np.where(near, k.mass, -1.0), axis=1)  # densest near the foreground
    else:
        with np.errstate(invalid="ignore"):
            inside = supported & (k.mean >= np.reshape(near_m, (n, 1))) & (
                k.mean <= np.reshape(far_m, (n, 1)))
        score = k.mass
        if prior_m is not None:
            prior = np.reshape(prior_m, (n, 1))
            with np.errstate(invalid="ignore"):
                likely = np.exp(-0.5 * ((k.mean - prior) / np.reshape(prior_sigma_m, (n, 1))) ** 2)
            score = k.mass * np.where(np.isfinite(prior), likely, 1.0)
        best = np.argmax(np.where(inside, score, -1.0), axis=1)
        has = inside.any(axis=1)
    if not centred:
        return np.where(has, k.mean[rows, best], np.nan).astype(np.float32)
    centre = _run_median(k, rows, best, k.end[rows, best])
    # re-centre: the cluster starts at its nearest sample, which noise pulls towards the camera
    half = k.band[rows, best] / 2
    with np.errstate(invalid="ignore"):
        first = (s < (centre - half)[:, None]).sum(axis=1)
        last = (s <= (centre + half)[:, None]).sum(axis=1)
    out = _run_median(k, rows, first, np.maximum(last, first + 1))
    return np.where(has, out, np.nan).astype(np.float32)


def several_surfaces(clusters: WindowClusters, near_m: np.ndarray) -> np.ndarray:
    """bool ``[N]``: the window's supported clusters at or behind ``near_m`` ``[N]`` (m) lie at
    more than one depth (their means spread over more than a band): a choice to make."""
    k = clusters
    with np.errstate(invalid="ignore"):
        use = k.supported & (k.mean >= np.reshape(near_m, (-1, 1)))
        lo = np.where(use, k.mean, np.inf).min(axis=1)
        hi = np.where(use, k.mean, -np.inf).max(axis=1)
        first = np.argmax(use, axis=1)
        return hi - lo > k.band[np.arange(len(lo)), first]


def surface_centres(clusters: WindowClusters, surface_m: np.ndarray,
                    config: WindowConfig = WindowConfig()) -> np.ndarray:
    """``[N, 2]`` pixel offset from each keypoint to the centre of its chosen surface in its window
    (the mean position of the samples within the surface's depth band of ``surface_m`` ``[N]``,
    m); 0 where fewer than ``min_samples`` samples are on it. A keypoint that fell just off its
    limb moves onto it; one on a limb narrower than the window moves onto its axis."""
    k = clusters
    z = np.asarray(surface_m, np.float64)[:, None]
    with np.errstate(invalid="ignore"):
        member = np.abs(k.values - z) <= config.band_m + config.noise_per_m2 * z ** 2
    count = member.sum(axis=1)
    centre = np.where(member[..., None], k.offset, 0.0).sum(axis=1) / np.maximum(count, 1)[:, None]
    return np.where((count >= config.min_samples)[:, None], centre, 0.0)


def window_depths(depth, pixels: np.ndarray, radius_px: np.ndarray,
                  config: WindowConfig = WindowConfig()) -> np.ndarray:
    """float32 ``[N]`` foreground surface depth around each keypoint (see module docstring).

    Args:
        depth: float32 ``[H, W]`` metres (NaN = no measurement) or a ``depth_codec.DepthImage``.
        pixels: ``[N, 2]`` keypoints (x, y) in depth-image pixels; NaN rows give NaN.
        radius_px: ``[N]`` half-size of each window, pixels (at least 1 sample apart is kept).
    """
    if len(np.asarray(pixels).reshape(-1, 2)) == 0:
        return np.zeros(0, np.float32)
    return select_depths(window_clusters(depth, pixels, radius_px, config), config)


def _run_median(k: WindowClusters, rows: np.ndarray, first: np.ndarray, stop: np.ndarray
                ) -> np.ndarray:
    """``[N]`` weighted median of each row's sorted samples ``[first, stop)`` (a cluster's run)."""
    half = (k.cum[rows, first] + k.cum[rows, np.minimum(stop, k.s.shape[1])]) / 2.0
    at = np.argmax(k.cum[:, 1:] >= half[:, None], axis=1)
    return k.s[rows, np.clip(at, first, np.maximum(stop - 1, first))]
