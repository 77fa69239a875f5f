"""OpenPose networks in PyTorch (ROS-free core).

One module per family, each keeping the original layer names so weights load by name:
``body25.Body25Net``, ``vgg_body.CocoNet`` / ``vgg_body.MpiNet``, ``handface.HandNet`` /
``handface.FaceNet`` and ``lightweight.LightweightPoseNet``. Every network takes BGR planar
input normalised as ``pixel / 256 - 0.5`` and returns ``net_output`` at stride 8.
``load_model(name, ...)`` builds one with verified weights from the models directory.
"""

from openpose_ros.nets.base import PoseNetwork
from openpose_ros.nets.body25 import Body25Net
from openpose_ros.nets.device import prepare_network, resolve_device
from openpose_ros.nets.handface import FaceNet, HandNet
from openpose_ros.nets.lightweight import LightweightPoseNet
from openpose_ros.nets.loader import build_network, load_model, load_weights_file
from openpose_ros.nets.registry import MODELS, ModelNotFoundError, locate
from openpose_ros.nets.vgg_body import CocoNet, MpiNet
from openpose_ros.nets.weights import WeightFileError

__all__ = [
    "PoseNetwork", "Body25Net", "CocoNet", "MpiNet", "HandNet", "FaceNet", "LightweightPoseNet",
    "load_model", "build_network", "load_weights_file", "resolve_device", "prepare_network",
    "MODELS", "locate", "ModelNotFoundError", "WeightFileError",
]
