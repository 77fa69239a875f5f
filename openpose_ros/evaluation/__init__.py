"""Measuring tools, kept apart from the pipeline: they read ground truth, never feed the nodes.

- ``oks``: COCO object-keypoint similarity and AP of ``People`` against annotations.
- ``synthetic_maps``: heatmaps and PAFs rendered from known skeletons (decoding round trips).
- ``datasets``: readers of the multi-view captures (CMU Panoptic, Pose2Sim) under ``../shared``.
- ``multiview``: matching and error measures of 3D reconstructions against ground truth.
"""
