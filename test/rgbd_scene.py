"""A small known RGB-D scene shared by the RGB-D tests: hand-made standing people (no dataset
needed), a 320x240 camera with a chosen lens model, the exact render, exact 2D keypoints."""

from __future__ import annotations

import numpy as np

from openpose_ros.evaluation.rgbd_synthetic import look_at, render_depth
from openpose_ros.layouts import BODY_25
from openpose_ros.people import People
from openpose_ros.threed.cameras import Camera

SIZE = (320, 240)
K = np.array([[300.0, 0, 161.0], [0, 300.0, 118.5], [0, 0, 1]])
LENSES = {
    "plumb_bob": np.array([0.1, -0.2, 0.001, -0.001, 0.05]),
    "rational_polynomial": np.array([0.1, -0.05, 0.001, 0.0, 0.01, 0.02, 0.0, 0.01]),
    "equidistant": np.array([0.05, -0.01, 0.002, 0.0]),
}

#: A standing person, z up, facing -y (towards a camera on the -y side), metres.
STANDING = {
    "Nose": (0, -0.1, 1.62), "Neck": (0, 0, 1.45), "RShoulder": (-0.19, 0, 1.43),
    "RElbow": (-0.24, 0, 1.15), "RWrist": (-0.26, -0.05, 0.88), "LShoulder": (0.19, 0, 1.43),
    "LElbow": (0.24, 0, 1.15), "LWrist": (0.26, -0.05, 0.88), "MidHip": (0, 0, 0.95),
    "RHip": (-0.1, 0, 0.95), "RKnee": (-0.11, -0.02, 0.5), "RAnkle": (-0.11, 0, 0.09),
    "LHip": (0.1, 0, 0.95), "LKnee": (0.11, -0.02, 0.5), "LAnkle": (0.11, 0, 0.09),
    "REye": (-0.035, -0.085, 1.66), "LEye": (0.035, -0.085, 1.66), "REar": (-0.08, 0, 1.64),
    "LEar": (0.08, 0, 1.64),
}


def person(offset=(0.0, 0.0, 0.0)) -> np.ndarray:
    pose = np.full((BODY_25.num_parts, 3), np.nan)
    for name, xyz in STANDING.items():
        pose[BODY_25.index(name)] = xyz
    return pose + np.asarray(offset)


def camera(model="plumb_bob", center=(0.0, -2.5, 1.1), target=(0.0, 0.0, 1.0)) -> Camera:
    return look_at("color", K, LENSES[model], model, SIZE, np.array(center), np.array(target))


def scene(cam, people, *, wall_y=1.2):
    return render_depth(cam, people, wall=(np.array([0.0, 1.0, 0.0]), wall_y))


def exact_people(cam, world):
    px = cam.project(world)
    kp = np.concatenate([px, np.where(np.isfinite(px[..., :1]), 0.9, 0.0)], axis=-1)
    return People(BODY_25, SIZE, kp, np.ones(len(world)))
