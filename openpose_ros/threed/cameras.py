"""Calibrated camera models: intrinsics, lens distortion and world-to-camera extrinsics.

Conventions (OpenCV's, and ROS's optical frames): a world point X (metres) maps to camera
coordinates ``Xc = R @ X + t``; the camera looks along +z, x right, y down. Pixels are those of the
source image. "Ideal" pixels are where a point would land in a distortion-free pinhole camera
with the same K; triangulation works in ideal pixels so that P = K [R|t] is linear.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

__all__ = [
    "CalibrationError",
    "Camera",
    "Intrinsics",
    "Rig",
    "DISTORTION_MODELS",
    "fundamental_matrices",
]

#: Distortion models, named as in sensor_msgs/CameraInfo, with the coefficient counts OpenCV takes.
DISTORTION_MODELS = {
    "plumb_bob": (0, 4, 5),  # k1 k2 p1 p2 [k3]
    "rational_polynomial": (0, 4, 5, 8, 12, 14),  # k1 k2 p1 p2 k3 k4 k5 k6 [s1..s4 tx ty]
    "equidistant": (4,),  # fisheye k1 k2 k3 k4
}

# undistortPoints' default 5 iterations leave ~1e-4 px on strong lenses; 20 reach ~1e-10 px.
_UNDISTORT_CRITERIA = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 20, 1e-10)


class CalibrationError(ValueError):
    """A camera model or calibration file that cannot be used (the one error type of this module)."""


def _matrix(value, shape: tuple[int, ...], what: str) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=np.float64).reshape(shape)
    except (TypeError, ValueError) as exc:
        raise CalibrationError(f"{what} must be {shape} numbers: {exc}") from None
    if not np.isfinite(arr).all():
        raise CalibrationError(f"{what} has non-finite entries")
    return arr


def _size(name: str, size) -> tuple[int, int] | None:
    if size is None:
        return None
    w, h = (int(v) for v in size)
    if w <= 0 or h <= 0:
        raise CalibrationError(f"camera {name!r}: image size must be positive, got {size}")
    return (w, h)


def validated_intrinsics(name: str, K, dist, model: str | None) -> tuple[np.ndarray, np.ndarray, str]:
    """``(K [3, 3], dist [D], model)`` checked for use; raises ``CalibrationError`` naming ``name``."""
    K = _matrix(K, (3, 3), f"camera {name!r} K")
    if not (K[0, 0] > 0 and K[1, 1] > 0) or np.any(K[[1, 2, 2], [0, 0, 1]] != 0) or K[2, 2] != 1:
        raise CalibrationError(
            f"camera {name!r}: K must be upper triangular with fx, fy > 0 and K[2,2] = 1 "
            f"(an all-zero CameraInfo means the camera is not calibrated), got {K.tolist()}"
        )
    model = model or "plumb_bob"
    if model not in DISTORTION_MODELS:
        raise CalibrationError(
            f"camera {name!r}: distortion model {model!r} unsupported; known: {', '.join(DISTORTION_MODELS)}"
        )
    dist = np.asarray(dist if dist is not None else [], dtype=np.float64).ravel()
    if dist.size not in DISTORTION_MODELS[model] or not np.isfinite(dist).all():
        raise CalibrationError(
            f"camera {name!r}: {model} takes {DISTORTION_MODELS[model]} finite coefficients, got {dist.size}"
        )
    return K, dist, model


@dataclass(frozen=True)
class Intrinsics:
    """Intrinsics of one camera, as a CameraInfo or a calibration file gives them.

    Attributes:
        K: float64 ``[3, 3]``; dist: float64 ``[D]`` OpenCV-order coefficients of ``distortion_model``;
        image_size: (width, height) in pixels, or None.
    """

    K: np.ndarray
    dist: np.ndarray
    distortion_model: str = "plumb_bob"
    image_size: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        K, dist, model = validated_intrinsics("intrinsics", self.K, self.dist, self.distortion_model)
        object.__setattr__(self, "K", K)
        object.__setattr__(self, "dist", dist)
        object.__setattr__(self, "distortion_model", model)
        object.__setattr__(self, "image_size", _size("intrinsics", self.image_size))

    @classmethod
    def from_camera_info(cls, k, d, distortion_model: str, width: int, height: int) -> "Intrinsics":
        """From CameraInfo fields (``k`` row-major 9, ``d``); size 0 means unknown.

        Raises ``CalibrationError`` for an uncalibrated (all-zero) or malformed CameraInfo.
        """
        size = (width, height) if width > 0 and height > 0 else None
        return cls(np.asarray(k, dtype=np.float64).reshape(-1), np.asarray(d, dtype=np.float64),
                   distortion_model, size)


@dataclass(frozen=True)
class Camera:
    """One calibrated camera.

    Attributes:
        name: the camera's key, matched against the ``frame_id`` of its 2D detections.
        K: float64 ``[3, 3]`` intrinsics (upper triangular, fx, fy > 0).
        dist: float64 ``[D]`` distortion coefficients in OpenCV order for ``distortion_model``.
        distortion_model: ``plumb_bob``, ``rational_polynomial`` or ``equidistant``.
        R: float64 ``[3, 3]`` world-to-camera rotation.
        t: float64 ``[3]`` world-to-camera translation in metres.
        image_size: (width, height) in pixels, or None when the calibration does not say.
    """

    name: str
    K: np.ndarray
    dist: np.ndarray
    distortion_model: str
    R: np.ndarray
    t: np.ndarray
    image_size: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        K, dist, model = validated_intrinsics(self.name, self.K, self.dist, self.distortion_model)
        R = _matrix(self.R, (3, 3), f"camera {self.name!r} R")
        if not np.allclose(R @ R.T, np.eye(3), atol=1e-3) or np.linalg.det(R) < 0:
            raise CalibrationError(f"camera {self.name!r}: R is not a rotation matrix")
        u, _, vt = np.linalg.svd(R)  # remove the rounding of printed calibration files
        t = _matrix(self.t, (3,), f"camera {self.name!r} t")
        for key, value in (("K", K), ("dist", dist), ("distortion_model", model), ("R", u @ vt),
                           ("t", t), ("image_size", _size(self.name, self.image_size))):
            object.__setattr__(self, key, value)

    @classmethod
    def from_parts(cls, name: str, intrinsics: "Intrinsics", R: np.ndarray, t: np.ndarray) -> "Camera":
        """A camera from its intrinsics and world-to-camera extrinsics."""
        i = intrinsics
        return cls(name, i.K, i.dist, i.distortion_model, R, t, i.image_size)

    @property
    def projection(self) -> np.ndarray:
        """float64 ``[3, 4]`` P = K [R|t], world metres to ideal pixels (homogeneous)."""
        return self.K @ np.hstack([self.R, self.t[:, None]])

    @property
    def center(self) -> np.ndarray:
        """float64 ``[3]`` optical centre in the world frame (metres)."""
        return -self.R.T @ self.t

    @property
    def is_fisheye(self) -> bool:
        return self.distortion_model == "equidistant"

    def undistort(self, points: np.ndarray) -> np.ndarray:
        """Ideal pixels of ``points [..., 2]`` source-image pixels (NaN stays NaN), float64."""
        pts = np.asarray(points, dtype=np.float64)
        out = np.full(pts.shape, np.nan)
        ok = np.isfinite(pts).all(axis=-1)
        if not ok.any():
            return out
        src = np.ascontiguousarray(pts[ok]).reshape(-1, 1, 2)
        if self.is_fisheye:
            dst = cv2.fisheye.undistortPoints(src, self.K, self.dist, P=self.K)
        elif self.dist.size == 0 or not self.dist.any():
            dst = src
        else:
            dst = cv2.undistortPointsIter(src, self.K, self.dist, None, self.K, _UNDISTORT_CRITERIA)
        out[ok] = dst.reshape(-1, 2)
        return out

    def to_camera(self, points: np.ndarray) -> np.ndarray:
        """Camera coordinates ``[..., 3]`` (metres) of world ``points [..., 3]``."""
        return np.asarray(points, dtype=np.float64) @ self.R.T + self.t

    def project(self, points: np.ndarray) -> np.ndarray:
        """Source-image pixels ``[..., 2]`` (with distortion) of world ``points [..., 3]``.

        Points behind the camera, or NaN, give NaN.
        """
        pc = self.to_camera(points)
        out = np.full(pc.shape[:-1] + (2,), np.nan)
        ok = np.isfinite(pc).all(axis=-1) & (pc[..., 2] > 1e-9)
        if not ok.any():
            return out
        src = np.ascontiguousarray(pc[ok]).reshape(-1, 1, 3)
        zero = np.zeros(3)
        if self.is_fisheye:
            img, _ = cv2.fisheye.projectPoints(src, zero, zero, self.K, self.dist)
        else:
            img, _ = cv2.projectPoints(src, zero, zero, self.K, self.dist)
        out[ok] = img.reshape(-1, 2)
        return out

    def project_ideal(self, points: np.ndarray) -> np.ndarray:
        """Ideal pixels ``[..., 2]`` of world ``points [..., 3]`` (no distortion; NaN behind)."""
        ph = self.to_camera(points) @ self.K.T  # K's last row is (0, 0, 1): ph z = camera z
        z = np.where(ph[..., 2] > 1e-9, ph[..., 2], np.nan)
        return ph[..., :2] / z[..., None]

    def in_image(self, pixels: np.ndarray, border: float = 0.0) -> np.ndarray:
        """bool ``[...]``: ``pixels [..., 2]`` inside the image (all True when its size is unknown)."""
        px = np.asarray(pixels)
        finite = np.isfinite(px).all(axis=-1)
        if self.image_size is None:
            return finite
        w, h = self.image_size
        with np.errstate(invalid="ignore"):
            return finite & (px[..., 0] >= border) & (px[..., 0] < w - border) & (
                px[..., 1] >= border) & (px[..., 1] < h - border)


@dataclass(frozen=True)
class Rig:
    """A set of cameras calibrated in one world frame.

    Attributes:
        cameras: the cameras, in a fixed order (view index = position here).
        world_frame: TF frame the extrinsics are expressed in.
    """

    cameras: tuple[Camera, ...]
    world_frame: str = "world"

    def __post_init__(self) -> None:
        cams = tuple(self.cameras)
        names = [c.name for c in cams]
        if len(set(names)) != len(names):
            raise CalibrationError(f"duplicate camera names in rig: {names}")
        object.__setattr__(self, "cameras", cams)

    def __len__(self) -> int:
        return len(self.cameras)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.cameras)

    def index(self, name: str) -> int:
        """View index of camera ``name``; ``KeyError`` names the known cameras."""
        try:
            return self.names.index(name)
        except ValueError:
            raise KeyError(f"unknown camera {name!r}; rig has {', '.join(self.names)}") from None

    def subset(self, names: list[str] | tuple[str, ...]) -> "Rig":
        """A rig of the named cameras, in that order."""
        return Rig(tuple(self.cameras[self.index(n)] for n in names), self.world_frame)

    @property
    def projections(self) -> np.ndarray:
        """float64 ``[V, 3, 4]`` ideal-pixel projection matrices."""
        return np.stack([c.projection for c in self.cameras]) if self.cameras else np.zeros((0, 3, 4))


def _skew(v: np.ndarray) -> np.ndarray:
    """``[..., 3, 3]`` cross-product matrices of ``v [..., 3]``."""
    z = np.zeros(v.shape[:-1])
    return np.stack([
        np.stack([z, -v[..., 2], v[..., 1]], -1),
        np.stack([v[..., 2], z, -v[..., 0]], -1),
        np.stack([-v[..., 1], v[..., 0], z], -1),
    ], -2)


def fundamental_matrices(rig: Rig) -> np.ndarray:
    """float64 ``[V, V, 3, 3]`` F[a, b] with ``x_b^T F[a, b] x_a = 0`` for ideal pixels x (homogeneous).

    Each F is scaled to unit Frobenius norm; the diagonal (a == b) is zero.
    """
    R = np.stack([c.R for c in rig.cameras])
    t = np.stack([c.t for c in rig.cameras])
    Kinv = np.linalg.inv(np.stack([c.K for c in rig.cameras]))
    R_ab = np.einsum("bij,akj->abik", R, R)  # R_b R_a^T
    t_ab = t[None, :, :] - np.einsum("abij,aj->abi", R_ab, t)  # t_b - R_ab t_a
    E = _skew(t_ab) @ R_ab
    F = np.einsum("bji,abjk,akl->abil", Kinv, E, Kinv)  # K_b^-T E K_a^-1
    norm = np.linalg.norm(F, axis=(-2, -1), keepdims=True)
    F = np.where(norm > 0, F / np.where(norm > 0, norm, 1.0), 0.0)
    F[np.arange(len(rig)), np.arange(len(rig))] = 0.0  # a view with itself has no epipolar geometry
    return F
