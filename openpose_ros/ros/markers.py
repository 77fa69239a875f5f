"""rviz markers for 3D skeletons: one joint sphere list, one limb line list and one label per person.

Marker ids are the people's track ids (namespaces ``joints``, ``limbs``, ``labels``; hands and
faces, when on, add ``<part>_joints`` and ``<part>_limbs`` with spheres a third of the body's),
so a person keeps its markers from set to set. A person who is not in the current set has its markers deleted
(``DELETE`` per namespace and id); ``clear()`` gives a ``DELETEALL`` for shutdown. Colours are the
layout's joint colours; a limb takes the colour of its second joint, as OpenPose renders it.
"""

from __future__ import annotations

import numpy as np
from builtin_interfaces.msg import Duration
from geometry_msgs.msg import Point
from std_msgs.msg import ColorRGBA, Header
from visualization_msgs.msg import Marker, MarkerArray

from openpose_ros.layouts import Layout
from openpose_ros.threed.result import PART_NAMES, People3D

__all__ = ["SkeletonMarkers", "NAMESPACES"]

NAMESPACES = ("joints", "limbs", "labels") + tuple(
    f"{part}_{kind}" for part in PART_NAMES for kind in ("joints", "limbs"))
#: Hand and face joints are this share of the body's sphere size and line width.
_PART_SCALE = 1.0 / 3.0


def _points(xyz: np.ndarray) -> list[Point]:
    return [Point(x=float(x), y=float(y), z=float(z)) for x, y, z in xyz]


def _colors(rgb: np.ndarray) -> list[ColorRGBA]:
    return [ColorRGBA(r=float(r), g=float(g), b=float(b), a=1.0) for r, g, b in rgb]


class SkeletonMarkers:
    """Builds ``MarkerArray`` messages and remembers which ids are on screen.

    Args:
        joint_diameter: sphere size in metres.
        line_width: limb width in metres.
        lifetime_s: how long rviz keeps a marker that is not refreshed (0: until deleted).
    """

    def __init__(self, *, joint_diameter: float = 0.05, line_width: float = 0.02,
                 lifetime_s: float = 1.0) -> None:
        self.joint_diameter = joint_diameter
        self.line_width = line_width
        sec = int(lifetime_s)
        self._lifetime = Duration(sec=sec, nanosec=int(round((lifetime_s - sec) * 1e9)))
        self._shown: dict[int, list[str]] = {}  # track id -> namespaces on screen

    def _marker(self, header: Header, ns: str, marker_id: int, kind: int) -> Marker:
        m = Marker()
        m.header = header
        m.ns, m.id, m.type, m.action = ns, marker_id, kind, Marker.ADD
        m.pose.orientation.w = 1.0
        m.lifetime = self._lifetime
        m.color = ColorRGBA(r=1.0, g=1.0, b=1.0, a=1.0)
        return m

    def _skeleton(self, header: Header, ns: str, tid: int, layout: Layout, points: np.ndarray,
                  valid: np.ndarray, scale: float) -> list[Marker]:
        """Joint spheres and limb lines of one person's keypoint group (``points [J, 3]``)."""
        colors = np.asarray(layout.colors, dtype=np.float64) / 255.0
        pairs = np.asarray(layout.render_pairs, dtype=np.int64).reshape(-1, 2)
        joints = self._marker(header, f"{ns}joints", tid, Marker.SPHERE_LIST)
        joints.scale.x = joints.scale.y = joints.scale.z = self.joint_diameter * scale
        joints.points = _points(points[valid])
        joints.colors = _colors(colors[valid])
        limbs = self._marker(header, f"{ns}limbs", tid, Marker.LINE_LIST)
        limbs.scale.x = self.line_width * scale
        ok = pairs[valid[pairs].all(axis=1)]
        limbs.points = _points(points[ok.ravel()])
        limbs.colors = _colors(colors[np.repeat(ok[:, 1], 2)])
        return [joints, limbs]

    def update(self, people: People3D, header: Header) -> MarkerArray:
        """Markers for ``people`` (in ``header.frame_id``), and deletions for people who left."""
        out = MarkerArray()
        valid = people.valid
        parts = people.parts()
        shown: dict[int, list[str]] = {}
        for p in range(len(people)):
            tid = int(people.track_ids[p])
            if tid < 0 or not valid[p].any():
                continue
            shown[tid] = ["joints", "limbs", "labels"] + [f"{name}_{kind}" for name in parts
                                                          for kind in ("joints", "limbs")]
            body = people.body[p].astype(np.float64)
            out.markers += self._skeleton(header, "", tid, people.layout, body, valid[p], 1.0)
            for name, part in parts.items():
                out.markers += self._skeleton(header, f"{name}_", tid, part.layout,
                                              part.body[p].astype(np.float64), part.valid[p],
                                              _PART_SCALE)
            label = self._marker(header, "labels", tid, Marker.TEXT_VIEW_FACING)
            label.scale.z = 2.0 * self.joint_diameter
            label.text = f"body_{tid}"
            label.pose.position = _points(body[valid[p]].mean(axis=0, keepdims=True))[0]
            out.markers.append(label)
        for tid in sorted(set(self._shown) - set(shown)):
            for ns in self._shown[tid]:
                gone = self._marker(header, ns, tid, Marker.SPHERE_LIST)
                gone.action = Marker.DELETE
                out.markers.append(gone)
        self._shown = shown
        return out

    def clear(self, header: Header) -> MarkerArray:
        """One ``DELETEALL`` marker (e.g. on shutdown)."""
        m = Marker()
        m.header = header
        m.action = Marker.DELETEALL
        self._shown = {}
        return MarkerArray(markers=[m])
