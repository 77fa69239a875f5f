"""OpenSim/Pose2Sim ``.trc`` marker files: one marker per joint, positions in metres.

Layout (tab separated, as Pose2Sim writes it for OpenSim)::

    PathFileType  4  (X/Y/Z)  <file name>
    DataRate  CameraRate  NumFrames  NumMarkers  Units  OrigDataRate  OrigDataStartFrame  OrigNumFrames
    <rate>  <rate>  <F>  <M>  m  <rate>  <first frame>  <F>
    Frame#  Time  <marker 1>      <marker 2> ...
                  X1  Y1  Z1  X2  Y2  Z2 ...
    1  0.0  x  y  z ...

``Frame#`` counts from 1 and ``Time`` is ``(Frame# - 1) / rate`` seconds. A joint not
reconstructed in a frame is an empty cell (OpenSim reads it as a missing marker); it is never
interpolated here.

Axes: by default the rig's world axes unchanged. OpenSim wants Y up: ``Y_UP_FROM_Z_UP`` maps a
Z-up world (Pose2Sim's and Qualisys' calibrations) to it as Pose2Sim does,
``(X, Y, Z)_trc = (y, z, x)_world`` (a rotation, so handedness is kept).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["Y_UP_FROM_Z_UP", "format_trc", "write_trc"]

#: Column order taking world (x, y, z), Z up, to OpenSim's Y-up (X, Y, Z) = (y, z, x).
Y_UP_FROM_Z_UP = (1, 2, 0)


def _cell(value: float) -> str:
    return f"{value:.6f}" if np.isfinite(value) else ""


def format_trc(name: str, markers: tuple[str, ...] | list[str], points: np.ndarray, rate: float, *,
               first_frame: int = 0, axes: tuple[int, int, int] = (0, 1, 2)) -> str:
    """The text of a .trc file.

    Args:
        name: the file name written in the header.
        markers: marker (joint) names, ``M`` of them.
        points: float ``[F, M, 3]`` world positions in metres, NaN where a joint is missing.
        rate: frames per second.
        first_frame: index of the first frame in the source (``OrigDataStartFrame``).
        axes: world axis written as X, Y, Z (``Y_UP_FROM_Z_UP`` for OpenSim from a Z-up world).
    """
    pts = np.asarray(points, dtype=np.float64)[..., list(axes)]
    frames, count = pts.shape[0], len(markers)
    if pts.shape[1:] != (count, 3):
        raise ValueError(f"points must be [F, {count}, 3], got {np.asarray(points).shape}")
    if not rate > 0:
        raise ValueError(f"rate must be > 0, got {rate}")
    rate_text = f"{rate:g}"
    lines = [
        f"PathFileType\t4\t(X/Y/Z)\t{name}",
        "DataRate\tCameraRate\tNumFrames\tNumMarkers\tUnits\tOrigDataRate\tOrigDataStartFrame\tOrigNumFrames",
        f"{rate_text}\t{rate_text}\t{frames}\t{count}\tm\t{rate_text}\t{first_frame}\t{frames}",
        "Frame#\tTime\t" + "\t".join(f"{m}\t\t" for m in markers),
        "\t\t" + "\t".join(f"X{k}\tY{k}\tZ{k}" for k in range(1, count + 1)),
    ]
    for f in range(frames):
        cells = [str(f + 1), f"{f / rate:.6f}"] + [_cell(v) for v in pts[f].ravel()]
        lines.append("\t".join(cells))
    return "\n".join(lines) + "\n"


def write_trc(path: str | Path, markers, points: np.ndarray, rate: float, **options) -> Path:
    """Write ``format_trc`` to ``path`` (the header names the file)."""
    path = Path(path)
    path.write_text(format_trc(path.name, markers, points, rate, **options), encoding="utf-8")
    return path
