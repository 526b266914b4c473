"""Quality gates: `accuracy >= 0.9` checked against a job's metrics.json."""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Mapping, Sequence

from orchestrator.models import Gate

OPERATORS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
    "==": operator.eq,
}
GATE_PATTERN = r"^\s*(>=|<=|==|>|<)\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*$"
_RULE = re.compile(GATE_PATTERN)


def parse_gate(metric: str, rule: str) -> Gate:
    match = _RULE.match(rule)
    if not match:
        raise ValueError(
            f"expected a rule like '>= 0.9' (one of {' '.join(OPERATORS)}), got {rule!r}"
        )
    return Gate(metric, match.group(1), float(match.group(2)))


def failed_gates(gates: Sequence[Gate], metrics: Mapping[str, float]) -> list[str]:
    """One message per gate that does not hold; a missing metric fails its gate by name.

    So does a NaN or infinite one, whatever the rule: `inf >= 0.9` holds as a float
    comparison, but a loss that diverged to infinity has not passed anything.
    """
    failures = []
    for gate in gates:
        value = metrics.get(gate.metric)
        if value is None:
            failures.append(f"{gate.metric} missing from metrics.json (gate {gate})")
        elif not math.isfinite(value):
            from orchestrator.run_summary import encode_metric  # config loads gates: keep light

            spelled = encode_metric(value)
            failures.append(f"{gate.metric} is {spelled}, not a finite number (gate {gate})")
        elif not OPERATORS[gate.op](value, gate.threshold):
            failures.append(f"{gate.metric} {value:.4g} fails {gate.op} {gate.threshold:g}")
    return failures
