"""Image codec: a 1080p camera frame from the message's bytes to the networks' BGR uint8.

The path the pose node takes (``raw_to_array`` then ``to_bgr8``), timed per encoding on the
same 1920x1080 scene: Bayer (FLIR/Spinnaker default), YUYV (v4l2 webcams), the zero-copy
``bgr8`` case, and the other layouts for comparison. Median of repeated calls, one thread as
the pose node's worker runs it; also how many bytes each result shares with the message (a
view shares all of them).
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench_common import bench_line  # noqa: E402

from openpose_ros.image_codec import raw_to_array, to_bgr8  # noqa: E402

WIDTH, HEIGHT, REPEATS = 1920, 1080, 30


def scene() -> np.ndarray:
    """A smooth BGR test frame (content does not change the timings; it keeps them honest)."""
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    return np.stack([x / WIDTH * 255, y / HEIGHT * 255, (x + y) % 256], axis=2).astype(np.uint8)


def frames(bgr: np.ndarray) -> dict[str, tuple[bytes, int]]:
    """(data, step) of the scene in each encoding, written with OpenCV/NumPy (not the codec)."""
    rggb = np.empty((HEIGHT, WIDTH), np.uint8)
    rggb[0::2, 0::2], rggb[0::2, 1::2] = bgr[0::2, 0::2, 2], bgr[0::2, 1::2, 1]
    rggb[1::2, 0::2], rggb[1::2, 1::2] = bgr[1::2, 0::2, 1], bgr[1::2, 1::2, 0]
    i420 = cv2.cvtColor(bgr, cv2.COLOR_BGR2YUV_I420)
    u = i420[HEIGHT: HEIGHT + HEIGHT // 4].reshape(HEIGHT // 2, WIDTH // 2)
    v = i420[HEIGHT + HEIGHT // 4:].reshape(HEIGHT // 2, WIDTH // 2)
    nv21 = np.concatenate([i420[:HEIGHT], np.stack([v, u], axis=2).reshape(HEIGHT // 2, WIDTH)])
    e = bgr[..., ::-1].astype(np.float32) / 255  # BT.601 video range, for 4:4:4 nv24
    luma = e @ np.float32([0.299, 0.587, 0.114])
    chroma = np.stack([(e[..., 2] - luma) / 1.772, (e[..., 0] - luma) / 1.402], axis=2)
    nv24 = np.concatenate([np.round(16 + 219 * luma).reshape(-1),
                           np.round(128 + 224 * chroma).reshape(-1)]).astype(np.uint8)
    return {
        "bgr8": (bgr.tobytes(), 3 * WIDTH),
        "rgb8": (bgr[..., ::-1].tobytes(), 3 * WIDTH),
        "bayer_rggb8": (rggb.tobytes(), WIDTH),
        "bayer_rggb16": ((rggb.astype(np.uint16) * 257).tobytes(), 2 * WIDTH),
        "yuyv": (cv2.cvtColor(bgr, cv2.COLOR_BGR2YUV_YUY2).tobytes(), 2 * WIDTH),
        "uyvy": (cv2.cvtColor(bgr, cv2.COLOR_BGR2YUV_UYVY).tobytes(), 2 * WIDTH),
        "nv21": (nv21.tobytes(), WIDTH),
        "nv24": (nv24.tobytes(), WIDTH),
        "rgb16": ((bgr[..., ::-1].astype(np.uint16) * 257).tobytes(), 6 * WIDTH),
    }


def decode_ms(data: bytes, encoding: str, step: int) -> tuple[float, np.ndarray]:
    times, out = [], None
    for _ in range(REPEATS):
        start = time.perf_counter()
        out = to_bgr8(raw_to_array(data, encoding=encoding, height=HEIGHT, width=WIDTH,
                                   step=step), encoding)
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times), out


def main() -> None:
    cv2.setNumThreads(1)
    bgr = scene()
    names = {"bayer_rggb8": "bayer_1080p_to_bgr8_ms", "yuyv": "yuyv_1080p_to_bgr8_ms",
             "bgr8": "bgr8_1080p_view_ms"}
    print(f"{'encoding':<14} {'ms':>8} {'mean |err| vs scene':>20} {'shares message':>15}")
    for encoding, (data, step) in frames(bgr).items():
        ms, out = decode_ms(data, encoding, step)
        assert out.shape == (HEIGHT, WIDTH, 3) and out.dtype == np.uint8
        err = np.abs(out[2:-2, 2:-2].astype(np.int16) - bgr[2:-2, 2:-2]).mean()
        shares = np.shares_memory(out, np.frombuffer(data, np.uint8))
        print(f"{encoding:<14} {ms:8.3f} {err:20.2f} {str(shares):>15}")
        if encoding in names:
            print(bench_line(names[encoding], ms, digits=3))


if __name__ == "__main__":
    main()
