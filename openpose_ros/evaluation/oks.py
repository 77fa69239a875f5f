"""COCO object keypoint similarity (OKS) and OKS average precision, plus label loaders.

``average_precision`` follows the COCO keypoint evaluation: per image, detections (best score
first, at most 20) are greedily matched to the unmatched ground truth of highest OKS at each
threshold 0.50:0.05:0.95; ground truth marked ``ignore`` (crowd, no labelled keypoints, or an
unlabelled-region rule) absorbs detections without counting; precision is interpolated at 101
recall points and averaged over thresholds.

``OKS = mean_i exp(-d_i^2 / (2 s^2 k_i^2))`` over the labelled keypoints ``i``, with ``s^2``
the object area and ``k_i = 2 sigma_i`` (COCO's per-keypoint sigmas).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from openpose_ros.people import People

__all__ = [
    "COCO17_NAMES",
    "COCO17_SIGMAS",
    "COCO17_TO_OPENPOSE",
    "MPII_TO_OPENPOSE",
    "EvalImage",
    "oks_matrix",
    "average_precision",
    "people_to_keypoints",
    "load_coco_keypoints",
    "load_mpii_keypoints",
    "sigmas_by_openpose_name",
    "coco_sample_ap",
    "mpii_sample_ap",
]

COCO17_NAMES = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
)
COCO17_SIGMAS = np.array([0.26, 0.25, 0.25, 0.35, 0.35, 0.79, 0.79, 0.72, 0.72, 0.62, 0.62,
                          1.07, 1.07, 0.87, 0.87, 0.89, 0.89]) / 10.0
# COCO-17 name -> OpenPose joint name (COCO_18 and BODY_25 share these names).
COCO17_TO_OPENPOSE = {
    "nose": "Nose", "left_eye": "LEye", "right_eye": "REye", "left_ear": "LEar",
    "right_ear": "REar", "left_shoulder": "LShoulder", "right_shoulder": "RShoulder",
    "left_elbow": "LElbow", "right_elbow": "RElbow", "left_wrist": "LWrist",
    "right_wrist": "RWrist", "left_hip": "LHip", "right_hip": "RHip", "left_knee": "LKnee",
    "right_knee": "RKnee", "left_ankle": "LAnkle", "right_ankle": "RAnkle",
}
# MPII joint order of mmpose's test_mpii.json; only the joints OpenPose also has, by name.
# Pelvis, thorax, upper neck and head top have no OpenPose joint of the same definition
# (OpenPose's Neck is the shoulder midpoint, not MPII's upper neck).
MPII_NAMES = ("r_ankle", "r_knee", "r_hip", "l_hip", "l_knee", "l_ankle", "pelvis", "thorax",
              "upper_neck", "head_top", "r_wrist", "r_elbow", "r_shoulder", "l_shoulder",
              "l_elbow", "l_wrist")
MPII_TO_OPENPOSE = {
    "r_ankle": "RAnkle", "r_knee": "RKnee", "r_hip": "RHip", "l_hip": "LHip", "l_knee": "LKnee",
    "l_ankle": "LAnkle", "r_wrist": "RWrist", "r_elbow": "RElbow", "r_shoulder": "RShoulder",
    "l_shoulder": "LShoulder", "l_elbow": "LElbow", "l_wrist": "LWrist",
}


@dataclass(frozen=True)
class EvalImage:
    """Ground truth and detections of one image, on a common joint list of K joints.

    Attributes:
        gt: ``[G, K, 3]`` (x, y, labelled 0/1) in pixels.
        area: ``[G]`` object area (the OKS scale ``s^2``), pixels^2.
        ignore: ``[G]`` bool, ground truth that matches detections without counting.
        dets: ``[D, K, 3]`` (x, y, score; missing joints NaN or score 0).
        scores: ``[D]`` detection scores.
        ignore_det: ``[D]`` bool, detections left out of the evaluation (unlabelled regions).
    """

    gt: np.ndarray
    area: np.ndarray
    ignore: np.ndarray
    dets: np.ndarray
    scores: np.ndarray
    ignore_det: np.ndarray | None = None


def oks_matrix(
    dets: np.ndarray, gt: np.ndarray, area: np.ndarray, sigmas: np.ndarray
) -> np.ndarray:
    """OKS of every detection with every ground truth: ``[D, K, 3] x [G, K, 3] -> [D, G]``.

    Only labelled ground-truth joints count; a missing detected joint contributes 0.
    """
    variances = (2 * np.asarray(sigmas, dtype=np.float64)) ** 2
    d2 = ((dets[:, None, :, :2] - gt[None, :, :, :2]) ** 2).sum(-1)  # [D, G, K]
    e = d2 / variances / (area[None, :, None] + np.spacing(1)) / 2
    sim = np.nan_to_num(np.exp(-e), nan=0.0)
    labelled = gt[None, :, :, 2] > 0
    count = labelled.sum(-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, (sim * labelled).sum(-1) / count, 0.0)


def _match(image: EvalImage, sigmas: np.ndarray, threshold: float, max_dets: int):
    """COCO greedy matching: per kept detection (score order), (score, tp, ignored)."""
    order = np.argsort(-image.scores, kind="stable")[:max_dets]
    dets, scores = image.dets[order], image.scores[order]
    skip = np.zeros(len(order), bool) if image.ignore_det is None else image.ignore_det[order]
    gt_order = np.argsort(image.ignore, kind="stable")  # counted ground truth first
    gt, ignore = image.gt[gt_order], image.ignore[gt_order]
    ious = oks_matrix(dets, gt, image.area[gt_order], sigmas) if len(gt) and len(dets) \
        else np.zeros((len(dets), len(gt)))
    taken = np.zeros(len(gt), bool)
    out = []
    for d in range(len(dets)):
        best, best_iou = -1, min(threshold, 1 - 1e-10)
        for g in range(len(gt)):
            if taken[g]:
                continue
            if best > -1 and not ignore[best] and ignore[g]:
                break  # a counted match beats any ignored one
            if ious[d, g] < best_iou:
                continue
            best, best_iou = g, ious[d, g]
        if best >= 0:
            taken[best] = True
            out.append((scores[d], not ignore[best], bool(ignore[best])))
        else:  # a false positive, unless it lies where nobody was labelled
            out.append((scores[d], False, bool(skip[d])))
    return out


def average_precision(images: list[EvalImage], sigmas: np.ndarray, *,
                      thresholds: np.ndarray | None = None, max_dets: int = 20) -> float:
    """COCO OKS AP over ``images`` (mean of AP at each OKS threshold; NaN without ground truth)."""
    thresholds = np.linspace(0.5, 0.95, 10) if thresholds is None else thresholds
    counted = sum(int((~im.ignore).sum()) for im in images)
    if counted == 0:
        return float("nan")
    recall_points = np.linspace(0, 1, 101)
    aps = []
    for t in thresholds:
        rows = [m for im in images for m in _match(im, sigmas, float(t), max_dets)]
        rows = [r for r in rows if not r[2]]
        rows.sort(key=lambda r: -r[0])
        tp = np.cumsum([r[1] for r in rows]) if rows else np.zeros(0)
        fp = np.cumsum([not r[1] for r in rows]) if rows else np.zeros(0)
        recall = tp / counted
        precision = tp / np.maximum(tp + fp, np.spacing(1))
        precision = np.maximum.accumulate(precision[::-1])[::-1] if len(rows) else precision
        idx = np.searchsorted(recall, recall_points, side="left")
        reached = idx < len(precision)
        sampled = np.zeros(len(recall_points))
        sampled[reached] = precision[idx[reached]]
        aps.append(float(np.mean(sampled)))
    return float(np.mean(aps))


def people_to_keypoints(
    people: People, names: tuple[str, ...], mapping: dict[str, str]
) -> np.ndarray:
    """``[P, K, 3]`` keypoints of ``people`` on the joint list ``names`` (mapped by name)."""
    out = np.full((len(people), len(names), 3), np.nan, dtype=np.float64)
    out[..., 2] = 0.0
    for k, name in enumerate(names):
        if name in mapping and people.layout.has(mapping[name]):
            out[:, k] = people.body[:, people.layout.index(mapping[name])]
    return out


Labels = dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]


def load_coco_keypoints(json_path: str | Path) -> Labels:
    """COCO person keypoints per image file name: ``(gt [G,17,3], area [G], ignore [G])``.

    Ground truth is ignored when it is a crowd or has no labelled keypoint (as COCOeval).
    """
    data = json.loads(Path(json_path).read_text())
    names = {im["id"]: im["file_name"] for im in data["images"]}
    out: dict[str, list] = {name: [] for name in names.values()}
    for ann in data["annotations"]:
        kp = np.asarray(ann["keypoints"], dtype=np.float64).reshape(17, 3)
        kp[:, 2] = kp[:, 2] > 0
        ignore = bool(ann.get("iscrowd", 0)) or ann.get("num_keypoints", int(kp[:, 2].sum())) == 0
        out[names[ann["image_id"]]].append((kp, float(ann["area"]), ignore))
    return {
        name: (np.array([g for g, _, _ in rows]).reshape(-1, 17, 3),
               np.array([a for _, a, _ in rows]), np.array([i for _, _, i in rows], dtype=bool))
        for name, rows in out.items()
    }


def load_mpii_keypoints(json_path: str | Path) -> Labels:
    """MPII labels per image as ``(gt [G,12,3], area [G], region [G,4])`` on ``MPII_TO_OPENPOSE``.

    MPII has no segmentation areas; ``area`` is the area of the box around the person's
    labelled joints (all 16, head top included), close to COCO's segment area for an upright
    person. ``region`` is the labelled person's box ``center +- 100 * scale`` (x0, y0, x1, y1):
    MPII labels only some people, so detections outside every region are not evaluated.
    """
    entries = json.loads(Path(json_path).read_text())
    keep = [MPII_NAMES.index(n) for n in MPII_TO_OPENPOSE]
    out: dict[str, list] = {}
    for e in entries:
        joints = np.asarray(e["joints"], dtype=np.float64)
        vis = np.asarray(e["joints_vis"], dtype=np.float64) > 0
        pts = joints[vis]
        area = float(np.prod(pts.max(axis=0) - pts.min(axis=0))) if len(pts) > 1 else 0.0
        gt = np.concatenate([joints[keep], vis[keep, None].astype(np.float64)], axis=1)
        cx, cy = e["center"]
        half = 100.0 * float(e["scale"])
        region = (cx - half, cy - half, cx + half, cy + half)
        out.setdefault(e["image"], []).append((gt, area, region))
    return {
        name: (np.array([g for g, _, _ in rows]), np.array([a for _, a, _ in rows]),
               np.array([r for _, _, r in rows]))
        for name, rows in out.items()
    }


def sigmas_by_openpose_name(mapping: dict[str, str]) -> np.ndarray:
    """COCO sigmas for the joints of ``mapping`` (dataset name -> OpenPose name), in its order."""
    coco_by_openpose = {v: k for k, v in COCO17_TO_OPENPOSE.items()}
    return np.array([COCO17_SIGMAS[COCO17_NAMES.index(coco_by_openpose[op])]
                     for op in mapping.values()])


def _outside(dets: np.ndarray, regions: np.ndarray) -> np.ndarray:
    """``[D]`` detections whose found joints' mean lies outside every ``[R, 4]`` region."""
    found = dets[..., 2] > 0
    count = np.maximum(found.sum(axis=1), 1)
    cx = np.where(found, dets[..., 0], 0).sum(axis=1) / count
    cy = np.where(found, dets[..., 1], 0).sum(axis=1) / count
    inside = ((cx[:, None] >= regions[None, :, 0]) & (cx[:, None] <= regions[None, :, 2])
              & (cy[:, None] >= regions[None, :, 1]) & (cy[:, None] <= regions[None, :, 3]))
    return ~inside.any(axis=1) | ~found.any(axis=1)


Estimate = Callable[[Sequence[np.ndarray]], list[People]]


def coco_sample_ap(estimate: Estimate, folder: str | Path, labels: str = "test_coco.json") -> float:
    """OKS AP of ``estimate`` (images -> People) on a folder of COCO images and their labels."""
    import cv2

    folder = Path(folder)
    images = []
    for name, (gt, area, ignore) in load_coco_keypoints(folder / labels).items():
        people = estimate([cv2.imread(str(folder / name))])[0]
        dets = people_to_keypoints(people, COCO17_NAMES, COCO17_TO_OPENPOSE)
        images.append(EvalImage(gt, area, ignore, dets, people.scores))
    return average_precision(images, COCO17_SIGMAS)


def mpii_sample_ap(estimate: Estimate, folder: str | Path, labels: str = "test_mpii.json") -> float:
    """OKS AP on MPII labels: the 12 joints shared by name, with COCO's sigmas for them.

    Detections outside every labelled person's region are not evaluated (MPII leaves other
    people unlabelled).
    """
    import cv2

    folder = Path(folder)
    names = tuple(MPII_TO_OPENPOSE)
    images = []
    for name, (gt, area, regions) in load_mpii_keypoints(folder / labels).items():
        people = estimate([cv2.imread(str(folder / name))])[0]
        dets = people_to_keypoints(people, names, MPII_TO_OPENPOSE)
        images.append(EvalImage(gt, area, np.zeros(len(gt), bool), dets, people.scores,
                                _outside(dets, regions)))
    return average_precision(images, sigmas_by_openpose_name(MPII_TO_OPENPOSE))
