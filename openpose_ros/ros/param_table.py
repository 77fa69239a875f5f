"""Parameter tables: one ``ParamSpec`` per declared ROS parameter and its descriptor.

Every node declares its parameters from a table of these (``pose_config``,
``triangulation_config``, ``hri_config``). Kept apart from the pose node's table so that a
light node (the HRI bridge) does not import the networks to read its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor

__all__ = ["ParamSpec", "RELIABILITIES", "declare_all", "descriptor"]

#: QoS reliability choices of the nodes' sensor subscriptions.
RELIABILITIES = ("best_effort", "reliable")


@dataclass(frozen=True)
class ParamSpec:
    """One declared parameter. The ROS type is the type of ``default``; ``bounds`` is an
    inclusive (low, high) range; ``choices`` lists allowed strings."""

    name: str
    default: Any
    description: str
    bounds: tuple[float, float] | None = None
    choices: tuple[str, ...] | None = None
    runtime: bool = False


def descriptor(spec: ParamSpec) -> ParameterDescriptor:
    """The ROS descriptor of ``spec`` (type comes from the declared default)."""
    desc = ParameterDescriptor(name=spec.name, description=spec.description)
    if spec.choices:
        desc.additional_constraints = "one of: " + ", ".join(spec.choices)
    if spec.bounds is not None:
        low, high = spec.bounds
        if isinstance(spec.default, int) and not isinstance(spec.default, bool):
            desc.integer_range = [IntegerRange(from_value=int(low), to_value=int(high), step=0)]
        else:
            desc.floating_point_range = [FloatingPointRange(from_value=float(low),
                                                            to_value=float(high), step=0.0)]
    return desc


def declare_all(node, specs) -> dict[str, Any]:
    """Declare every parameter of ``specs`` on ``node`` (overrides from the command line or a
    params file apply) and return their values by name."""
    for spec in specs:
        node.declare_parameter(spec.name, spec.default, descriptor(spec))
    return {spec.name: node.get_parameter(spec.name).value for spec in specs}
