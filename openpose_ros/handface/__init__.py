"""Hands and faces, top-down from the body keypoints (OpenPose spec §4).

ROS-free: :mod:`.boxes` derives the boxes, :mod:`.crop` cuts and maps back, :mod:`.peaks`
reads the network maps and :mod:`.detector` ties them into :class:`HandFaceDetector`.
"""

from openpose_ros.handface.boxes import face_boxes, hand_boxes, hand_scale_boxes, usable_boxes
from openpose_ros.handface.detector import HandFaceConfig, HandFaceDetector, largest_people

__all__ = [
    "HandFaceConfig",
    "HandFaceDetector",
    "face_boxes",
    "hand_boxes",
    "hand_scale_boxes",
    "largest_people",
    "usable_boxes",
]
