"""Helpers for tests that run real nodes over real DDS in one process."""

from __future__ import annotations

import time
from typing import Callable

from rclpy.executors import SingleThreadedExecutor


def spin_until(executor: SingleThreadedExecutor, done: Callable[[], bool], timeout: float = 10.0,
               step: float = 0.02) -> bool:
    """Spin ``executor`` until ``done()`` is true or ``timeout`` seconds pass; returns done()."""
    deadline = time.monotonic() + timeout
    while not done() and time.monotonic() < deadline:
        executor.spin_once(timeout_sec=step)
    return done()


def wait_for_subscribers(executor: SingleThreadedExecutor, publisher, count: int = 1,
                         timeout: float = 10.0) -> None:
    """Spin until ``publisher`` sees ``count`` subscriptions (DDS discovery is asynchronous)."""
    if not spin_until(executor, lambda: publisher.get_subscription_count() >= count, timeout):
        raise TimeoutError(f"{publisher.topic_name}: no subscriber matched within {timeout} s")
