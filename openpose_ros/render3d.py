"""Pictures of 3D people (ROS-free, OpenCV only): reprojected onto the camera images, and an
orthographic 3D view of a whole reconstruction.

- ``reprojection_mosaic``: each camera's frame with the 3D skeletons projected through its model
  (lens distortion included), scaled to one height and put side by side;
- ``skeleton_views``: front, side and top orthographic views of sampled frames of every track
  (older frames fainter and thinner), with the cameras in the top view. "Up" is the mean of the cameras' up
  directions (the negative image y axis of each in the world), so any rig's world axes work.
"""

from __future__ import annotations

import cv2
import numpy as np

from openpose_ros.people import People
from openpose_ros.render import draw_people
from openpose_ros.threed.cameras import Camera
from openpose_ros.threed.result import People3D

__all__ = ["project_people", "reprojection_mosaic", "skeleton_views"]


def project_people(camera: Camera, people: People3D, image_size: tuple[int, int]) -> People:
    """``people`` in ``camera``'s image as 2D ``People`` (score 1 where reconstructed), hands and
    face included when on."""
    def keypoints(part: People3D) -> np.ndarray:
        uv = camera.project(np.where(part.valid[..., None], part.body, np.nan).astype(np.float64))
        ok = np.isfinite(uv).all(-1)
        return np.concatenate([uv, ok[..., None].astype(np.float64)], axis=-1)

    parts = {name: keypoints(part) for name, part in people.parts().items()}
    return People(people.layout, image_size, keypoints(people), people.person_scores,
                  track_ids=people.track_ids, **parts)


def reprojection_mosaic(frames: list[np.ndarray], cameras: list[Camera | None], people: People3D,
                        height: int = 640) -> np.ndarray:
    """``frames`` (BGR) with ``people`` drawn in each through its camera, side by side at ``height``
    pixels (a view whose camera is None is shown undrawn and labelled)."""
    panels = []
    for frame, cam in zip(frames, cameras):
        h, w = frame.shape[:2]
        drawn = frame if cam is None else draw_people(
            frame, project_people(cam, people, (w, h)), threshold=0.5, hand_threshold=0.5,
            face_threshold=0.5)
        scale = height / h
        panel = cv2.resize(drawn, (max(1, int(round(w * scale))), height), interpolation=cv2.INTER_AREA)
        label = cam.name if cam is not None else "size does not fit the calibration"
        cv2.putText(panel, label, (8, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (255, 255, 255), 2, cv2.LINE_AA)
        panels.append(panel)
    return np.hstack(panels)


def _basis(cameras: list[Camera], centre: np.ndarray) -> np.ndarray:
    """``[3, 3]`` rows: right, up, towards-the-viewer of the front view (world axes)."""
    up = np.mean([-c.R[1] for c in cameras], axis=0)
    up /= np.linalg.norm(up)
    toward = cameras[0].center - centre  # the front view looks from the first camera's side
    toward -= (toward @ up) * up
    if np.linalg.norm(toward) < 1e-9:
        toward = np.cross(up, [1.0, 0.0, 0.0])
    toward /= np.linalg.norm(toward)
    return np.stack([np.cross(up, toward), up, toward])


def skeleton_views(history: list[People3D], cameras: list[Camera], *, samples: int = 6,
                   panel: int = 480) -> np.ndarray:
    """A BGR image: front, side and top orthographic views of ``samples`` frames of ``history``.

    Args:
        history: the tracked 3D people of every frame, in order.
        cameras: the rig's cameras (for "up" and the top view's camera marks).
        samples: frames drawn, evenly spaced; the last is drawn brightest.
        panel: side of each square view, pixels.
    """
    canvas = np.full((panel + 30, 3 * panel, 3), 255, np.uint8)
    shown = [p for p in history if len(p) and p.valid.any()]
    if not shown:
        cv2.putText(canvas, "no person reconstructed", (20, panel // 2), cv2.FONT_HERSHEY_SIMPLEX,
                    0.9, (0, 0, 200), 2, cv2.LINE_AA)
        return canvas
    picks = [shown[int(round(i))] for i in np.linspace(0, len(shown) - 1, min(samples, len(shown)))]
    points = np.concatenate([p.body[p.valid] for p in picks]).astype(np.float64)
    centre = points.mean(axis=0)
    right, up, toward = _basis(cameras, centre)
    views = (("front", right, up), ("side", toward, up), ("top", right, -toward))
    extent = max(np.abs((points - centre) @ np.stack([right, up, toward]).T).max() * 2.4, 0.5)
    scale = panel / extent
    layout = picks[0].layout
    colors = [tuple(int(c) for c in reversed(rgb)) for rgb in layout.colors]
    for k, (title, ax, ay) in enumerate(views):
        x0 = k * panel

        def to_px(xyz: np.ndarray) -> np.ndarray:
            rel = np.asarray(xyz, dtype=np.float64) - centre
            return np.stack([x0 + panel / 2 + rel @ ax * scale, panel / 2 - rel @ ay * scale], -1)

        cv2.rectangle(canvas, (x0, 0), (x0 + panel - 1, panel - 1), (200, 200, 200), 1)
        cv2.putText(canvas, title, (x0 + 8, panel + 22), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (0, 0, 0), 2,
                    cv2.LINE_AA)
        if title == "top":
            for cam in cameras:
                c = to_px(cam.center)
                if 0 <= c[0] - x0 < panel and 0 <= c[1] < panel:
                    cv2.drawMarker(canvas, tuple(int(v) for v in c), (120, 60, 0), cv2.MARKER_TRIANGLE_UP, 14, 2)
        for n, people in enumerate(picks):
            last = n == len(picks) - 1
            fade = 1.0 if last else 0.2 + 0.4 * (n + 1) / len(picks)
            width = 3 if last else 1
            for p in range(len(people)):
                valid = people.valid[p]
                xy = to_px(people.body[p])
                for a, b in layout.render_pairs:
                    if valid[a] and valid[b]:
                        color = tuple(int(255 - fade * (255 - c)) for c in colors[b])
                        cv2.line(canvas, tuple(int(v) for v in xy[a]), tuple(int(v) for v in xy[b]),
                                 color, width, cv2.LINE_AA)
                for name, part in people.parts().items():
                    for u, v in to_px(part.body[p][part.valid[p]]):
                        cv2.circle(canvas, (int(u), int(v)), 1, (90, 90, 90), -1)
    return canvas
