"""How a benchmark reports: named figures, each with its unit, target, reference and verdict."""

from __future__ import annotations

import math
import operator
import os
from typing import Any

_OPERATORS = {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt, "==": operator.eq}


def figure(value: Any, unit: str, *, target: tuple[str, Any] | None = None, reference: Any = None,
           note: str = "") -> dict[str, Any]:
    """One measured figure. `target` is (operator, threshold), e.g. (">=", 500); `pass` is None without one."""
    result: dict[str, Any] = {"value": value, "unit": unit}
    if reference is not None:
        result["reference"] = reference
    if target is not None:
        op, threshold = target
        result["target"] = f"{op} {threshold}"
        result["pass"] = value is not None and bool(_OPERATORS[op](value, threshold))
    if note:
        result["note"] = note
    return result


def percentile(sorted_values: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile of an already sorted list (None when empty)."""
    if not sorted_values:
        return None
    rank = max(1, min(len(sorted_values), math.ceil(fraction * len(sorted_values))))
    return sorted_values[rank - 1]


def latency_summary(seconds: list[float]) -> dict[str, float | int | None]:
    """p50/p95/p99/max in milliseconds of a list of durations in seconds."""
    ordered = sorted(seconds)

    def ms(value: float | None) -> float | None:
        return None if value is None else round(value * 1000, 2)

    return {"count": len(ordered), "p50_ms": ms(percentile(ordered, 0.50)), "p95_ms": ms(percentile(ordered, 0.95)),
            "p99_ms": ms(percentile(ordered, 0.99)), "max_ms": ms(ordered[-1] if ordered else None)}


def env_float(name: str, default: float) -> float:
    return float(os.environ.get(name) or default)


def env_int(name: str, default: int) -> int:
    return int(os.environ.get(name) or default)


def bench_seconds(default: float = 60) -> float:
    """BENCH_SECONDS shortens every timed phase (the smoke test uses 2)."""
    return env_float("BENCH_SECONDS", default)
