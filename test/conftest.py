"""Shared test fixtures: where ../shared lives, and skipping cleanly without it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("OPENPOSE_ROS_SHARED", REPO.parent / "shared"))


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The ../shared folder (docs and research-only data); skips the test when it is absent."""
    if not (SHARED / "data").is_dir():
        pytest.skip(f"needs the shared data folder at {SHARED} (set OPENPOSE_ROS_SHARED)")
    return SHARED


@pytest.fixture(scope="session")
def shared_data(shared_dir: Path) -> Path:
    return shared_dir / "data"
