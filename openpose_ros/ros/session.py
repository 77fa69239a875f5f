"""``with ros_session(args):`` for ``main()`` functions: this rclpy's ``init`` returns None
(the context-manager form came after Jazzy's first releases), so init and shutdown pair here."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator

import rclpy
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node

__all__ = ["ros_session", "run_node"]


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


def run_node(args: list[str] | None, make_node: Callable[[], Node], name: str, *,
             errors: tuple[type[Exception], ...] = (ValueError,),
             on_exit: Callable[[Node], None] | None = None, **init_options) -> int:
    """The ``main()`` of a node: build it (``errors`` -> a fatal "not started" log and exit
    code 1), spin it until Ctrl-C or shutdown, call ``on_exit(node)`` while the context is still
    up (e.g. to clear markers), destroy it; 0 on a normal end."""
    with ros_session(args, **init_options):
        try:
            node = make_node()
        except errors as err:
            rclpy.logging.get_logger(name).fatal(f"not started: {err}")
            return 1
        try:
            rclpy.spin(node)
        except (KeyboardInterrupt, ExternalShutdownException):
            pass
        finally:
            if rclpy.ok() and on_exit is not None:
                on_exit(node)
            node.destroy_node()
    return 0
