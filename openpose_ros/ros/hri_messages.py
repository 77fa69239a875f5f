"""Arrays of the REP-155 core (``openpose_ros.hri``) -> ``hri_msgs`` messages.

Inputs are already normalised to [0, 1] (``skeleton_2d``, ``face_landmarks``,
``regions_of_interest``); this module only copies them into messages.

``Skeleton2D`` and ``FacialLandmarks`` hold 18 and 70 nested point objects, and building those
is most of a frame's cost (their generated constructors even build the default points before
replacing them). ``Rep155Messages`` therefore keeps one message of each kind and refills its
points in place: each returned message is valid until the next call of the same method, which
suits ``publish`` (it serialises at once).
"""

from __future__ import annotations

from typing import Iterable

import numpy as np
from hri_msgs.msg import FacialLandmarks, IdsList, NormalizedRegionOfInterest2D, Skeleton2D
from std_msgs.msg import Header

__all__ = ["ids_msg", "roi_msg", "Rep155Messages"]


def ids_msg(header: Header, ids: Iterable[str]) -> IdsList:
    return IdsList(header=header, ids=list(ids))


def roi_msg(header: Header, box: np.ndarray) -> NormalizedRegionOfInterest2D:
    """``[5]`` normalised (xmin, ymin, xmax, ymax, c) -> ``NormalizedRegionOfInterest2D``."""
    xmin, ymin, xmax, ymax, c = (float(v) for v in box)
    return NormalizedRegionOfInterest2D(header=header, xmin=xmin, ymin=ymin, xmax=xmax,
                                        ymax=ymax, c=c)


def _fill(points, values: np.ndarray) -> None:
    for point, (x, y, c) in zip(points, np.asarray(values, dtype=np.float64).tolist()):
        point.x, point.y, point.c = x, y, c


class Rep155Messages:
    """Reused ``Skeleton2D``/``FacialLandmarks`` messages, refilled per call."""

    def __init__(self) -> None:
        self._skeleton = Skeleton2D()
        self._landmarks = FacialLandmarks()

    def skeleton(self, header: Header, skeleton: np.ndarray) -> Skeleton2D:
        """``[18, 3]`` normalised (x, y, c) -> ``Skeleton2D`` (REP-155 point order)."""
        msg = self._skeleton
        msg.header = header
        _fill(msg.skeleton, skeleton)
        return msg

    def landmarks(self, header: Header, landmarks: np.ndarray,
                  image_size: tuple[int, int]) -> FacialLandmarks:
        """``[70, 3]`` normalised landmarks -> ``FacialLandmarks`` with the image size (px)."""
        msg = self._landmarks
        msg.header = header
        _fill(msg.landmarks, landmarks)
        msg.width, msg.height = (int(v) for v in image_size)
        return msg
