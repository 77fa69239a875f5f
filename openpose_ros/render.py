"""Draw people on a BGR image: skeleton lines and joints, hands and faces when present, and
each tracked person's id beside it.

Colours and pairs come from the layout tables. As OpenPose draws them: a limb is drawn when
both joints score above the threshold, in the colour of its second joint; joints are filled
circles; line width and radius grow with the image and with the person's size (spec §3.9
thresholds: body 0.05, hands 0.2, faces 0.4).
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from openpose_ros.layouts import FACE_70, HAND_21, Layout
from openpose_ros.people import People

__all__ = ["draw_people", "draw_keypoints", "draw_track_ids"]

_CIRCLE_RATIO = 1.0 / 75.0  # OpenPose's thicknessCircleRatio
_LINE_RATIO = 0.75  # line width relative to the circle size


def draw_keypoints(
    image: np.ndarray, keypoints: np.ndarray, layout: Layout, threshold: float
) -> None:
    """Draw ``[P, J, 3]`` keypoints (x, y, score in ``image`` pixels) of ``layout`` in place."""
    height, width = image.shape[:2]
    area = float(width * height)
    colors = [tuple(int(c) for c in reversed(rgb)) for rgb in layout.colors]  # RGB -> BGR
    for person in keypoints:
        good = (person[:, 2] > threshold) & np.isfinite(person[:, :2]).all(axis=1)
        if not good.any():
            continue
        pts = person[good, :2]
        extent = pts.max(axis=0) - pts.min(axis=0)
        relative = min(1.0, max(extent[0] / width, extent[1] / height))
        size = max(int(math.floor(math.sqrt(area) * _CIRCLE_RATIO * relative + 0.5)), 2)
        line = max(1, int(math.floor(size * _LINE_RATIO + 0.5)))
        radius = max(1, size // 2)
        xy = np.round(np.nan_to_num(person[:, :2])).astype(np.int64)
        for a, b in layout.render_pairs:
            if good[a] and good[b]:
                cv2.line(image, tuple(map(int, xy[a])), tuple(map(int, xy[b])), colors[b],
                         line, cv2.LINE_AA)
        for j in np.flatnonzero(good):
            cv2.circle(image, tuple(map(int, xy[j])), radius, colors[j], -1, cv2.LINE_AA)


def draw_track_ids(image: np.ndarray, people: People, threshold: float) -> None:
    """Write each tracked person's id (track id >= 0) in place, white on a dark outline, just
    above the top-left corner of its drawn joints (below the image's top edge)."""
    height, width = image.shape[:2]
    font_scale = max(0.4, min(width, height) / 600.0)
    thickness = max(1, int(round(font_scale * 1.5)))
    for body, track_id in zip(people.body, people.track_ids):
        good = (body[:, 2] > threshold) & np.isfinite(body[:, :2]).all(axis=1)
        if track_id < 0 or not good.any():
            continue
        text = str(int(track_id))
        (_, text_h), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, font_scale, thickness)
        x, y = body[good, :2].min(axis=0)
        org = (int(np.clip(x, 0, width - 1)), int(np.clip(y - text_h // 2, text_h, height - 1)))
        for color, extra in (((0, 0, 0), 2 * thickness), ((255, 255, 255), 0)):
            cv2.putText(image, text, org, cv2.FONT_HERSHEY_SIMPLEX, font_scale, color,
                        thickness + extra, cv2.LINE_AA)


def draw_people(
    image_bgr: np.ndarray,
    people: People,
    *,
    threshold: float = 0.05,
    hand_threshold: float = 0.2,
    face_threshold: float = 0.4,
    copy: bool = True,
) -> np.ndarray:
    """Draw bodies, hands and faces when ``people`` has them, and the ids of tracked people.

    Args:
        image_bgr: ``(H, W, 3)`` uint8 BGR image, in the pixel frame of ``people``.
        people: the people to draw (missing joints are skipped).
        threshold, hand_threshold, face_threshold: lowest score drawn per part type.
        copy: draw on a copy (default) or on ``image_bgr`` itself.

    Returns:
        The drawn image (``image_bgr`` itself when ``copy`` is False).

    Raises:
        ValueError: ``image_bgr`` is not an ``(H, W, 3)`` uint8 array.
    """
    if not isinstance(image_bgr, np.ndarray) or image_bgr.dtype != np.uint8 \
            or image_bgr.ndim != 3 or image_bgr.shape[2] != 3:
        raise ValueError(f"draw_people needs an (H, W, 3) uint8 BGR image, got "
                         f"{getattr(image_bgr, 'shape', None)} {getattr(image_bgr, 'dtype', '')}")
    canvas = image_bgr.copy() if copy else image_bgr
    draw_keypoints(canvas, people.body, people.layout, threshold)
    if people.has_face:
        draw_keypoints(canvas, people.face, FACE_70, face_threshold)
    if people.has_hands:
        draw_keypoints(canvas, people.left_hand, HAND_21, hand_threshold)
        draw_keypoints(canvas, people.right_hand, HAND_21, hand_threshold)
    draw_track_ids(canvas, people, threshold)
    return canvas
