"""Top-down hand and face keypoints for the people of one or more images (spec §4).

Boxes come from the body keypoints (:mod:`openpose_ros.handface.boxes`); every usable box of
every image is cropped with one ``grid_sample`` call, all hand crops go through the hand
network in one forward pass and all face crops through the face network in another, and the
per-channel argmax of the ×8 upsampled maps is mapped back to image pixels. Keypoints a box
could not give (missing joints, box too small or outside the image, person over the
``max_people`` cap) are NaN with score 0, like every missing keypoint in :class:`People`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from openpose_ros.handface.boxes import (
    FACE_BOX_THRESHOLD,
    FACE_MIN_SIDE,
    HAND_BOX_THRESHOLD,
    HAND_MIN_AREA,
    HAND_MIN_SIDE,
    face_boxes,
    hand_boxes,
    hand_scale_boxes,
    square_boxes,
    usable_boxes,
)
from openpose_ros.handface.crop import (
    crop_affine,
    crop_boxes,
    crop_to_image,
    images_to_tensor,
    normalise_bgr,
)
from openpose_ros.handface.peaks import heatmap_argmax
from openpose_ros.layouts import FACE_70, HAND_21
from openpose_ros.people import People, empty_keypoints

__all__ = ["HandFaceConfig", "HandFaceDetector", "largest_people"]

_NET_STRIDE = 8


@dataclass(frozen=True)
class HandFaceConfig:
    """Hand and face detection settings (OpenPose flag names and defaults, spec §3.9).

    Attributes:
        hands, faces: run the hand / face network.
        hand_net_resolution, face_net_resolution: crop side in pixels fed to each network; a
            positive multiple of 8 (the networks' stride). 368 is OpenPose's; smaller is faster
            and coarser.
        hand_scale_number: crops per hand at scales (1 − range/2) … (1 + range/2); the scale
            with the highest mean keypoint score wins.
        hand_scale_range: that range (OpenPose's best-accuracy preset: 6 scales, 0.4).
        max_people: at most this many people per image get hands and faces, the largest
            (keypoint bounding-box area) first; -1 means everyone.
        hand_box_threshold, face_box_threshold: body-keypoint score a joint must exceed to
            take part in a box.
        hand_render_threshold, face_render_threshold: keypoint score below which a renderer
            should not draw a hand/face keypoint. The detector keeps every keypoint, as
            OpenPose does; these travel with the config for the renderer.
        max_batch: most crops per forward pass (0 = all of them at once); bounds GPU memory
            when many people and hand scales meet.
    """

    hands: bool = True
    faces: bool = True
    hand_net_resolution: int = 368
    face_net_resolution: int = 368
    hand_scale_number: int = 1
    hand_scale_range: float = 0.4
    max_people: int = -1
    hand_box_threshold: float = HAND_BOX_THRESHOLD
    face_box_threshold: float = FACE_BOX_THRESHOLD
    hand_render_threshold: float = 0.2
    face_render_threshold: float = 0.4
    max_batch: int = 0

    def __post_init__(self) -> None:
        for name in ("hand_net_resolution", "face_net_resolution"):
            value = getattr(self, name)
            if value <= 0 or value % _NET_STRIDE:
                raise ValueError(f"{name} must be a positive multiple of 8, got {value}")
        if self.hand_scale_number < 1:
            raise ValueError(f"hand_scale_number must be >= 1, got {self.hand_scale_number}")
        if not 0.0 <= self.hand_scale_range < 2.0:
            raise ValueError(f"hand_scale_range must be in [0, 2), got {self.hand_scale_range}")
        if self.max_people < -1 or self.max_batch < 0:
            raise ValueError("max_people must be >= -1 and max_batch >= 0")


def largest_people(body: np.ndarray, max_people: int) -> np.ndarray:
    """Indices of the ``max_people`` largest people, in their original order.

    Size is the area of the bounding box of a person's keypoints with score > 0; ties keep
    the earlier person. ``max_people < 0`` keeps everyone.

    Args:
        body: ``[P, J, 3]`` keypoints.

    Returns:
        int64 indices, sorted ascending.
    """
    count = len(body)
    if max_people < 0 or count <= max_people:
        return np.arange(count)
    seen = (body[..., 2] > 0) & np.isfinite(body[..., :2]).all(axis=-1)  # [P, J]
    low = np.where(seen[..., None], body[..., :2], np.inf).min(axis=1)  # [P, 2]
    high = np.where(seen[..., None], body[..., :2], -np.inf).max(axis=1)
    area = np.where(seen.any(axis=1), np.prod(high - low, axis=1), -1.0)
    keep = np.argsort(-area, kind="stable")[:max_people]
    return np.sort(keep)


def _check_image(image: np.ndarray) -> np.ndarray:
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3:
        shape = getattr(image, "shape", type(image).__name__)
        raise ValueError(f"expected a BGR image of shape H x W x 3, got {shape}")
    return image


def _check_boxes(boxes: np.ndarray) -> np.ndarray:
    boxes = np.asarray(boxes, dtype=np.float64)
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError(f"expected boxes of shape [B, 4] (x, y, w, h), got {boxes.shape}")
    return boxes


class HandFaceDetector:
    """Hands and faces for the people of one image, or of several images in one batch.

    Args:
        hand_net: hand network (input ``[N, 3, H, W]`` BGR, pixel/256 − 0.5; output
            ``[N, 22, H/8, W/8]``, background last), or None when ``config.hands`` is off.
        face_net: face network (output ``[N, 71, H/8, W/8]``), or None when faces are off.
        config: the settings.

    Raises:
        ValueError: a part is enabled without its network. The methods raise ValueError too,
            and only it, for bad input: an image that is not H×W×3, People whose image_size
            differs from the image, boxes not shaped [B, 4]. Boxes that are merely degenerate
            (empty, too small, off the image) are skipped, never an error.
    """

    def __init__(
        self,
        hand_net: nn.Module | None,
        face_net: nn.Module | None,
        config: HandFaceConfig = HandFaceConfig(),
    ) -> None:
        if config.hands and hand_net is None:
            raise ValueError("config.hands is on but no hand network was given")
        if config.faces and face_net is None:
            raise ValueError("config.faces is on but no face network was given")
        self.hand_net = hand_net
        self.face_net = face_net
        self.config = config

    def __call__(self, image_bgr: np.ndarray, people: People) -> People:
        """``people`` with left_hand/right_hand ``[P, 21, 3]`` and face ``[P, 70, 3]`` filled
        (image pixels); a disabled part keeps what ``people`` had (normally ``[P, 0, 3]``)."""
        return self.detect_batch([image_bgr], [people])[0]

    @torch.inference_mode()
    def detect_batch(self, images: list[np.ndarray], people: list[People]) -> list[People]:
        """:meth:`__call__` for several images (e.g. cameras), one forward pass per network."""
        if len(images) != len(people):
            raise ValueError(f"{len(images)} images but {len(people)} People")
        images = [_check_image(im) for im in images]
        for im, ppl in zip(images, people):
            if tuple(ppl.image_size) != (im.shape[1], im.shape[0]):
                raise ValueError(
                    f"People.image_size {ppl.image_size} does not match the image "
                    f"{im.shape[1]}x{im.shape[0]}"
                )
        cfg = self.config
        if not images:
            return []
        chosen = [largest_people(p.body, cfg.max_people) for p in people]
        image_of = np.repeat(np.arange(len(images)), [len(c) for c in chosen])
        bodies = [p.body[c] for p, c in zip(people, chosen)]
        pixels = _LazyImages(images)
        hands = faces = None
        if cfg.hands:
            boxes = np.concatenate(
                [hand_boxes(b, p.layout, cfg.hand_box_threshold) for b, p in zip(bodies, people)]
            )  # [N, 2, 4], N = people chosen in all images; left, right
            kp = self._hands(pixels, np.repeat(image_of, 2), boxes.reshape(-1, 4),
                             np.tile([True, False], len(boxes)))
            hands = kp.reshape(-1, 2, HAND_21.num_parts, 3)
        if cfg.faces:
            boxes = np.concatenate(
                [face_boxes(b, p.layout, cfg.face_box_threshold) for b, p in zip(bodies, people)]
            )
            faces = self._faces(pixels, image_of, boxes)
        return [
            _fill(p, c, image_of == i, hands, faces)
            for i, (p, c) in enumerate(zip(people, chosen))
        ]

    @torch.inference_mode()
    def detect_hands(self, image: np.ndarray, boxes: np.ndarray, is_left: np.ndarray) -> np.ndarray:
        """Hand keypoints for boxes the caller already has (a hand ROI input).

        Args:
            image: BGR ``H×W×3`` image.
            boxes: ``[B, 4]`` (x, y, w, h) image pixels; a non-square box is widened to a square
                of side max(w, h) about its centre.
            is_left: bool ``[B]``; left hands are mirrored for the right-hand network.

        Returns:
            float32 ``[B, 21, 3]`` (x, y, score) in image pixels; NaN, 0 for skipped boxes.
        """
        if self.hand_net is None:
            raise ValueError("no hand network was given")
        boxes = square_boxes(_check_boxes(boxes))
        is_left = np.broadcast_to(np.asarray(is_left, dtype=bool), (len(boxes),))
        return self._hands(_LazyImages([_check_image(image)]), np.zeros(len(boxes), np.int64),
                           boxes, is_left)

    @torch.inference_mode()
    def detect_faces(self, image: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """Face keypoints for boxes the caller already has: float32 ``[B, 70, 3]``; see
        :meth:`detect_hands` for the box format."""
        if self.face_net is None:
            raise ValueError("no face network was given")
        boxes = square_boxes(_check_boxes(boxes))
        return self._faces(_LazyImages([_check_image(image)]), np.zeros(len(boxes), np.int64),
                           boxes)

    def _hands(
        self, pixels: _LazyImages, image_index: np.ndarray, boxes: np.ndarray, mirror: np.ndarray
    ) -> np.ndarray:
        """[B, 21, 3] for hand boxes [B, 4], all scales of all boxes in one batch."""
        cfg = self.config
        scales = hand_scale_boxes(boxes, cfg.hand_scale_number, cfg.hand_scale_range)
        num_scales, count = scales.shape[:2]
        kp = self._keypoints(
            self.hand_net, pixels, np.tile(image_index, num_scales), scales.reshape(-1, 4),
            np.tile(mirror, num_scales), cfg.hand_net_resolution, HAND_21.num_parts,
            HAND_MIN_SIDE, HAND_MIN_AREA,
        ).reshape(num_scales, count, HAND_21.num_parts, 3)
        if num_scales == 1:
            return kp[0]
        # Best scale per hand: highest mean score; a skipped crop never wins (its score is 0,
        # but so could a real one be, hence -inf); argmax keeps the earlier scale on ties.
        ran = np.isfinite(kp[..., 0]).any(axis=-1)
        mean = np.where(ran, kp[..., 2].mean(axis=-1), -np.inf)
        best = mean.argmax(axis=0)
        return kp[best, np.arange(count)]

    def _faces(
        self, pixels: _LazyImages, image_index: np.ndarray, boxes: np.ndarray
    ) -> np.ndarray:
        return self._keypoints(
            self.face_net, pixels, image_index, boxes, np.zeros(len(boxes), bool),
            self.config.face_net_resolution, FACE_70.num_parts, FACE_MIN_SIDE,
        )

    def _keypoints(
        self,
        net: nn.Module,
        pixels: _LazyImages,
        image_index: np.ndarray,
        boxes: np.ndarray,
        mirror: np.ndarray,
        size: int,
        num_parts: int,
        min_side: float,
        min_area: float = 0.0,
    ) -> np.ndarray:
        """Crop, run and decode the usable ``boxes``: float32 ``[B, num_parts, 3]``."""
        out = empty_keypoints(len(boxes), num_parts)
        sizes = pixels.sizes[image_index]  # [B, 2] (width, height) of each box's image
        run = np.flatnonzero(usable_boxes(boxes, sizes, min_side, min_area))
        if len(run) == 0:
            return out
        param = next(net.parameters(), None)
        device = param.device if param is not None else torch.device("cpu")
        dtype = param.dtype if param is not None else torch.float32
        affine = crop_affine(boxes[run], mirror[run], size)
        crops = crop_boxes(pixels.on(device), image_index[run], affine, size)
        inputs = normalise_bgr(crops).to(dtype)
        step = self.config.max_batch or len(inputs)
        maps = torch.cat([net(inputs[i : i + step]) for i in range(0, len(inputs), step)])
        found = heatmap_argmax(maps, num_parts, (size, size))
        xy = crop_to_image(found[..., :2], affine)
        out[run, :, :2] = xy.cpu().numpy()
        out[run, :, 2] = found[..., 2].cpu().numpy()
        return out


class _LazyImages:
    """The frame's images, uploaded to a device once and only if some box needs them."""

    def __init__(self, images: list[np.ndarray]) -> None:
        self.images = images
        self.sizes = np.array([(im.shape[1], im.shape[0]) for im in images], dtype=np.float64)
        self._tensors: dict[torch.device, torch.Tensor] = {}

    def on(self, device: torch.device) -> torch.Tensor:
        if device not in self._tensors:
            self._tensors[device] = images_to_tensor(self.images, device)
        return self._tensors[device]


def _fill(people: People, chosen: np.ndarray, rows: np.ndarray, hands, faces) -> People:
    """``people`` with the keypoints of its chosen persons (``rows`` of the batch) filled."""
    count = len(people)
    parts = {}
    if hands is not None:
        left = empty_keypoints(count, HAND_21.num_parts)
        right = empty_keypoints(count, HAND_21.num_parts)
        left[chosen] = hands[rows, 0]
        right[chosen] = hands[rows, 1]
        parts.update(left_hand=left, right_hand=right)
    if faces is not None:
        face = empty_keypoints(count, FACE_70.num_parts)
        face[chosen] = faces[rows]
        parts["face"] = face
    return people.with_parts(**parts)
