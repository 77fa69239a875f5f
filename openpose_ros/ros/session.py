"""``with ros_session(args):`` for ``main()`` functions: this rclpy's ``init`` returns None
(the context-manager form came after Jazzy's first releases), so init and shutdown pair here."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import rclpy

__all__ = ["ros_session"]


@contextmanager
def ros_session(args: list[str] | None = None, **init_options) -> Iterator[None]:
    """Initialise the default context with ``args`` (and ``rclpy.init`` keyword options, e.g.
    ``signal_handler_options``); shut it down on leaving (if still up)."""
    rclpy.init(args=args, **init_options)
    try:
        yield
    finally:
        if rclpy.ok():
            rclpy.shutdown()
