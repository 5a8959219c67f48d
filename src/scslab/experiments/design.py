"""Parameter specs (`KEY=START:STOP:STEP`, `KEY=LOW:HIGH`, `KEY=V1,V2`), designs and run seeds.

An experiment's `--seed S` is its first run seed, as everywhere on the command line: replicate r runs
with seed S + r (the run `scslab run --seed S+r` makes), at every design point, so two points differ by
their parameters only. The design samplers' seed comes from `SeedSequence(S)`.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from scslab.errors import ScenarioError, ScslabError
from scslab.scenario import Scenario
from scslab.scenario.keys import KeyPath, format_key, parse_key

Value = int | float
Point = dict[str, Value]
SPEC_FORMS = "KEY=START:STOP:STEP, KEY=LOW:HIGH or KEY=V1,V2,..."
MAX_GRID = 100_000


@dataclass(frozen=True)
class Param:
    """One varied key: its range, its grid values (None for a range), and whether it holds an integer."""

    key: str
    low: float
    high: float
    values: tuple[Value, ...] | None = None
    integer: bool = False

    def at(self, u: float) -> Value:
        """The value at `u` in [0, 1] of the range (rounded for an integer key)."""
        return self.cast(self.low + u * (self.high - self.low))

    def cast(self, value: float) -> Value:
        """`value` as the key holds it: an int for an integer key, else a float."""
        return round(value) if self.integer else float(value)


def run_seeds(first_seed: int, n: int) -> list[int]:
    """The `n` run seeds of an experiment whose first seed is `first_seed`: first_seed, first_seed + 1, ..."""
    if first_seed < 0 or first_seed + n > 2**63:
        raise ScslabError(f"--seed: {first_seed} (allowed: 0 to {2**63 - n:,} for {n:,} runs)")
    return list(range(first_seed, first_seed + n))


def design_seed(experiment_seed: int) -> int:
    """The seed of an experiment's design samplers (LHS, SALib, optuna), apart from its run seeds."""
    return int(np.random.SeedSequence(experiment_seed).generate_state(1)[0])


def parse_params(texts: Sequence[str], scenario: Scenario, need: str = "range") -> list[Param]:
    """Parse `--param` specs against `scenario`; `need` is "grid" (values) or "range" (LOW:HIGH)."""
    params = [parse_param(text, scenario) for text in texts]
    if not params:
        raise ScslabError(f"--param: none given (allowed: one or more of {SPEC_FORMS})")
    seen: set[str] = set()
    for p in params:
        if p.key in seen:
            raise ScslabError(f"--param {p.key}: given twice (allowed: each key once)")
        seen.add(p.key)
        if need == "grid" and p.values is None:
            raise ScslabError(
                f"--param {p.key}: a range has no grid values (allowed for a grid: KEY=START:STOP:STEP or KEY=V1,V2)"
            )
        if need == "range" and p.values is not None and p.low == p.high:
            raise ScslabError(f"--param {p.key}: a single value is not a range (allowed: KEY=LOW:HIGH)")
    return params


def parse_param(text: str, scenario: Scenario) -> Param:
    """One spec; the key must hold a number in `scenario`, and every value it spans must validate."""
    key, sep, spec = text.partition("=")
    key = key.strip()
    if not sep:
        raise ScslabError(f"--param {text!r}: no '=' (allowed: {SPEC_FORMS})")
    path = parse_key(key)
    if not path:
        raise ScslabError(f"--param {key!r}: not a key (allowed: {SPEC_FORMS}, e.g. events.criticism.points)")
    key = format_key(path)
    integer = _holds_integer(scenario, path, key)
    if "," in spec:
        values = tuple(_number(part, key, integer) for part in spec.split(","))
        param = Param(key, min(values), max(values), tuple(dict.fromkeys(values)), integer)
    else:
        parts = spec.split(":")
        if len(parts) not in (2, 3):
            raise ScslabError(f"--param {key}: {spec!r} is not a spec (allowed: {SPEC_FORMS})")
        numbers = [_number(part, key, integer) for part in parts]
        if len(numbers) == 3:
            param = _grid(key, numbers[0], numbers[1], numbers[2], integer)
        else:
            param = _range(key, numbers[0], numbers[1], integer)
    check_points(scenario, [{key: v} for v in (param.values or (param.cast(param.low), param.cast(param.high)))])
    return param


def check_points(scenario: Scenario, points: Sequence[Mapping[str, Value]]) -> None:
    """Validate each point's overrides on `scenario`; the first bad one is a one-line error."""
    for point in {tuple(sorted(p.items())): p for p in points}.values():
        try:
            scenario.with_overrides(point)
        except ScenarioError as exc:
            message = str(exc)
            raise ScslabError("--param " + message.removeprefix("--set ")) from None


def grid_points(params: Sequence[Param]) -> list[Point]:
    """Every combination of the params' grid values, the first param varying slowest."""
    grids = [p.values or () for p in params]
    if math.prod(len(g) for g in grids) > MAX_GRID:
        raise ScslabError(f"--param: the grid has more than {MAX_GRID:,} points (allowed: fewer values, or lhs)")
    return [dict(zip((p.key for p in params), combo, strict=True)) for combo in itertools.product(*grids)]


def lhs_points(params: Sequence[Param], n: int, seed: int) -> list[Point]:
    """`n` points of a Latin hypercube over the params' ranges."""
    from scipy.stats import qmc

    if n < 1:
        raise ScslabError(f"--n: {n} (allowed: at least 1 point)")
    unit = qmc.LatinHypercube(d=len(params), rng=np.random.default_rng(seed)).random(n)
    return [{p.key: p.at(float(u)) for p, u in zip(params, row, strict=True)} for row in unit]


def points_from_matrix(params: Sequence[Param], matrix: np.ndarray) -> tuple[list[Point], np.ndarray]:
    """Distinct points of a sample matrix (one row per sample, values cast), and each row's point index."""
    index: dict[tuple[Value, ...], int] = {}
    rows = np.empty(matrix.shape[0], dtype=np.int64)
    for i, row in enumerate(matrix):
        key = tuple(p.cast(float(v)) for p, v in zip(params, row, strict=True))
        rows[i] = index.setdefault(key, len(index))
    points = [dict(zip((p.key for p in params), key, strict=True)) for key in index]
    return points, rows


def _holds_integer(scenario: Scenario, path: KeyPath, key: str) -> bool:
    """Whether the key holds an integer; a one-line error unless it holds a number."""
    node: Any = scenario.params.model_dump()
    for segment in path:
        if isinstance(segment, int) and isinstance(node, list) and segment < len(node):
            node = node[segment]
        elif isinstance(segment, str) and isinstance(node, dict) and segment in node:
            node = node[segment]
        else:
            raise ScslabError(
                f"--param {key}: not a key of scenario {scenario.name} "
                f"(allowed: a key that holds a number, e.g. events.criticism.points)"
            )
    if node is None:
        return False
    if isinstance(node, bool) or not isinstance(node, (int, float)):
        raise ScslabError(f"--param {key}: holds {type(node).__name__} values (allowed: a key that holds a number)")
    return isinstance(node, int)


def _number(text: str, key: str, integer: bool) -> Value:
    try:
        value = float(text.strip())
    except ValueError:
        raise ScslabError(f"--param {key}: {text.strip()!r} is not a number (allowed: {SPEC_FORMS})") from None
    if not math.isfinite(value):
        raise ScslabError(f"--param {key}: {text.strip()!r} is not finite (allowed: finite numbers)")
    if integer:
        if value != int(value):
            raise ScslabError(f"--param {key}: {text.strip()} is not an integer (allowed: integers, as the key holds)")
        return int(value)
    return value


def _range(key: str, low: Value, high: Value, integer: bool) -> Param:
    if not low < high:
        raise ScslabError(f"--param {key}: LOW {low} is not below HIGH {high} (allowed: KEY=LOW:HIGH with LOW < HIGH)")
    return Param(key, float(low), float(high), None, integer)


def _grid(key: str, start: Value, stop: Value, step: Value, integer: bool) -> Param:
    if step == 0 or (stop - start) * step < 0:
        raise ScslabError(
            f"--param {key}: step {step} does not lead from {start} to {stop} "
            "(allowed: a step with the sign of STOP - START)"
        )
    count = math.floor((stop - start) / step + 1e-9) + 1
    if count > MAX_GRID:
        raise ScslabError(f"--param {key}: {count:,} values (allowed: at most {MAX_GRID:,})")
    values = tuple(int(start + i * step) if integer else round(start + i * step, 12) for i in range(count))
    return Param(key, float(min(values)), float(max(values)), values, integer)
