"""Multi-camera 3D, ROS-free: synchronise views, associate people across them, triangulate.

Data flow (one synchronised set)::

    N x People (2D, pixels) --sync.StampSynchronizer--> {camera: People}
        --reconstruct.Reconstructor (undistort, associate, triangulate)--> People3D (metres, world)
        --tracking.Tracker3D--> stable track ids --smoothing.OneEuroSmoother--> smoothed People3D

Camera models and calibration files are in ``cameras`` and ``calibration_io``.
"""

from openpose_ros.threed.associate import AssociationConfig, associate
from openpose_ros.threed.calibration_io import RigCalibration, load_calibration
from openpose_ros.threed.cameras import CalibrationError, Camera, Intrinsics, Rig
from openpose_ros.threed.reconstruct import Reconstruction, ReconstructionConfig, Reconstructor
from openpose_ros.threed.result import People3D
from openpose_ros.threed.smoothing import OneEuroConfig, OneEuroSmoother
from openpose_ros.threed.sync import StampSynchronizer, SyncConfig, SyncedSet
from openpose_ros.threed.tracking import Tracker3D, TrackingConfig
from openpose_ros.threed.triangulate import TriangulationConfig, triangulate_points

__all__ = [
    "AssociationConfig",
    "associate",
    "RigCalibration",
    "load_calibration",
    "CalibrationError",
    "Camera",
    "Intrinsics",
    "Rig",
    "Reconstruction",
    "ReconstructionConfig",
    "Reconstructor",
    "People3D",
    "OneEuroConfig",
    "OneEuroSmoother",
    "StampSynchronizer",
    "SyncConfig",
    "SyncedSet",
    "Tracker3D",
    "TrackingConfig",
    "TriangulationConfig",
    "triangulate_points",
]
