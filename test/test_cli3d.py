"""``openpose-ros-3d`` end to end on the Pose2Sim balancing trial (4 calibrated portrait videos;
cam01/cam02 decode 1080 wide against a 1088-wide calibration) with the lightweight detector on a
short clip, and its bad-input cases.

The outputs are read back by the plain parsers below (tab-separated text, ``json``), not by the
package's own readers, and compared with Pose2Sim's own 3D (.trc) on the 14 joints both name
and with Pose2Sim's OpenPose BODY_25B 2D detections (reprojection).
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from openpose_ros.cli3d import main
from openpose_ros.evaluation.datasets import load_pose2sim_trial
from openpose_ros.evaluation.multiview import agreement_with_reference
from openpose_ros.layouts import BODY_25, COCO_18
from openpose_ros.threed.calibration_io import load_calibration

IR = "models/intel_human_pose_estimation_0001_FP16-INT8"
TRIAL = "S00_P00_T01_BalancingTrial"
FRAMES, OFFSET = 6, 2
# The 14 joints Pose2Sim's .trc and COCO-18 both name.
COMMON = ("RHip", "RKnee", "RAnkle", "LHip", "LKnee", "LAnkle", "Neck", "Nose", "RShoulder",
          "RElbow", "RWrist", "LShoulder", "LElbow", "LWrist")


def read_trc(path: Path) -> tuple[dict, list[str], np.ndarray]:
    """Independent .trc reader: header values, marker names, ``[F, M, 3]`` (empty cell = NaN)."""
    rows = [line.rstrip("\n").split("\t") for line in path.read_text().splitlines()]
    header = dict(zip(rows[1], rows[2]))
    markers = [c for c in rows[3][2:] if c]
    assert rows[4][2:2 + 3 * len(markers)] == [f"{a}{k}" for k in range(1, len(markers) + 1) for a in "XYZ"]
    data = [r for r in rows[5:] if r and r[0]]
    values = np.array([[float(c) if c else np.nan for c in r[2:2 + 3 * len(markers)]] for r in data])
    return header, markers, values.reshape(len(data), len(markers), 3)


@pytest.fixture(scope="module")
def trial(shared_data):
    root = shared_data / "multiview" / "pose2sim_demo"
    videos = [root / TRIAL / "videos" / f"cam0{k}.mp4" for k in range(1, 5)]
    return root, root / "calibration" / "Calib_qualisys.toml", videos


@pytest.fixture(scope="module")
def models_dir(shared_data, tmp_path_factory):
    target = tmp_path_factory.mktemp("models") / "intel" / "human-pose-estimation-0001" / "FP16-INT8"
    target.mkdir(parents=True)
    for f in (shared_data / IR).iterdir():
        (target / f.name).symlink_to(f)
    return target.parents[2]


def _args(calibration, videos, out, models_dir, *extra):
    return ["--calibration", str(calibration), "--videos", *map(str, videos), "--output", str(out),
            "--model", "LIGHTWEIGHT_COCO_18", "--net-resolution=-1x256", "--device", "cpu",
            "--models-dir", str(models_dir), "--no-download", *extra]


@pytest.fixture(scope="module")
def run3d(trial, models_dir, tmp_path_factory):
    root, calibration, videos = trial
    out = tmp_path_factory.mktemp("out3d")
    code = main(_args(calibration, videos, out, models_dir, "--max-frames", str(FRAMES),
                      "--frame-offsets", *[str(OFFSET)] * 4))
    return code, out


def test_balancing_clip_finds_the_person_and_agrees_with_pose2sim(trial, run3d):
    root, calibration, _ = trial
    code, out = run3d
    assert code == 0
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(f"{TRIAL}_person")) == [
        f"{TRIAL}.trc", "json", "reprojection.mp4", "skeleton3d.png"]
    header, markers, ours = read_trc(out / f"{TRIAL}.trc")
    assert header["Units"] == "m" and float(header["DataRate"]) == 60 and int(header["NumFrames"]) == FRAMES
    assert markers == list(COCO_18.part_names) and ours.shape == (FRAMES, 18, 3)
    rig = load_calibration(calibration).rig()
    views, theirs = load_pose2sim_trial(root / TRIAL, rig.names, tuple(c.image_size for c in rig.cameras))
    clip = {f: views[f + OFFSET] for f in range(FRAMES)}
    found, dist_mm, reproj_px = agreement_with_reference(
        rig, markers, ours, clip, theirs[OFFSET:OFFSET + FRAMES, 0], BODY_25)
    common = [markers.index(n) for n in COMMON]
    print(f"clip of {FRAMES} frames: person in {found:.0%}, {dist_mm:.1f} mm from Pose2Sim's 3D "
          f"({len(COMMON)} joints), {reproj_px:.1f} px onto Pose2Sim's 2D detections; "
          f"{np.isfinite(ours[:, common, 0]).mean():.0%} of the common joints reconstructed")
    assert found >= 0.99
    # Another detector (lightweight COCO vs BODY_25B) at 1/8 of the resolution, and COCO's hips
    # sit elsewhere than BODY_25B's: centimetres apart, never the 0.3 m+ of a wrong person.
    assert dist_mm < 90.0
    assert reproj_px < 30.0


def test_json_holds_the_same_3d_as_the_trc(run3d):
    _, out = run3d
    _, _, ours = read_trc(out / f"{TRIAL}.trc")
    files = sorted((out / "json").iterdir())
    assert [f.name for f in files] == [f"{TRIAL}_{k:012d}_keypoints.json" for k in range(FRAMES)]
    for k, path in enumerate(files):
        frame = json.loads(path.read_text())
        assert frame["version"] == 1.3 and frame["people"]
        best = np.inf
        for person in frame["people"]:
            assert list(person) == ["person_id", "pose_keypoints_2d", "face_keypoints_2d",
                                    "hand_left_keypoints_2d", "hand_right_keypoints_2d",
                                    "pose_keypoints_3d", "face_keypoints_3d",
                                    "hand_left_keypoints_3d", "hand_right_keypoints_3d"]
            assert person["hand_left_keypoints_3d"] == [] and person["face_keypoints_3d"] == []
            kp = np.array(person["pose_keypoints_3d"], dtype=float).reshape(18, 4)
            assert set(kp[:, 3]) <= {0.0, 1.0}
            assert (kp[kp[:, 3] == 0, :3] == 0).all()
            xyz = np.where(kp[:, 3:] == 1, kp[:, :3], np.nan)
            same = np.isfinite(xyz[:, 0]) == np.isfinite(ours[k, :, 0])
            if same.all():
                best = min(best, np.nanmax(np.abs(xyz - ours[k])))
        assert best < 1e-4  # 6 significant digits vs 6 decimals


def test_outputs_are_real_media(run3d):
    _, out = run3d
    image = cv2.imread(str(out / "skeleton3d.png"))
    assert image is not None and image.shape[1] > image.shape[0] and image.std() > 5
    video = cv2.VideoCapture(str(out / "reprojection.mp4"))
    count = 0
    while video.read()[0]:
        count += 1
    assert count == FRAMES
    assert video.get(cv2.CAP_PROP_FRAME_WIDTH) > 2 * video.get(cv2.CAP_PROP_FRAME_HEIGHT)  # 4 portrait views


def _fails(argv, capsys, *needles):
    assert main(argv) == 1
    err = capsys.readouterr().err
    for needle in needles:
        assert needle in err, err
    return err


def test_bad_calibration_names_videos(trial, models_dir, tmp_path, capsys):
    _, calibration, videos = trial
    bad = tmp_path / "broken.toml"
    bad.write_text("[cam_01\nmatrix = oops\n")
    out = tmp_path / "out"
    _fails(_args(bad, videos, out, models_dir), capsys, str(bad), "does not parse")
    _fails(_args(calibration, videos[:3], out, models_dir), capsys, "3 videos is fewer than the 4 cameras",
           str(calibration))
    _fails(_args(calibration, videos[:2], out, models_dir, "--camera-names", "cam_01", "cam_9"),
           capsys, "cam_9", "cam_01, cam_02, cam_03, cam_04")
    not_video = tmp_path / "notes.mp4"
    not_video.write_text("not a video")
    _fails(_args(calibration, videos[:3] + [not_video], out, models_dir), capsys, str(not_video))
    assert not out.exists() or not any(out.iterdir())


def test_video_ending_early_leaves_no_output(trial, models_dir, tmp_path, capsys):
    _, calibration, videos = trial
    short = tmp_path / "cam04_short.mp4"
    reader = cv2.VideoCapture(str(videos[3]))
    writer = None
    for _ in range(2):
        ok, frame = reader.read()
        assert ok
        if writer is None:
            writer = cv2.VideoWriter(str(short), cv2.VideoWriter_fourcc(*"mp4v"), 60.0,
                                     (frame.shape[1], frame.shape[0]))
        writer.write(frame)
    writer.release()
    out = tmp_path / "out"
    _fails(_args(calibration, videos[:3] + [short], out, models_dir, "--max-frames", "4"), capsys,
           f"{short}: ends after 2 frames")
    assert list(out.iterdir()) == []  # no json/, no .trc, no partial folder
