"""Ground-truth net output rendered from known skeletons, and scoring a decode against them.

The maps follow the OpenPose paper (Cao et al., CVPR 2017, eqs. 7-9):

- each part heatmap is the max over people of a Gaussian peak ``exp(-|p - x|^2 / (2 sigma^2))``
  (the paper folds the 2 into sigma; written this way, sigma = 7 net pixels is what OpenPose's
  training data uses);
- each PAF is, at every map cell within ``limb_width`` of a limb segment, the unit vector along
  the limb, averaged over the people whose limbs cover the cell. The paper's segment
  (``0 <= along <= length``) is extended by ``limb_width`` past both joints, as OpenPose's
  training data does (its limb region is the segment's bounding box grown by the width): with
  the strict segment the x8-interpolated PAF at a joint sits near half strength, and short
  limbs fail the all-samples-above rule;
- the background channel is ``max(0, 1 - max_j S_j)``.

Cells sit on the stride-8 grid with OpenPose's half-pixel centres: cell ``g`` is net pixel
``8 g + 3.5``. Skeletons are in source-image pixels and go to net pixels with
``scaleInputToNet`` exactly as the image warp does (spec §3.2). Benchmarks and node tests use
the same synthesiser.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from openpose_ros.decode.sizing import net_input_size, scale_input_to_net
from openpose_ros.layouts import Layout

__all__ = [
    "SyntheticScene",
    "skeleton_tree",
    "random_people",
    "render_net_output",
    "synthetic_scene",
    "RoundTrip",
    "score_round_trip",
]

# A standing person facing the camera, by joint name, in units of body height (neck at 0, y
# down). Image-left is the person's right. Shape data, shared by all layouts through the names.
_TEMPLATE = {
    "Head": (0.0, -0.19), "Nose": (0.0, -0.10), "Neck": (0.0, 0.0), "Chest": (0.0, 0.16),
    "REye": (-0.03, -0.125), "LEye": (0.03, -0.125), "REar": (-0.06, -0.11), "LEar": (0.06, -0.11),
    "RShoulder": (-0.11, 0.0), "RElbow": (-0.14, 0.17), "RWrist": (-0.15, 0.32),
    "LShoulder": (0.11, 0.0), "LElbow": (0.14, 0.17), "LWrist": (0.15, 0.32),
    "MidHip": (0.0, 0.33), "RHip": (-0.06, 0.33), "RKnee": (-0.07, 0.58), "RAnkle": (-0.07, 0.80),
    "LHip": (0.06, 0.33), "LKnee": (0.07, 0.58), "LAnkle": (0.07, 0.80),
    "LBigToe": (0.11, 0.87), "LSmallToe": (0.14, 0.86), "LHeel": (0.06, 0.84),
    "RBigToe": (-0.11, 0.87), "RSmallToe": (-0.14, 0.86), "RHeel": (-0.06, 0.84),
}
_TEMPLATE_TOP, _TEMPLATE_BOTTOM = -0.19, 0.87


@dataclass(frozen=True)
class SyntheticScene:
    """One synthetic frame.

    Attributes:
        layout: body layout of ``truth`` and ``net_output``.
        image_size: source image ``(w, h)``.
        net_size: net input ``(w, h)``; ``net_output`` is ``[C, h/8, w/8]``.
        truth: float32 ``[P, J, 3]`` (x, y, visible 0/1) in source-image pixels.
        net_output: float32 ``[C, h/8, w/8]`` maps in OpenPose channel order.
    """

    layout: Layout
    image_size: tuple[int, int]
    net_size: tuple[int, int]
    truth: np.ndarray
    net_output: torch.Tensor


def skeleton_tree(layout: Layout) -> list[tuple[int, int]]:
    """(parent, child) edges of the layout's limb tree, breadth-first from the first pair's A.

    Redundant pairs (shoulder-ear) are not tree edges.
    """
    edges = [p for k, p in enumerate(layout.paf_pairs) if k not in layout.redundant_pairs]
    root = layout.paf_pairs[0][0]
    seen, order, frontier = {root}, [], [root]
    while frontier:
        nxt = []
        for parent in frontier:
            for a, b in edges:
                child = b if a == parent else a if b == parent else None
                if child is not None and child not in seen:
                    seen.add(child)
                    order.append((parent, child))
                    nxt.append(child)
        frontier = nxt
    return order


def _posed(layout: Layout, count: int, rng: np.random.Generator, bend: float) -> np.ndarray:
    """``[count, J, 2]`` template poses (height 1) with random bends along the limb tree."""
    template = np.array([_TEMPLATE[n] for n in layout.part_names], dtype=np.float64)
    pose = np.repeat(template[None], count, axis=0)
    angle = np.zeros((count, layout.num_parts))
    for parent, child in skeleton_tree(layout):
        angle[:, child] = angle[:, parent] + rng.uniform(-bend, bend, count)
        bone = template[child] - template[parent]
        c, s = np.cos(angle[:, child]), np.sin(angle[:, child])
        pose[:, child, 0] = pose[:, parent, 0] + c * bone[0] - s * bone[1]
        pose[:, child, 1] = pose[:, parent, 1] + s * bone[0] + c * bone[1]
    return pose


def _hide_subtrees(
    layout: Layout, count: int, rng: np.random.Generator, partial: float
) -> np.ndarray:
    """``[count, J]`` visibility: with probability ``partial`` a random limb subtree is hidden."""
    tree = skeleton_tree(layout)
    visible = np.ones((count, layout.num_parts), dtype=bool)
    children = {p: [c for q, c in tree if q == p] for p in range(layout.num_parts)}
    for person in np.flatnonzero(rng.random(count) < partial):
        _, cut = tree[rng.integers(len(tree))]
        stack = [cut]
        while stack:
            joint = stack.pop()
            visible[person, joint] = False
            stack.extend(children[joint])
        if visible[person].sum() < 5:  # keep enough joints for a person to be reportable
            visible[person] = True
    return visible


def random_people(
    layout: Layout,
    num_people: int,
    image_size: tuple[int, int],
    rng: np.random.Generator,
    *,
    overlap: bool = False,
    partial: float = 0.3,
    bend: float = 0.35,
    margin: float = 0.04,
) -> np.ndarray:
    """Random skeletons in image pixels, ``[P, J, 3]`` (x, y, visible).

    Without ``overlap`` each person gets its own cell of a grid over the image (so the rendered
    maps of different people never touch); with it, people are placed anywhere at random sizes,
    so limbs cross. ``bend`` is the largest bend per tree joint in radians (arms can cross the
    body); ``partial`` the probability of a hidden limb subtree; ``margin`` the border kept free,
    as a fraction of the image height.
    """
    width, height = image_size
    border = margin * height
    pose = _posed(layout, num_people, rng, bend)
    cols = int(np.ceil(np.sqrt(num_people * width / height)))
    rows = int(np.ceil(num_people / max(cols, 1)))
    cell_w, cell_h = (width - 2 * border) / cols, (height - 2 * border) / rows
    if overlap:
        size = rng.uniform(0.25, 0.6, num_people) * height
    else:
        size = np.full(num_people, 0.8 * min(cell_h, 1.4 * cell_w))
    extent = _TEMPLATE_BOTTOM - _TEMPLATE_TOP
    pose = pose * (size / extent)[:, None, None]
    lo, hi = pose.min(axis=1), pose.max(axis=1)  # [P, 2]
    if overlap:
        room_lo = border - lo
        room_hi = np.array([width, height]) - border - hi
        offset = rng.uniform(room_lo, np.maximum(room_lo, room_hi))
    else:
        slot = rng.permutation(rows * cols)[:num_people]
        cell = np.stack([slot % cols * cell_w, slot // cols * cell_h], axis=1) + border
        free = np.array([cell_w, cell_h]) - (hi - lo)
        offset = cell - lo + rng.uniform(0, 1, (num_people, 2)) * np.maximum(free, 0)
    pose = pose + offset[:, None, :]
    visible = _hide_subtrees(layout, num_people, rng, partial)
    return np.concatenate([pose, visible[..., None]], axis=-1).astype(np.float32)


def render_net_output(
    truth: np.ndarray,
    layout: Layout,
    image_size: tuple[int, int],
    net_size: tuple[int, int],
    *,
    stride: int = 8,
    sigma: float = 7.0,
    limb_width: float = 8.0,
) -> torch.Tensor:
    """Ideal ``net_output`` ``[C, net_h/stride, net_w/stride]`` for skeletons ``truth``.

    Args:
        truth: ``[P, J, 3]`` (x, y, visible) in image pixels.
        sigma: heatmap Gaussian standard deviation in net pixels (OpenPose trains with 7).
        limb_width: PAF half-width in net pixels (one map cell).
    """
    w_map, h_map = net_size[0] // stride, net_size[1] // stride
    s = scale_input_to_net(image_size, net_size)
    xy = torch.as_tensor(truth[..., :2], dtype=torch.float64) * s  # net pixels
    vis = torch.as_tensor(truth[..., 2] > 0)
    gy = torch.arange(h_map, dtype=torch.float64) * stride + (stride - 1) / 2
    gx = torch.arange(w_map, dtype=torch.float64) * stride + (stride - 1) / 2
    grid = torch.stack(torch.meshgrid(gx, gy, indexing="xy"), dim=-1)  # [h, w, 2] (x, y)

    d2 = ((grid[None, None] - xy[:, :, None, None]) ** 2).sum(-1)  # [P, J, h, w]
    gauss = torch.exp(-d2 / (2 * sigma**2)) * vis[:, :, None, None]
    heat = gauss.amax(dim=0) if len(truth) else torch.zeros(layout.num_parts, h_map, w_map)

    a_idx = torch.tensor([a for a, _ in layout.paf_pairs])
    b_idx = torch.tensor([b for _, b in layout.paf_pairs])
    a, b = xy[:, a_idx], xy[:, b_idx]  # [P, K, 2]
    both = vis[:, a_idx] & vis[:, b_idx]
    length = (b - a).norm(dim=-1).clamp(min=1e-9)
    unit = (b - a) / length[..., None]
    rel = grid[None, None] - a[:, :, None, None]  # [P, K, h, w, 2]
    along = (rel * unit[:, :, None, None]).sum(-1)
    ux, uy = unit[:, :, None, None, 0], unit[:, :, None, None, 1]
    across = (rel[..., 0] * uy - rel[..., 1] * ux).abs()
    ends = (along >= -limb_width) & (along <= length[..., None, None] + limb_width)
    on = ends & (across <= limb_width) & both[..., None, None]
    total = (unit[:, :, None, None] * on[..., None]).sum(dim=0)  # [K, h, w, 2]
    count = on.sum(dim=0).clamp(min=1)[..., None]
    paf = total / count

    out = torch.zeros(layout.num_channels, h_map, w_map, dtype=torch.float64)
    out[: layout.num_parts] = heat
    out[layout.background_channel] = (1 - heat.amax(dim=0)).clamp(min=0)
    cx = torch.tensor([c for c, _ in layout.paf_channels])
    cy = torch.tensor([c for _, c in layout.paf_channels])
    out[cx], out[cy] = paf[..., 0], paf[..., 1]
    return out.float()


def synthetic_scene(
    layout: Layout,
    num_people: int,
    rng: np.random.Generator,
    *,
    image_size: tuple[int, int] = (1920, 1080),
    net_resolution: tuple[int, int] = (-1, 368),
    overlap: bool = False,
    partial: float = 0.3,
    **render_options: float,
) -> SyntheticScene:
    """Random people and their ideal net output for one frame (656x368 net at 1080p)."""
    net_size = net_input_size(image_size, net_resolution)
    truth = random_people(layout, num_people, image_size, rng, overlap=overlap, partial=partial)
    maps = render_net_output(truth, layout, image_size, net_size, **render_options)
    return SyntheticScene(layout, tuple(image_size), net_size, truth, maps)


@dataclass(frozen=True)
class RoundTrip:
    """How well decoded people reproduce the truth (joint level).

    Attributes:
        recall: visible truth joints recovered (decoded joint within ``tolerance``, owned by
            the decoded person matched to that truth person) / visible truth joints.
        precision: decoded joints that are such a match / decoded joints.
        merged: decoded people holding joints of two or more truth people.
        split: truth people whose joints ended up in two or more decoded people.
        max_error: largest distance of a matched joint, pixels.
    """

    recall: float
    precision: float
    merged: int
    split: int
    max_error: float
    matched: int
    visible: int
    decoded: int


def score_round_trip(decoded: np.ndarray, truth: np.ndarray, tolerance: float) -> RoundTrip:
    """Compare decoded ``[Q, J, 3]`` (x, y, score; missing score 0) with truth ``[P, J, 3]``.

    Each decoded joint is attributed to the truth person whose same joint is nearest, if within
    ``tolerance`` pixels. Each decoded person is matched to the truth person it holds most joints
    of; its joints count as recovered when attributed to that person.
    """
    present = decoded[..., 2] > 0  # [Q, J]
    visible = truth[..., 2] > 0  # [P, J]
    dist = np.linalg.norm(decoded[:, None, :, :2] - truth[None, :, :, :2], axis=-1)  # [Q, P, J]
    dist = np.where(present[:, None] & visible[None], dist, np.inf)
    owner = np.argmin(dist, axis=1) if len(truth) else np.zeros(present.shape, dtype=int)
    near = np.take_along_axis(dist, owner[:, None], axis=1)[:, 0] <= tolerance if len(truth) \
        else np.zeros_like(present)
    held = np.zeros((len(decoded), len(truth)), dtype=int)
    q_idx, j_idx = np.nonzero(near)
    np.add.at(held, (q_idx, owner[q_idx, j_idx]), 1)
    best = held.argmax(axis=1) if len(truth) else np.zeros(len(decoded), dtype=int)
    good = near & (owner == best[:, None])
    errors = np.take_along_axis(dist, owner[:, None], axis=1)[:, 0][good]
    recovered = np.zeros(visible.shape, dtype=bool)  # a truth joint counts once
    q_good, j_good = np.nonzero(good)
    recovered[best[q_good], j_good] = True
    n_vis, n_dec, n_good = int(visible.sum()), int(present.sum()), int(recovered.sum())
    return RoundTrip(
        recall=n_good / n_vis if n_vis else 1.0,
        precision=int(good.sum()) / n_dec if n_dec else 1.0,
        merged=int(((held > 0).sum(axis=1) > 1).sum()),
        split=int(((held > 0).sum(axis=0) > 1).sum()),
        max_error=float(errors.max()) if len(errors) else 0.0,
        matched=n_good,
        visible=n_vis,
        decoded=n_dec,
    )
