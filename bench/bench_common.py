"""What every benchmark shares: the one line format results are compared by across commits."""

from __future__ import annotations


def bench_line(name: str, value: float, goal: str | None = None, digits: int = 4) -> str:
    """``BENCH <name> <value> goal <op><target> met|missed``, or ``... goal measured``.

    ``goal`` is ``"<=5"`` or ``">=1.0"``; None for a value that is only measured.
    """
    if goal is None:
        return f"BENCH {name} {value:.{digits}g} goal measured"
    op, target = goal[:2], float(goal[2:])
    if op not in ("<=", ">="):
        raise ValueError(f"goal {goal!r} must start with <= or >=")
    met = value <= target if op == "<=" else value >= target
    return f"BENCH {name} {value:.{digits}g} goal {goal} {'met' if met else 'missed'}"
