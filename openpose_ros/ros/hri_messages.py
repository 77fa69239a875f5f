"""Arrays of the REP-155 core (``openpose_ros.hri``) -> ``hri_msgs`` messages.

Inputs are already normalised to [0, 1] (``skeleton_2d``, ``face_landmarks``,
``regions_of_interest``); these functions only copy them into messages.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np
from hri_msgs.msg import (FacialLandmarks, IdsList, NormalizedPointOfInterest2D,
                          NormalizedRegionOfInterest2D, Skeleton2D)
from std_msgs.msg import Header

__all__ = ["ids_msg", "skeleton_msg", "roi_msg", "landmarks_msg"]


def _points(points: np.ndarray) -> list[NormalizedPointOfInterest2D]:
    return [NormalizedPointOfInterest2D(x=float(x), y=float(y), c=float(c))
            for x, y, c in np.asarray(points, dtype=np.float64)]


def ids_msg(header: Header, ids: Iterable[str]) -> IdsList:
    return IdsList(header=header, ids=list(ids))


def skeleton_msg(header: Header, skeleton: np.ndarray) -> Skeleton2D:
    """``[18, 3]`` normalised (x, y, c) -> ``Skeleton2D`` (REP-155 point order)."""
    return Skeleton2D(header=header, skeleton=_points(skeleton))


def roi_msg(header: Header, box: np.ndarray) -> NormalizedRegionOfInterest2D:
    """``[5]`` normalised (xmin, ymin, xmax, ymax, c) -> ``NormalizedRegionOfInterest2D``."""
    xmin, ymin, xmax, ymax, c = (float(v) for v in box)
    return NormalizedRegionOfInterest2D(header=header, xmin=xmin, ymin=ymin, xmax=xmax,
                                        ymax=ymax, c=c)


def landmarks_msg(header: Header, landmarks: np.ndarray,
                  image_size: tuple[int, int]) -> FacialLandmarks:
    """``[70, 3]`` normalised landmarks -> ``FacialLandmarks`` with the image size in pixels."""
    width, height = image_size
    return FacialLandmarks(header=header, landmarks=_points(landmarks), height=int(height),
                           width=int(width))
