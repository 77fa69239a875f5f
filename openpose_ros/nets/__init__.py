"""OpenPose networks in PyTorch (ROS-free core).

One module per family, each keeping the original layer names so weights load by name:
``body25.Body25Net``, ``vgg_body.CocoNet`` / ``vgg_body.MpiNet``, ``handface.HandNet`` /
``handface.FaceNet`` and ``lightweight.LightweightPoseNet``. Every network takes BGR planar
input normalised as ``pixel / 256 - 0.5`` and returns ``net_output`` at stride 8.
``load_model(name, ...)`` builds one with verified weights from the models directory.
"""

from importlib import import_module

from openpose_ros.nets.base import PoseNetwork
from openpose_ros.nets.body25 import Body25Net
from openpose_ros.nets.device import prepare_network, resolve_device
from openpose_ros.nets.handface import FaceNet, HandNet
from openpose_ros.nets.lightweight import LightweightPoseNet
from openpose_ros.nets.vgg_body import CocoNet, MpiNet
from openpose_ros.nets.weights import WeightFileError

# The registry (and the loader, which uses it) load on first use, so that
# ``python -m openpose_ros.nets.registry`` does not import its own module twice.
_LAZY = {
    "load_model": "loader", "build_network": "loader", "load_weights_file": "loader",
    "MODELS": "registry", "locate": "registry", "ModelNotFoundError": "registry",
}

__all__ = [
    "PoseNetwork", "Body25Net", "CocoNet", "MpiNet", "HandNet", "FaceNet", "LightweightPoseNet",
    "resolve_device", "prepare_network", "WeightFileError", *_LAZY,
]


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(import_module(f"openpose_ros.nets.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'openpose_ros.nets' has no attribute {name!r}")
