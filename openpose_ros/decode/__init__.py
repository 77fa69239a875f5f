"""OpenPose's body post-processing (spec §3), as pure functions of tensors.

``decode_body`` turns one image's net output (heatmaps + PAFs, one map per scale) into
``People``; ``BodyEstimator`` runs a network on images and decodes them. Submodules:
``sizing`` (net input sizes and scales), ``resize`` (the CUDA bicubic), ``upsampled``,
``blocks`` and ``nms`` (exact lazy upsampling and NMS), ``peaks``, ``paf``, ``assemble``,
``body``, ``estimator``, ``openpose_json`` and ``tensor_ops`` (CPU fast paths of ``nonzero``
and comparisons). Ground-truth maps and OKS live in ``openpose_ros.evaluation``.
"""

from openpose_ros.decode.body import BodyDecodeConfig, decode_body, scale_keypoints
from openpose_ros.decode.resize import upsample_openpose
from openpose_ros.decode.sizing import (
    net_input_size, plan_scales, scale_input_to_net, scale_net_to_output,
)

__all__ = [
    "BodyDecodeConfig",
    "decode_body",
    "scale_keypoints",
    "upsample_openpose",
    "net_input_size",
    "plan_scales",
    "scale_input_to_net",
    "scale_net_to_output",
]
