"""Offline multi-view 3D, no ROS: calibrated, synchronised videos in; 3D skeletons out.

    openpose-ros-3d --calibration FILE --videos V1 V2 ... --output DIR
                    [--camera-names N1 N2 ...] [--frame-offsets O1 O2 ...] [--max-frames N]
                    [--model BODY_25] [--net-resolution=-1x368] [--hand] [--face] [--device auto]
                    [--trial NAME] [--trc-y-up]

Each frame set (one frame of every video) goes through the 2D ``PosePipeline`` in one batch,
then ``threed.Reconstructor`` (association, triangulation, hands and faces with their body) and
``threed.Tracker3D`` - the same core as the triangulation node. Writes, into ``DIR``:

- ``<trial>.trc``: OpenSim/Pose2Sim markers (joint names, metres) of the person seen longest;
  other people in ``<trial>_person<id>.trc``;
- ``json/<trial>_<frame:012d>_keypoints.json``: OpenPose 3D JSON per frame set;
- ``reprojection.mp4``: the videos side by side with the 3D skeletons projected back;
- ``skeleton3d.png``: front, side and top views of the reconstruction.

Everything is written into a hidden folder in ``DIR`` and moved into place only when the run
succeeded, so a failed run never leaves output that looks complete. Unusable input (a
calibration that does not parse, unknown camera names, fewer videos than cameras, a video that
cannot be opened or ends before the others) stops the run with exit code 1 and names the file.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from openpose_ros.cli import add_pipeline_arguments, load_pipeline
from openpose_ros.frames import FrameReader, VideoSourceError

if TYPE_CHECKING:
    from openpose_ros.threed.cameras import Rig

__all__ = ["main", "parse_args", "run", "InputError"]

PROG = "openpose-ros-3d"


class InputError(ValueError):
    """Input the command cannot use; the message names the file or option."""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog=PROG, description="Multi-view 3D OpenPose from calibrated, synchronised videos, "
        "without ROS: .trc markers, OpenPose 3D JSON, a reprojection video and a 3D view.")
    parser.add_argument("--calibration", required=True,
                        help="rig calibration: project YAML, Pose2Sim/OpenCV TOML, OpenPose XML "
                        "(file or folder) or CMU Panoptic JSON")
    parser.add_argument("--videos", required=True, nargs="+", help="one video per camera")
    parser.add_argument("--output", required=True, help="output folder")
    parser.add_argument("--camera-names", nargs="+", default=None,
                        help="the calibration's camera of each video (default: calibration order)")
    parser.add_argument("--frame-offsets", nargs="+", type=int, default=None,
                        help="per video, frames to skip at its start (synchronisation)")
    parser.add_argument("--max-frames", type=int, default=0, help="stop after N frame sets (0: all)")
    parser.add_argument("--trial", default="", help="output name (default: the videos' folder, or "
                        "its parent when the folder is called 'videos')")
    parser.add_argument("--trc-y-up", action="store_true",
                        help="write the .trc Y-up for OpenSim, from a Z-up rig world as Pose2Sim "
                        "does ((X, Y, Z) = (y, z, x)); default: the rig's axes")
    add_pipeline_arguments(parser)
    return parser.parse_args(argv)


@dataclass
class Inputs:
    """The checked input: the rig of the videos' cameras, in video order, and open readers."""

    rig: "Rig"
    readers: list[FrameReader]
    trial: str


def _trial_name(videos: list[Path]) -> str:
    folder = videos[0].resolve().parent
    return folder.parent.name if folder.name.lower() == "videos" else folder.name


def open_inputs(args: argparse.Namespace) -> Inputs:
    """Check the calibration, names, offsets and videos; ``InputError`` names what is wrong."""
    from openpose_ros.threed.calibration_io import load_calibration
    from openpose_ros.threed.cameras import CalibrationError

    path = Path(args.calibration)
    try:
        calibration = load_calibration(path)
    except (CalibrationError, OSError, ValueError) as err:
        raise InputError(f"{path}: calibration does not parse: {err}") from None
    videos = [Path(v) for v in args.videos]
    names = list(args.camera_names or calibration.names)
    if args.camera_names is None and len(videos) != len(names):
        few = "fewer" if len(videos) < len(names) else "more"
        raise InputError(f"{len(videos)} videos is {few} than the {len(names)} cameras of {path} "
                         f"({', '.join(names)}); give one video per camera, or --camera-names")
    if len(names) != len(videos):
        raise InputError(f"--camera-names gives {len(names)} names for {len(videos)} videos")
    unknown = [n for n in names if n not in calibration.names]
    if unknown:
        raise InputError(f"unknown camera name(s) {', '.join(unknown)}: {path} has "
                         f"{', '.join(calibration.names)}")
    if len(set(names)) != len(names):
        raise InputError(f"--camera-names repeats a camera: {' '.join(names)}")
    offsets = args.frame_offsets or [0] * len(videos)
    if len(offsets) != len(videos) or min(offsets) < 0:
        raise InputError(f"--frame-offsets needs {len(videos)} values >= 0, got {offsets}")
    try:
        rig = calibration.rig().subset(names)
    except CalibrationError as err:
        raise InputError(f"{path}: {err}") from None
    readers: list[FrameReader] = []
    try:
        for video, offset in zip(videos, offsets):
            readers.append(FrameReader(video))
            for k in range(offset):
                if readers[-1].read() is None:
                    raise InputError(f"{video}: ends after {k} frames, before its offset {offset}")
    except (VideoSourceError, InputError) as err:
        for reader in readers:
            reader.close()
        raise InputError(str(err)) from None
    return Inputs(rig, readers, args.trial or _trial_name(videos))


def read_set(readers: list[FrameReader], index: int) -> list[np.ndarray] | None:
    """The next frame of every video; None when all ended together; ``InputError`` when one
    video ended before the others."""
    frames = [r.read() for r in readers]
    if all(f is None for f in frames):
        return None
    ended = [r.path for r, f in zip(readers, frames) if f is None]
    if ended:
        going = next(r.path for r, f in zip(readers, frames) if f is not None)
        raise InputError(f"{ended[0]}: ends after {index} frames while {going} goes on")
    return frames


class Progress:
    """A one-line progress bar on stderr."""

    def __init__(self, total: int, width: int = 30) -> None:
        self.total, self.width, self.start = total, width, time.monotonic()

    def update(self, done: int, people: int) -> None:
        rate = done / max(time.monotonic() - self.start, 1e-9)
        if self.total > 0:
            filled = int(self.width * min(done / self.total, 1.0))
            bar = f"[{'#' * filled}{'.' * (self.width - filled)}] {done}/{self.total}"
        else:
            bar = f"{done}"
        print(f"\r{PROG}: {bar} frame sets, {people} people, {rate:.2f} sets/s", end="",
              file=sys.stderr, flush=True)

    def close(self) -> None:
        print(file=sys.stderr, flush=True)


def _frame_count(readers: list[FrameReader], max_frames: int) -> int:
    total = min(r.frame_count for r in readers)
    return min(total, max_frames) if max_frames and total else (max_frames or total)


def _write_trc_files(folder: Path, trial: str, history, layout, rate: float, y_up: bool) -> list[Path]:
    """One .trc per track: ``<trial>.trc`` for the track seen in most frames."""
    from openpose_ros.threed.trc import Y_UP_FROM_Z_UP, write_trc

    frames: dict[int, np.ndarray] = {}
    for f, people in enumerate(history):
        for p in range(len(people)):
            track = int(people.track_ids[p])
            frames.setdefault(track, np.full((len(history), layout.num_parts, 3), np.nan))
            frames[track][f] = np.where(people.valid[p][:, None], people.body[p], np.nan)
    order = sorted(frames, key=lambda t: (-np.isfinite(frames[t][..., 0]).any(axis=1).sum(), t))
    axes = Y_UP_FROM_Z_UP if y_up else (0, 1, 2)
    return [write_trc(folder / (f"{trial}.trc" if k == 0 else f"{trial}_person{track}.trc"),
                      layout.part_names, frames[track], rate, axes=axes)
            for k, track in enumerate(order)]


def _publish(tmp: Path, output: Path) -> None:
    """Move every finished output from ``tmp`` into ``output``, replacing older ones."""
    for item in sorted(tmp.iterdir()):
        target = output / item.name
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        item.replace(target)


def process(args: argparse.Namespace, inputs: Inputs, pipeline, tmp: Path) -> dict:
    """Run every frame set; write the outputs into ``tmp``. Returns a summary."""
    import cv2

    from openpose_ros.decode.openpose_json import format_openpose_json_3d
    from openpose_ros.render3d import reprojection_mosaic, skeleton_views
    from openpose_ros.threed.reconstruct import Reconstructor
    from openpose_ros.threed.tracking import Tracker3D

    rig, readers, trial = inputs.rig, inputs.readers, inputs.trial
    rate = readers[0].fps or 30.0
    reconstructor, tracker = Reconstructor(rig), Tracker3D()
    (tmp / "json").mkdir()
    progress = Progress(_frame_count(readers, args.max_frames))
    history, found, writer, layout = [], 0, None, None
    try:
        while not args.max_frames or len(history) < args.max_frames:
            frames = read_set(readers, len(history))
            if frames is None:
                break
            views = dict(zip(rig.names, pipeline(frames)))
            result = reconstructor.reconstruct(views)
            for note in result.notes.values():
                print(f"\r{PROG}: warning: {note}", file=sys.stderr)
            for name, reason in result.skipped.items():
                print(f"\r{PROG}: warning: frame {len(history)}: {name} left out: {reason}",
                      file=sys.stderr)
            people = tracker.update(result.people, len(history) / rate).people
            layout = people.layout
            name = f"{trial}_{len(history):012d}_keypoints.json"
            (tmp / "json" / name).write_text(format_openpose_json_3d(people) + "\n", encoding="utf-8")
            cameras = [reconstructor.camera(n, (f.shape[1], f.shape[0])) for n, f in zip(rig.names, frames)]
            mosaic = reprojection_mosaic(frames, cameras, people)
            if writer is None:
                writer = cv2.VideoWriter(str(tmp / "reprojection.mp4"), cv2.VideoWriter_fourcc(*"mp4v"),
                                         rate, (mosaic.shape[1], mosaic.shape[0]))
            writer.write(mosaic)
            history.append(people)
            found += bool(len(people))
            progress.update(len(history), len(people))
    finally:
        progress.close()
        if writer is not None:
            writer.release()
    if not history:
        raise InputError(f"{readers[0].path}: no frames to read")
    trc = _write_trc_files(tmp, trial, history, layout, rate, args.trc_y_up)
    cv2.imwrite(str(tmp / "skeleton3d.png"), skeleton_views(history, list(rig.cameras)))
    return {"frames": len(history), "found": found, "trc": [p.name for p in trc]}


def run(args: argparse.Namespace) -> int:
    """0 on success, 1 for unusable input or a missing model (nothing is left in ``--output``)."""
    try:
        inputs = open_inputs(args)
    except InputError as err:
        print(f"{PROG}: {err}", file=sys.stderr)
        return 1
    output = Path(args.output)
    tmp = None
    try:
        pipeline = load_pipeline(args)
        output.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".openpose-ros-3d-partial-", dir=output))
        start = time.monotonic()
        summary = process(args, inputs, pipeline, tmp)
        _publish(tmp, output)
    except (InputError, ValueError) as err:
        print(f"{PROG}: {err}", file=sys.stderr)
        return 1
    finally:
        for reader in inputs.readers:
            reader.close()
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    seconds = time.monotonic() - start
    print(f"{summary['frames']} frame sets, a person in {summary['found']} "
          f"({summary['found'] / summary['frames']:.0%}), {summary['frames'] / seconds:.2f} sets/s "
          f"({pipeline.model_name} on {pipeline.device}); {', '.join(summary['trc'])}, json/, "
          f"reprojection.mp4, skeleton3d.png in {output}")
    return 0


def main(argv: list[str] | None = None) -> int:
    return run(parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
