"""Frames from a video file or an image folder (ROS-free): the input of the video source node
and of the offline command line."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np

__all__ = ["FrameReader", "VideoSourceError"]

_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")


class VideoSourceError(ValueError):
    """The input path or the camera-info file cannot be used."""


class FrameReader:
    """BGR frames of a video file (OpenCV), one image, or a folder's images in name order."""

    def __init__(self, path: str | Path) -> None:
        import cv2

        self.path = Path(path).expanduser()
        self._capture = None
        self._files: list[Path] = []
        self._next = 0
        self.unreadable: list[Path] = []
        if self.path.is_dir():
            self._files = sorted(p for p in self.path.iterdir()
                                 if p.suffix.lower() in _IMAGE_SUFFIXES)
            if not self._files:
                raise VideoSourceError(f"{self.path}: no images ({', '.join(_IMAGE_SUFFIXES)})")
            self.fps = 0.0
        elif self.path.is_file() and self.path.suffix.lower() in _IMAGE_SUFFIXES:
            self._files = [self.path]
            self.fps = 0.0
        elif self.path.is_file():
            self._capture = cv2.VideoCapture(str(self.path))
            if not self._capture.isOpened():
                raise VideoSourceError(f"{self.path}: OpenCV cannot open this video")
            self.fps = float(self._capture.get(cv2.CAP_PROP_FPS) or 0.0)
        else:
            raise VideoSourceError(f"{self.path}: no such video file or image folder")

    @property
    def files(self) -> list[Path]:
        """The image files in reading order; empty for a video."""
        return list(self._files)

    @property
    def frame_count(self) -> int:
        """Frames in the input: the video container's count (0 when it does not say), or the
        number of image files."""
        import cv2

        if self._capture is not None:
            return max(int(self._capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0), 0)
        return len(self._files)

    def read(self) -> np.ndarray | None:
        """The next frame (``H x W x 3`` uint8 BGR), or None at the end."""
        import cv2

        if self._capture is not None:
            ok, frame = self._capture.read()
            return frame if ok else None
        while self._next < len(self._files):
            path = self._files[self._next]
            frame = cv2.imread(str(path), cv2.IMREAD_COLOR)
            self._next += 1
            if frame is not None:
                return frame
            self.unreadable.append(path)  # skipped, but counted and named
        return None

    def named_frames(self) -> Iterator[tuple[str, np.ndarray]]:
        """(name, frame) pairs, named as OpenPose names its outputs: the image's file stem, or
        ``<video stem>_<frame index:012d>`` for a video."""
        index = 0
        while (frame := self.read()) is not None:
            if self._files:
                yield self._files[self._next - 1].stem, frame
            else:
                yield f"{self.path.stem}_{index:012d}", frame
            index += 1

    def rewind(self) -> None:
        import cv2

        if self._capture is not None:
            self._capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
        self._next = 0

    def close(self) -> None:
        if self._capture is not None:
            self._capture.release()
