"""Model registry: every known model's files, sizes, checksums, URLs and licence.

Files live under one models directory (``OPENPOSE_ROS_MODELS``, default
``~/.cache/openpose_ros/models``) with OpenPose's own layout (``pose/body_25/...``), so an
existing ``openpose/models`` folder can be used as is. ``locate`` finds and verifies an
installed model; ``download`` (``python -m openpose_ros.nets.registry download NAME``)
fetches one with resume and checksum verification. Nothing downloads implicitly.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Mapping, Sequence

from openpose_ros.nets.download import DownloadError, fetch, sha256_of
from openpose_ros.nets.weights import WeightFileError

__all__ = [
    "ModelFile", "ModelSpec", "MODELS", "ModelNotFoundError", "DownloadError", "model_spec",
    "resolve_models_dir", "locate", "ensure_installed", "verify_file", "download", "main",
]

OPENPOSE_URLS = (
    "http://vcl.snu.ac.kr/OpenPose/models/",
    "http://posefs1.perception.cs.cmu.edu/OpenPose/models/",
)
_OMZ_URL = ("https://storage.openvinotoolkit.org/repositories/open_model_zoo/2022.1/models_bin/3/"
            "human-pose-estimation-0001/FP16-INT8/")
_OPENPOSE_LICENCE = "OpenPose academic/non-commercial licence (CMU); not for commercial use"
_HASH_CACHE = ".sha256-cache.json"


class ModelNotFoundError(FileNotFoundError):
    """A model's files are not installed; the message says what to download or place where."""


@dataclass(frozen=True)
class ModelFile:
    """One file of a model: path relative to the models dir, expected size and sha256 (None
    where no checksum was ever published) and its download URLs, best first."""

    path: str
    size: int | None
    sha256: str | None
    urls: tuple[str, ...]


@dataclass(frozen=True)
class ModelSpec:
    """A registry entry; ``files[0]`` is the one the network loads (caffemodel or IR ``.xml``)."""

    name: str
    family: str
    files: tuple[ModelFile, ...]
    licence: str
    description: str


def _openpose(path: str, size: int | None, sha256: str | None) -> ModelFile:
    return ModelFile(path, size, sha256, tuple(base + path for base in OPENPOSE_URLS))


# Sizes and sha256 from the Git LFS pointers recorded in shared/data/SOURCES.md. MPI's were
# never published there, so MPI files are only checked for presence.
_BODY25 = _openpose("pose/body_25/pose_iter_584000.caffemodel", 104_715_850,
                    "44e3d7ebd8c8b62d4366d67127f1b562611a9e8fd0f4f3cdeeb4bb4a6ed12be6")
_COCO = _openpose("pose/coco/pose_iter_440000.caffemodel", 209_274_056,
                  "b4cf475576abd7b15d5316f1ee65eb492b5c9f5865e70a2e7882ed31fb682549")
_MPI = _openpose("pose/mpi/pose_iter_160000.caffemodel", None, None)
_HAND = _openpose("hand/pose_iter_102000.caffemodel", 147_344_024,
                  "f313aa5ef031ac91606e1a0383daa14be241a6e1a91c1155283dd28503c79c2d")
_FACE = _openpose("face/pose_iter_116000.caffemodel", 153_717_332,
                  "a60d12d5216fae25fbe605db317a75e6f9dc797a2eed0d23577b21cda8aa3510")
_IR_DIR = "intel/human-pose-estimation-0001/FP16-INT8/"
_LIGHT = (
    ModelFile(_IR_DIR + "human-pose-estimation-0001.xml", 426_156,
              "581b082e749848fdfc6d4b4b70e8189c3c2bae1c2d59c6b2c1a026a5471754e3",
              (_OMZ_URL + "human-pose-estimation-0001.xml",)),
    ModelFile(_IR_DIR + "human-pose-estimation-0001.bin", 4_170_034,
              "df2a9f41f15c3a0c8a0c5a704650338a3cc5c7bb588f2bfc14ea7093fa37b446",
              (_OMZ_URL + "human-pose-estimation-0001.bin",)),
)

MODELS: Mapping[str, ModelSpec] = MappingProxyType({
    spec.name: spec for spec in (
        ModelSpec("BODY_25", "body25", (_BODY25,), _OPENPOSE_LICENCE,
                  "OpenPose BODY_25 (25 parts incl. feet), pose_iter_584000"),
        ModelSpec("COCO_18", "vgg_body", (_COCO,), _OPENPOSE_LICENCE,
                  "OpenPose COCO (18 parts), pose_iter_440000"),
        ModelSpec("MPI_15", "vgg_body", (_MPI,), _OPENPOSE_LICENCE,
                  "OpenPose MPI (15 parts), pose_iter_160000"),
        ModelSpec("MPI_15_4", "vgg_body", (_MPI,), _OPENPOSE_LICENCE,
                  "OpenPose MPI, faster 4-stage variant (same weights as MPI_15)"),
        ModelSpec("HAND_21", "handface", (_HAND,), _OPENPOSE_LICENCE,
                  "OpenPose hand (21 keypoints), pose_iter_102000"),
        ModelSpec("FACE_70", "handface", (_FACE,), _OPENPOSE_LICENCE,
                  "OpenPose face (70 keypoints), pose_iter_116000"),
        ModelSpec("LIGHTWEIGHT_COCO_18", "lightweight", _LIGHT,
                  "Apache-2.0 (Intel Open Model Zoo human-pose-estimation-0001)",
                  "Lightweight OpenPose, MobileNet, COCO-18, OpenVINO IR FP16-INT8"),
    )
})


def model_spec(name: str) -> ModelSpec:
    """The registry entry for ``name`` (case-insensitive); ``ValueError`` lists known names."""
    key = name.strip().upper()
    if key not in MODELS:
        raise ValueError(f"unknown model {name!r}; known: {', '.join(MODELS)}")
    return MODELS[key]


def resolve_models_dir(directory: str | Path | None = None) -> Path:
    """``directory`` if given, else ``$OPENPOSE_ROS_MODELS``, else ``~/.cache/openpose_ros/models``."""
    if directory is not None:
        return Path(directory).expanduser()
    env = os.environ.get("OPENPOSE_ROS_MODELS")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "openpose_ros" / "models"


def _load_hash_cache(root: Path) -> dict:
    try:
        return json.loads((root / _HASH_CACHE).read_text())
    except (OSError, ValueError):
        return {}


def _store_hash(root: Path, relpath: str, stat: os.stat_result, sha256: str) -> None:
    """Remember a verified hash by (size, mtime); a read-only models dir just skips it."""
    cache = _load_hash_cache(root)
    cache[relpath] = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": sha256}
    tmp = root / f"{_HASH_CACHE}.{os.getpid()}.tmp"
    try:
        tmp.write_text(json.dumps(cache, indent=1, sort_keys=True))
        tmp.replace(root / _HASH_CACHE)
    except OSError:
        tmp.unlink(missing_ok=True)


def _mismatch(path: Path, what: str, expected: object, found: object) -> WeightFileError:
    return WeightFileError(
        f"{path}: wrong {what}: expected {expected}, found {found}. The file is truncated, "
        "corrupt or a different model; delete it and download it again"
    )


def verify_file(root: Path, entry: ModelFile) -> Path:
    """Check one installed file: size, then sha256 (cached by size and mtime so a second start
    is instant). Raises ``ModelNotFoundError`` when absent, ``WeightFileError`` when wrong."""
    path = root / entry.path
    if not path.is_file():
        raise ModelNotFoundError(str(path))
    stat = path.stat()
    if entry.size is not None and stat.st_size != entry.size:
        raise _mismatch(path, "size", f"{entry.size} bytes", f"{stat.st_size} bytes")
    if entry.sha256 is None:
        return path
    cached = _load_hash_cache(root).get(entry.path, {})
    if cached.get("size") == stat.st_size and cached.get("mtime_ns") == stat.st_mtime_ns:
        found = cached.get("sha256")
    else:
        found = sha256_of(path)
        if found == entry.sha256:
            _store_hash(root, entry.path, stat, found)
    if found != entry.sha256:
        raise _mismatch(path, "sha256", entry.sha256, found)
    return path


def _placement_help(spec: ModelSpec, root: Path) -> str:
    lines = [f"model {spec.name} is not installed in {root}. Download it with",
             f"  python -m openpose_ros.nets.registry download {spec.name} --models-dir {root}",
             "or place these files by hand:"]
    for f in spec.files:
        check = f" ({f.size} bytes, sha256 {f.sha256})" if f.sha256 else ""
        lines.append(f"  {root / f.path}{check}\n    from {f.urls[0]}")
    return "\n".join(lines)


def locate(name: str, models_dir: str | Path | None = None) -> Path:
    """Path of the installed model's main file (caffemodel or IR ``.xml``), verified.

    Raises ``ModelNotFoundError`` saying what to download or place where, or
    ``WeightFileError`` when an installed file has the wrong size or checksum.
    """
    spec = model_spec(name)
    root = resolve_models_dir(models_dir)
    try:
        paths = [verify_file(root, f) for f in spec.files]
    except ModelNotFoundError:
        raise ModelNotFoundError(_placement_help(spec, root)) from None
    return paths[0]


def download(name: str, models_dir: str | Path | None = None, *, timeout: float = 10.0,
             progress: bool = True) -> Path:
    """Download every missing or wrong file of model ``name``; returns ``locate(name)``.

    Resumes ``.part`` files with HTTP Range, tries each mirror in turn and verifies size and
    sha256. Raises ``DownloadError`` (with where to place the files by hand) when no mirror
    answers within ``timeout`` seconds, ``WeightFileError`` on a checksum mismatch.
    """
    spec = model_spec(name)
    root = resolve_models_dir(models_dir)
    for entry in spec.files:
        try:
            verify_file(root, entry)
            continue
        except (ModelNotFoundError, WeightFileError):
            pass
        path = fetch(entry.urls, root / entry.path, size=entry.size, sha256=entry.sha256,
                     timeout=timeout, progress=progress)
        if entry.sha256:
            _store_hash(root, entry.path, path.stat(), entry.sha256)
    return locate(name, root)


def ensure_installed(names: Sequence[str], models_dir: str | Path | None = None, *,
                     download_missing: bool = True, timeout: float = 5.0) -> str | None:
    """Make sure every model in ``names`` is installed, downloading what is missing unless
    ``download_missing`` is false. Returns None when all are there, else the message that
    says what to download or place where (the callers print it and stop)."""
    for name in names:
        try:
            locate(name, models_dir)
        except ModelNotFoundError as missing:
            if not download_missing:
                return str(missing)
            print(f"{name} is not installed; downloading it", file=sys.stderr)
            try:
                download(name, models_dir, timeout=timeout)
            except (DownloadError, WeightFileError) as err:
                return f"{missing}\n{err}"
        except WeightFileError as err:
            return str(err)
    return None


def _print_table(root: Path) -> None:
    for spec in MODELS.values():
        try:
            locate(spec.name, root)
            state = "installed"
        except (ModelNotFoundError, WeightFileError):
            state = "missing"
        sizes = [f.size for f in spec.files]
        size = f"{sum(sizes) / 1e6:7.1f} MB" if None not in sizes else "   size ?  "
        print(f"{spec.name:20s} {state:9s} {size}  {spec.licence}")


def main(argv: Sequence[str] | None = None) -> int:
    """``list`` | ``locate NAME`` | ``download NAME [NAME ...]`` with ``--models-dir DIR``."""
    parser = argparse.ArgumentParser(prog="python -m openpose_ros.nets.registry")
    parser.add_argument("--models-dir", default=None, help="default: $OPENPOSE_ROS_MODELS or "
                        "~/.cache/openpose_ros/models")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="every known model and whether it is installed")
    for command in ("locate", "download"):
        p = sub.add_parser(command)
        p.add_argument("names", nargs="+", metavar="NAME", help=", ".join(MODELS))
    sub.choices["download"].add_argument("--timeout", type=float, default=10.0)
    args = parser.parse_args(argv)
    root = resolve_models_dir(args.models_dir)
    if args.command == "list":
        _print_table(root)
        return 0
    try:
        for name in args.names:
            if args.command == "locate":
                print(locate(name, root))
            else:
                print(download(name, root, timeout=args.timeout))
    except (ValueError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
