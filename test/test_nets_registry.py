"""Model registry, ``locate`` verification and the downloader, against a local HTTP server.

Nothing here touches the internet: files are served by ``http.server`` on 127.0.0.1 with a
handler that honours (or, on request, ignores) HTTP Range, so resume can be observed.
"""

from __future__ import annotations

import hashlib
import http.server
import os
import threading
import time
from pathlib import Path

import pytest

from openpose_ros.nets import registry
from openpose_ros.nets.download import DownloadError, fetch
from openpose_ros.nets.registry import (
    MODELS, ModelFile, ModelNotFoundError, ModelSpec, locate, main, verify_file,
)
from openpose_ros.nets.weights import WeightFileError

PAYLOAD = bytes(range(256)) * 4096  # 1 MiB, position-dependent so misplaced bytes show
PAYLOAD_SHA = hashlib.sha256(PAYLOAD).hexdigest()


class _Handler(http.server.BaseHTTPRequestHandler):
    """Serves ``server.files[path]``; honours ``Range: bytes=N-`` unless ``server.ignore_range``."""

    def do_GET(self):  # noqa: N802 (http.server naming)
        data = self.server.files.get(self.path)
        self.server.ranges.append(self.headers.get("Range"))
        if data is None:
            self.send_error(404)
            return
        start = 0
        header = self.headers.get("Range")
        if header and not self.server.ignore_range:
            start = int(header.split("=")[1].split("-")[0])
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(data) - start))
        self.end_headers()
        self.wfile.write(data[start:])

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.files, httpd.ranges, httpd.ignore_range = {"/m/file.bin": PAYLOAD}, [], False
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def _entry(server, sha256: str = PAYLOAD_SHA) -> ModelFile:
    return ModelFile("test/file.bin", len(PAYLOAD), sha256, (server.url + "/m/file.bin",))


def test_registry_table_is_complete():
    assert set(MODELS) == {"BODY_25", "COCO_18", "MPI_15", "MPI_15_4", "HAND_21", "FACE_70",
                           "LIGHTWEIGHT_COCO_18"}
    body = MODELS["BODY_25"].files[0]
    assert body.size == 104_715_850 and body.sha256.startswith("44e3d7eb")
    assert body.urls[0] == "http://vcl.snu.ac.kr/OpenPose/models/pose/body_25/pose_iter_584000.caffemodel"
    assert "posefs1.perception.cs.cmu.edu" in body.urls[1]
    assert MODELS["MPI_15_4"].files == MODELS["MPI_15"].files
    light = MODELS["LIGHTWEIGHT_COCO_18"]
    assert [f.size for f in light.files] == [426_156, 4_170_034] and "Apache-2.0" in light.licence
    assert registry.model_spec("body_25") is MODELS["BODY_25"]


def test_models_dir_default_and_env(monkeypatch, tmp_path):
    monkeypatch.delenv("OPENPOSE_ROS_MODELS", raising=False)
    assert registry.resolve_models_dir() == Path.home() / ".cache" / "openpose_ros" / "models"
    monkeypatch.setenv("OPENPOSE_ROS_MODELS", str(tmp_path))
    assert registry.resolve_models_dir() == tmp_path
    assert registry.resolve_models_dir(tmp_path / "x") == tmp_path / "x"


def test_download_verifies_and_caches_the_hash(server, tmp_path, monkeypatch):
    entry = _entry(server)
    path = fetch(entry.urls, tmp_path / entry.path, size=entry.size, sha256=entry.sha256,
                 progress=False)
    assert path.read_bytes() == PAYLOAD and not path.with_name("file.bin.part").exists()
    assert verify_file(tmp_path, entry) == path  # hashes once and remembers (size, mtime)
    monkeypatch.setattr(registry, "sha256_of", lambda p: pytest.fail("re-hashed"))
    assert verify_file(tmp_path, entry) == path
    new_time = path.stat().st_mtime_ns + 10**9
    os.utime(path, ns=(new_time, new_time))  # a touched file must be hashed again
    with pytest.raises(pytest.fail.Exception, match="re-hashed"):
        verify_file(tmp_path, entry)


def test_download_resumes_a_partial_file(server, tmp_path):
    entry = _entry(server)
    dest = tmp_path / entry.path
    dest.parent.mkdir(parents=True)
    dest.with_name("file.bin.part").write_bytes(PAYLOAD[:300_000])
    fetch(entry.urls, dest, size=entry.size, sha256=entry.sha256, progress=False)
    assert server.ranges == ["bytes=300000-"]
    assert dest.read_bytes() == PAYLOAD


def test_download_restarts_when_the_server_ignores_range(server, tmp_path):
    server.ignore_range = True
    entry = _entry(server)
    dest = tmp_path / entry.path
    dest.parent.mkdir(parents=True)
    dest.with_name("file.bin.part").write_bytes(b"x" * 1000)
    fetch(entry.urls, dest, size=entry.size, sha256=entry.sha256, progress=False)
    assert dest.read_bytes() == PAYLOAD


def test_download_with_bad_checksum_fails_and_leaves_nothing(server, tmp_path):
    entry = _entry(server, sha256="0" * 64)
    dest = tmp_path / entry.path
    with pytest.raises(WeightFileError) as info:
        fetch(entry.urls, dest, size=entry.size, sha256=entry.sha256, progress=False)
    assert "0" * 64 in str(info.value) and PAYLOAD_SHA in str(info.value)
    assert not dest.exists() and not dest.with_name("file.bin.part").exists()


def test_offline_download_fails_fast_with_placement_help(tmp_path):
    closed = ModelFile("pose/x.caffemodel", 10, "a" * 64, ("http://127.0.0.1:9/x.caffemodel",))
    start = time.monotonic()
    with pytest.raises(DownloadError) as info:
        fetch(closed.urls, tmp_path / closed.path, size=10, sha256="a" * 64, timeout=2,
              progress=False)
    assert time.monotonic() - start < 5
    assert str(tmp_path / closed.path) in str(info.value) and "a" * 64 in str(info.value)


def test_cli_download_then_locate(server, tmp_path, monkeypatch, capsys):
    spec = ModelSpec("TEST_MODEL", "test", (_entry(server),), "test", "served locally")
    monkeypatch.setattr(registry, "MODELS", {"TEST_MODEL": spec})
    with pytest.raises(ModelNotFoundError) as info:
        locate("test_model", tmp_path)
    assert "download TEST_MODEL" in str(info.value) and str(tmp_path / "test/file.bin") in str(info.value)
    assert main(["--models-dir", str(tmp_path), "download", "TEST_MODEL"]) == 0
    assert locate("TEST_MODEL", tmp_path).read_bytes() == PAYLOAD
    assert main(["--models-dir", str(tmp_path), "locate", "test_model"]) == 0
    assert str(tmp_path / "test/file.bin") in capsys.readouterr().out


def test_locate_rejects_wrong_size_and_wrong_checksum(tmp_path, shared_data):
    """A corrupted copy of the lightweight IR: same size, one byte changed -> sha256 error."""
    source = shared_data / "models" / "intel_human_pose_estimation_0001_FP16-INT8"
    spec = MODELS["LIGHTWEIGHT_COCO_18"]
    for entry in spec.files:
        dest = tmp_path / entry.path
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes((source / Path(entry.path).name).read_bytes())
    assert locate("LIGHTWEIGHT_COCO_18", tmp_path).suffix == ".xml"
    binary = tmp_path / spec.files[1].path
    data = bytearray(binary.read_bytes())
    data[1000] ^= 0xFF
    binary.write_bytes(bytes(data))
    with pytest.raises(WeightFileError) as info:
        locate("LIGHTWEIGHT_COCO_18", tmp_path)
    assert str(binary) in str(info.value) and spec.files[1].sha256 in str(info.value)
    binary.write_bytes(bytes(data[:-10]))
    with pytest.raises(WeightFileError, match="expected 4170034 bytes, found 4170024 bytes"):
        locate("LIGHTWEIGHT_COCO_18", tmp_path)
