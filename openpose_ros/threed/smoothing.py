"""Optional temporal smoothing of tracked 3D joints: the One-Euro filter (Casiez et al., CHI 2012).

A low-pass filter whose cut-off rises with speed: still joints stop jittering, fast ones lag little.
Per track and joint, with ``dt`` the time since that joint was last seen:
``alpha(fc) = 1 / (1 + 1 / (2 pi fc dt))``; the speed (m/s) is low-passed at ``d_cutoff_hz``; the
position at ``min_cutoff_hz + beta * |speed|``. Missing joints pass through as missing and do not
disturb the state; a joint seen again after a gap longer than ``max_gap_s`` restarts unfiltered.
Untracked people (id -1) are not smoothed.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from openpose_ros.threed.result import People3D

__all__ = ["OneEuroConfig", "OneEuroSmoother"]


@dataclass(frozen=True)
class OneEuroConfig:
    """Attributes: min_cutoff_hz (jitter at rest), beta (s/m, lag at speed), d_cutoff_hz (speed
    estimate), max_gap_s (restart after a longer gap)."""

    min_cutoff_hz: float = 1.0
    beta: float = 0.7
    d_cutoff_hz: float = 1.0
    max_gap_s: float = 0.5

    def __post_init__(self) -> None:
        if not (self.min_cutoff_hz > 0 and self.d_cutoff_hz > 0 and self.beta >= 0):
            raise ValueError("min_cutoff_hz and d_cutoff_hz must be > 0, beta >= 0")


def _alpha(cutoff_hz: np.ndarray | float, dt: float) -> np.ndarray:
    return 1.0 / (1.0 + 1.0 / (2.0 * np.pi * np.asarray(cutoff_hz) * dt))


class OneEuroSmoother:
    """One-Euro filter over ``People3D.body`` keyed by track id (state lives in this object)."""

    def __init__(self, config: OneEuroConfig = OneEuroConfig()) -> None:
        self.config = config
        # track id -> (last time [J] s, last output [J, 3] m, speed [J, 3] m/s)
        self._state: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}

    def forget(self, track_ids) -> None:
        """Drop the state of ended tracks."""
        for t in track_ids:
            self._state.pop(int(t), None)

    def apply(self, people: People3D, stamp_s: float) -> People3D:
        """``people`` with smoothed joint positions (time ``stamp_s``, seconds); all tracked
        people at once."""
        c = self.config
        body = people.body.astype(np.float64).copy()
        rows = np.flatnonzero(np.asarray(people.track_ids) >= 0)
        if len(rows) == 0:
            return replace(people, body=body)
        ids = [int(t) for t in np.asarray(people.track_ids)[rows]]
        J = body.shape[1]
        fresh = (np.full(J, -np.inf), np.zeros((J, 3)), np.zeros((J, 3)))
        t_prev, x_prev, dx_prev = (np.stack(v) for v in zip(*(self._state.get(t, fresh)
                                                              for t in ids)))
        x = body[rows]  # [T, J, 3]
        seen = np.isfinite(x).all(-1)
        dt = stamp_s - t_prev  # per joint: joints can miss sets independently
        smooth = seen & (dt > 0) & (dt <= c.max_gap_s)
        dt = np.where(smooth, dt, 1.0)[..., None]
        a_d = _alpha(c.d_cutoff_hz, dt)
        dx_hat = a_d * (x - x_prev) / dt + (1 - a_d) * dx_prev
        a = _alpha(c.min_cutoff_hz + c.beta * np.linalg.norm(dx_hat, axis=-1, keepdims=True), dt)
        out = np.where(smooth[..., None], a * x + (1 - a) * x_prev, x)
        body[rows] = out
        t_new = np.where(seen, stamp_s, t_prev)
        x_new = np.where(seen[..., None], out, x_prev)
        dx_new = np.where(smooth[..., None], dx_hat, np.where(seen[..., None], 0.0, dx_prev))
        for k, t in enumerate(ids):
            self._state[t] = (t_new[k], x_new[k], dx_new[k])
        return replace(people, body=body)
