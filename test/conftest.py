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


# --- real rclpy over real DDS -------------------------------------------------------------
# Each test process talks on its own DDS domain, on this machine only, so parallel test runs
# (and other users of the machine) never see each other's topics.
os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
ROS_DOMAIN_ID = int(os.environ.get("OPENPOSE_ROS_TEST_DOMAIN", 1 + os.getpid() % 100))


@pytest.fixture
def ros_context():
    """A fresh rclpy context on this process's test domain; shut down after the test."""
    import rclpy  # needs `source env.sh` (make test does it)
    from rclpy.context import Context

    context = Context()
    rclpy.init(context=context, domain_id=ROS_DOMAIN_ID)
    try:
        yield context
    finally:
        if context.ok():
            rclpy.shutdown(context=context)
