"""Keypoint layouts: joint names, PAF pairs, network channel maps and render colours.

Topology is data: the decoder, the hand/face box rules, the renderer, the ROS messages and the
docs all read these tables and nothing else. Facts are OpenPose's (spec §1.6 and §2).

Channel numbers are absolute indices into the network's ``net_output`` blob, whose order is
``[part heatmaps..., background, PAF x/y pairs...]`` for the body models.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

__all__ = [
    "Layout",
    "BODY_25",
    "COCO_18",
    "MPI_15",
    "HAND_21",
    "FACE_70",
    "BODY_LAYOUTS",
    "LAYOUTS",
    "layout_by_name",
    "layout_by_id",
]


@dataclass(frozen=True)
class Layout:
    """One keypoint layout.

    Attributes:
        name: canonical name (``"BODY_25"``, ``"COCO_18"``, ``"MPI_15"``, ``"HAND_21"``, ``"FACE_70"``).
        msg_id: value of the ``layout`` field in ``Pose2DArray``/``Pose3DArray`` (body layouts only,
            -1 for hand and face).
        part_names: joint names in network channel order; ``len(part_names)`` is the joint count.
        paf_pairs: joint index pairs (A, B) in OpenPose's processing order (empty for hand/face).
        paf_channels: absolute ``net_output`` channel of each pair's PAF (x, y) component.
        render_pairs: joint pairs drawn by the renderer, in drawing order.
        colors: one RGB colour per joint (0-255), as OpenPose renders them.
        redundant_pairs: indices into ``paf_pairs`` that only add evidence (shoulder-ear pairs).
        foot_parts: joint indices that OpenPose's person filter discounts (BODY_25 feet).
    """

    name: str
    msg_id: int
    part_names: tuple[str, ...]
    paf_pairs: tuple[tuple[int, int], ...] = ()
    paf_channels: tuple[tuple[int, int], ...] = ()
    render_pairs: tuple[tuple[int, int], ...] = ()
    colors: tuple[tuple[int, int, int], ...] = ()
    redundant_pairs: tuple[int, ...] = ()
    foot_parts: tuple[int, ...] = ()
    _index: Mapping[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "_index", MappingProxyType({n: i for i, n in enumerate(self.part_names)})
        )

    def __deepcopy__(self, memo: dict) -> "Layout":
        return self  # immutable shared table: copies (of networks, results) share it

    def __reduce__(self):
        return layout_by_name, (self.name,)

    @property
    def num_parts(self) -> int:
        """Number of joints (excluding the background channel)."""
        return len(self.part_names)

    @property
    def background_channel(self) -> int:
        """Absolute ``net_output`` channel of the background heatmap."""
        return self.num_parts

    @property
    def num_channels(self) -> int:
        """Total ``net_output`` channels: parts + background + 2 per PAF pair."""
        return self.num_parts + 1 + 2 * len(self.paf_pairs)

    def index(self, part_name: str) -> int:
        """Joint index of ``part_name``; raises ``KeyError`` naming the layout if unknown."""
        try:
            return self._index[part_name]
        except KeyError:
            raise KeyError(f"{self.name} has no joint named {part_name!r}") from None

    def has(self, *part_names: str) -> bool:
        """True when every named joint exists in this layout."""
        return all(n in self._index for n in part_names)


def _chain(*runs: tuple[int, ...]) -> tuple[tuple[int, int], ...]:
    """Edges of consecutive joints along each run (a closed loop repeats its first joint)."""
    return tuple((a, b) for run in runs for a, b in zip(run, run[1:]))


# --- BODY_25 (spec §2): pairs in processing order with absolute PAF channels ---------------
_BODY25_NAMES = (
    "Nose", "Neck", "RShoulder", "RElbow", "RWrist", "LShoulder", "LElbow", "LWrist",
    "MidHip", "RHip", "RKnee", "RAnkle", "LHip", "LKnee", "LAnkle", "REye", "LEye", "REar",
    "LEar", "LBigToe", "LSmallToe", "LHeel", "RBigToe", "RSmallToe", "RHeel",
)
_BODY25_PAFS = (
    ((1, 8), (26, 27)), ((1, 2), (40, 41)), ((1, 5), (48, 49)), ((2, 3), (42, 43)),
    ((3, 4), (44, 45)), ((5, 6), (50, 51)), ((6, 7), (52, 53)), ((8, 9), (32, 33)),
    ((9, 10), (28, 29)), ((10, 11), (30, 31)), ((8, 12), (34, 35)), ((12, 13), (36, 37)),
    ((13, 14), (38, 39)), ((1, 0), (56, 57)), ((0, 15), (58, 59)), ((15, 17), (62, 63)),
    ((0, 16), (60, 61)), ((16, 18), (64, 65)), ((2, 17), (46, 47)), ((5, 18), (54, 55)),
    ((14, 19), (66, 67)), ((19, 20), (68, 69)), ((14, 21), (70, 71)), ((11, 22), (72, 73)),
    ((22, 23), (74, 75)), ((11, 24), (76, 77)),
)
_BODY25_COLORS = (
    (255, 0, 85), (255, 0, 0), (255, 85, 0), (255, 170, 0), (255, 255, 0), (170, 255, 0),
    (85, 255, 0), (0, 255, 0), (255, 0, 0), (0, 255, 85), (0, 255, 170), (0, 255, 255),
    (0, 170, 255), (0, 85, 255), (0, 0, 255), (255, 0, 170), (170, 0, 255), (255, 0, 255),
    (85, 0, 255), (0, 0, 255), (0, 0, 255), (0, 0, 255), (0, 255, 255), (0, 255, 255),
    (0, 255, 255),
)

BODY_25 = Layout(
    name="BODY_25",
    msg_id=0,
    part_names=_BODY25_NAMES,
    paf_pairs=tuple(p for p, _ in _BODY25_PAFS),
    paf_channels=tuple(c for _, c in _BODY25_PAFS),
    render_pairs=tuple(p for k, (p, _) in enumerate(_BODY25_PAFS) if k not in (18, 19)),
    colors=_BODY25_COLORS,
    redundant_pairs=(18, 19),
    foot_parts=tuple(range(19, 25)),
)

# --- COCO_18 -------------------------------------------------------------------------------
_COCO_NAMES = (
    "Nose", "Neck", "RShoulder", "RElbow", "RWrist", "LShoulder", "LElbow", "LWrist", "RHip",
    "RKnee", "RAnkle", "LHip", "LKnee", "LAnkle", "REye", "LEye", "REar", "LEar",
)
_COCO_PAFS = (
    ((1, 2), (31, 32)), ((1, 5), (39, 40)), ((2, 3), (33, 34)), ((3, 4), (35, 36)),
    ((5, 6), (41, 42)), ((6, 7), (43, 44)), ((1, 8), (19, 20)), ((8, 9), (21, 22)),
    ((9, 10), (23, 24)), ((1, 11), (25, 26)), ((11, 12), (27, 28)), ((12, 13), (29, 30)),
    ((1, 0), (47, 48)), ((0, 14), (49, 50)), ((14, 16), (53, 54)), ((0, 15), (51, 52)),
    ((15, 17), (55, 56)), ((2, 16), (37, 38)), ((5, 17), (45, 46)),
)
_COCO_COLORS = (
    (255, 0, 85), (255, 0, 0), (255, 85, 0), (255, 170, 0), (255, 255, 0), (170, 255, 0),
    (85, 255, 0), (0, 255, 0), (0, 255, 85), (0, 255, 170), (0, 255, 255), (0, 170, 255),
    (0, 85, 255), (0, 0, 255), (255, 0, 170), (170, 0, 255), (255, 0, 255), (85, 0, 255),
)

COCO_18 = Layout(
    name="COCO_18",
    msg_id=1,
    part_names=_COCO_NAMES,
    paf_pairs=tuple(p for p, _ in _COCO_PAFS),
    paf_channels=tuple(c for _, c in _COCO_PAFS),
    render_pairs=tuple(p for k, (p, _) in enumerate(_COCO_PAFS) if k not in (17, 18)),
    colors=_COCO_COLORS,
    redundant_pairs=(17, 18),
)

# --- MPI_15: mapIdx is sequential, absolute channel = 16 + mapIdx ----------------------------
_MPI_NAMES = (
    "Head", "Neck", "RShoulder", "RElbow", "RWrist", "LShoulder", "LElbow", "LWrist", "RHip",
    "RKnee", "RAnkle", "LHip", "LKnee", "LAnkle", "Chest",
)
_MPI_PAIRS = (
    (0, 1), (1, 2), (2, 3), (3, 4), (1, 5), (5, 6), (6, 7), (1, 14), (14, 8), (8, 9), (9, 10),
    (14, 11), (11, 12), (12, 13),
)
_MPI_COLORS = (
    (255, 0, 85), (255, 0, 0), (255, 85, 0), (255, 170, 0), (255, 255, 0), (170, 255, 0),
    (85, 255, 0), (43, 255, 0), (0, 255, 0), (0, 255, 85), (0, 255, 170), (0, 255, 255),
    (0, 170, 255), (0, 85, 255), (0, 0, 255),
)

MPI_15 = Layout(
    name="MPI_15",
    msg_id=2,
    part_names=_MPI_NAMES,
    paf_pairs=_MPI_PAIRS,
    paf_channels=tuple((16 + 2 * k, 16 + 2 * k + 1) for k in range(len(_MPI_PAIRS))),
    render_pairs=_MPI_PAIRS,
    colors=_MPI_COLORS,
)

# --- Hand (21) and face (70): single-branch networks, no PAFs ------------------------------
_FINGERS = ("Thumb", "Index", "Middle", "Ring", "Pinky")
_FINGER_JOINTS = {
    "Thumb": ("CMC", "MCP", "IP", "Tip"),
}
_HAND_NAMES = ("Wrist",) + tuple(
    f"{finger}{joint}"
    for finger in _FINGERS
    for joint in _FINGER_JOINTS.get(finger, ("MCP", "PIP", "DIP", "Tip"))
)
_HAND_COLORS = ((100, 100, 100),) + tuple(
    tuple(int(c * s) for c in base)
    for base in ((255, 0, 0), (255, 255, 0), (0, 255, 0), (0, 255, 255), (0, 0, 255))
    for s in (0.4, 0.6, 0.8, 1.0)
)

HAND_21 = Layout(
    name="HAND_21",
    msg_id=-1,
    part_names=_HAND_NAMES,
    render_pairs=_chain(*((0, 4 * f + 1, 4 * f + 2, 4 * f + 3, 4 * f + 4) for f in range(5))),
    colors=_HAND_COLORS,
)

_FACE_NAMES = (
    tuple(f"Jaw{i}" for i in range(17))
    + tuple(f"REyebrow{i}" for i in range(5))
    + tuple(f"LEyebrow{i}" for i in range(5))
    + tuple(f"NoseBridge{i}" for i in range(4))
    + tuple(f"NoseLower{i}" for i in range(5))
    + tuple(f"REye{i}" for i in range(6))
    + tuple(f"LEye{i}" for i in range(6))
    + tuple(f"OuterLip{i}" for i in range(12))
    + tuple(f"InnerLip{i}" for i in range(8))
    + ("RPupil", "LPupil")
)


def _loop(first: int, last: int) -> tuple[int, ...]:
    return tuple(range(first, last + 1)) + (first,)


FACE_70 = Layout(
    name="FACE_70",
    msg_id=-1,
    part_names=_FACE_NAMES,
    render_pairs=_chain(
        tuple(range(0, 17)), tuple(range(17, 22)), tuple(range(22, 27)), tuple(range(27, 31)),
        tuple(range(31, 36)), _loop(36, 41), _loop(42, 47), _loop(48, 59), _loop(60, 67),
    ),
    colors=((255, 255, 255),) * 70,
)

BODY_LAYOUTS: Mapping[str, Layout] = MappingProxyType(
    {lay.name: lay for lay in (BODY_25, COCO_18, MPI_15)}
)
LAYOUTS: Mapping[str, Layout] = MappingProxyType(
    {lay.name: lay for lay in (BODY_25, COCO_18, MPI_15, HAND_21, FACE_70)}
)


def layout_by_name(name: str) -> Layout:
    """The layout called ``name`` (case-insensitive); ``ValueError`` lists the known ones."""
    key = name.strip().upper()
    if key not in LAYOUTS:
        raise ValueError(f"unknown keypoint layout {name!r}; known: {', '.join(LAYOUTS)}")
    return LAYOUTS[key]


def layout_by_id(msg_id: int) -> Layout:
    """The body layout whose message constant is ``msg_id``."""
    for lay in BODY_LAYOUTS.values():
        if lay.msg_id == msg_id:
            return lay
    raise ValueError(f"unknown body layout id {msg_id}; known: 0 BODY_25, 1 COCO_18, 2 MPI_15")
