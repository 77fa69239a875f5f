"""Offline command line, no ROS: images, an image folder or a video in; OpenPose JSON and
rendered images/video out.

    openpose-ros --input PATH --output DIR [--model BODY_25] [--net-resolution=-1x368]
                 [--hand] [--face] [--device auto] [--engine auto] [--precision auto]
                 [--num-threads 0] [--max-frames N] [--no-render] [--tracking]

Writes ``DIR/json/<name>_keypoints.json`` per frame (OpenPose's format and naming: an image's
file stem, or ``<video>_<frame:012d>`` for a video) and ``DIR/<name>_rendered.png`` per image or
``DIR/<video>_rendered.mp4`` for a video. Runs the same ``PosePipeline`` as the pose node.
With ``--tracking`` the frames go through one ``Tracker2D`` (stamped frame / fps, 30 fps for
images), so the JSON's ``person_id`` and the rendered ids follow each person; without it
``person_id`` is ``[-1]``, as OpenPose writes it.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from openpose_ros.frames import FrameReader, VideoSourceError
from openpose_ros.pipeline import PipelineConfig, PosePipeline, parse_net_resolution
from openpose_ros.tracking2d import Tracker2D

__all__ = ["add_device_arguments", "add_pipeline_arguments", "load_pipeline", "main",
           "parse_args", "run"]

BODY_MODELS = ("BODY_25", "COCO_18", "MPI_15", "MPI_15_4", "LIGHTWEIGHT_COCO_18")


def add_device_arguments(parser: argparse.ArgumentParser) -> None:
    """``--device --engine --precision --num-threads``, shared by this command and the demo
    (the pose node's parameters of the same names)."""
    from openpose_ros.nets.precision import ENGINES, PRECISIONS

    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    parser.add_argument("--engine", default="auto", type=str.lower, choices=ENGINES,
                        help="auto: openvino on a CPU when installed, else torch")
    parser.add_argument("--precision", default="auto", type=str.lower, choices=PRECISIONS,
                        help="auto: fp16 on CUDA, int8 for the lightweight network under "
                        "openvino, bf16 on CPUs with native bf16, else fp32")
    parser.add_argument("--num-threads", type=int, default=0,
                        help="CPU threads of either engine (0: every core)")


def add_pipeline_arguments(parser: argparse.ArgumentParser) -> None:
    """The pose pipeline's options (model, resolution, hands/faces, device), shared by the 2D
    and 3D commands."""
    parser.add_argument("--model", default="BODY_25", type=str.upper, choices=BODY_MODELS)
    parser.add_argument("--net-resolution", default="-1x368",
                        help="net input WxH, one side -1 (write --net-resolution=-1x368)")
    parser.add_argument("--scale-number", type=int, default=1)
    parser.add_argument("--scale-gap", type=float, default=0.25)
    parser.add_argument("--number-people-max", type=int, default=-1)
    parser.add_argument("--hand", action="store_true", help="also detect hands")
    parser.add_argument("--face", action="store_true", help="also detect faces")
    add_device_arguments(parser)
    parser.add_argument("--models-dir", default="", help="model folder (default: registry's)")
    parser.add_argument("--no-download", action="store_true",
                        help="never download a missing model; stop with what to do instead")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="openpose-ros", description="OpenPose on images or a video, without ROS: "
        "OpenPose JSON and rendered output.")
    parser.add_argument("--input", required=True, help="an image, an image folder or a video")
    parser.add_argument("--output", required=True, help="output folder")
    add_pipeline_arguments(parser)
    parser.add_argument("--max-frames", type=int, default=0, help="stop after N frames (0: all)")
    parser.add_argument("--no-render", action="store_true", help="write JSON only")
    parser.add_argument("--tracking", action="store_true",
                        help="track people across frames: person_id in the JSON, ids drawn")
    return parser.parse_args(argv)


def _config(args: argparse.Namespace) -> PipelineConfig:
    from openpose_ros.handface.detector import HandFaceConfig

    return PipelineConfig(
        model=args.model, models_dir=args.models_dir or None, device=args.device,
        engine=args.engine, precision=args.precision, num_threads=args.num_threads,
        net_resolution=parse_net_resolution(args.net_resolution),
        scale_number=args.scale_number, scale_gap=args.scale_gap,
        number_people_max=args.number_people_max,
        handface=HandFaceConfig(hands=args.hand, faces=args.face))


def load_pipeline(args: argparse.Namespace) -> PosePipeline:
    """The ``PosePipeline`` the pipeline options ask for; ``ValueError`` says what is wrong (a
    bad option, or a missing model and where to put it)."""
    from openpose_ros.nets.registry import ensure_installed

    config = _config(args)
    names = [config.model] + ["HAND_21"] * args.hand + ["FACE_70"] * args.face
    problem = ensure_installed(names, config.models_dir, download_missing=not args.no_download)
    if problem:
        raise ValueError(problem)
    return PosePipeline.load(config)


def run(args: argparse.Namespace) -> int:
    """Process the input; 0 on success, 1 when the input or a model is unusable."""
    import cv2

    from openpose_ros.decode.openpose_json import write_openpose_json

    source = Path(args.input)
    try:
        reader = FrameReader(source)
        pipeline = load_pipeline(args)
    except (VideoSourceError, ValueError) as err:
        print(f"openpose-ros: {err}", file=sys.stderr)
        return 1
    output = Path(args.output)
    (output / "json").mkdir(parents=True, exist_ok=True)
    writer, frames, people_count, start = None, 0, 0, time.monotonic()
    tracker = Tracker2D() if args.tracking else None
    try:
        for name, frame in reader.named_frames():
            people = pipeline([frame])[0]
            if tracker is not None:
                people = tracker.update(people, frames / (reader.fps or 30.0)).people
            write_openpose_json(output / "json" / f"{name}_keypoints.json", people)
            frames, people_count = frames + 1, people_count + len(people)
            if not args.no_render:
                rendered = np.ascontiguousarray(pipeline.render(frame, people))
                if reader.files:
                    cv2.imwrite(str(output / f"{name}_rendered.png"), rendered)
                else:
                    if writer is None:
                        writer = cv2.VideoWriter(
                            str(output / f"{source.stem}_rendered.mp4"),
                            cv2.VideoWriter_fourcc(*"mp4v"), reader.fps or 30.0,
                            (frame.shape[1], frame.shape[0]))
                    writer.write(rendered)
            if args.max_frames and frames >= args.max_frames:
                break
    finally:
        reader.close()
        if writer is not None:
            writer.release()
    seconds = time.monotonic() - start
    for path in reader.unreadable:
        print(f"openpose-ros: skipped {path}: not a readable image", file=sys.stderr)
    print(f"{frames} frames, {people_count / max(frames, 1):.2f} people per frame, "
          f"{frames / max(seconds, 1e-9):.2f} frames/s ({pipeline.describe()}); "
          f"output in {output}")
    return 0


def main(argv: list[str] | None = None) -> int:
    return run(parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
