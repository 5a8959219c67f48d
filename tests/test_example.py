"""The commented example scenario that ships in the package: it loads, `scslab scenarios --example`
prints it, and it shows every key of the schema."""

from __future__ import annotations

import tomllib
import types
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from runkit import cli
from scslab.scenario import example_text, load_scenario
from scslab.scenario.loader import EXAMPLE_FILE
from scslab.scenario.schema import ScenarioParams

ROOT = Path(__file__).resolve().parents[1]
# Keys of the format that are not fields of the schema, each with where the example shows it.
NOT_IN_SCHEMA = {"extends": "resolved by the loader before validation; shown as a comment, since it needs a base file"}


def model_of(annotation: Any) -> tuple[str, type[BaseModel] | None]:
    """How a field holds values: ("model" | "dict" | "list" | "leaf", the model inside, if any)."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    origin = typing.get_origin(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "model", annotation
    if origin in (typing.Union, types.UnionType) and len(args) == 1:
        return model_of(args[0])
    if origin is dict and isinstance(args[-1], type) and issubclass(args[-1], BaseModel):
        return "dict", args[-1]
    if origin is list and args and isinstance(args[0], type) and issubclass(args[0], BaseModel):
        return "list", args[0]
    return "leaf", None


def schema_keys(model: type[BaseModel], prefix: str = "") -> set[str]:
    """Every key of the schema, with NAME for a table's free names and [] for arrays of tables."""
    keys: set[str] = set()
    for name, field in model.model_fields.items():
        key = f"{prefix}{name}"
        how, inner = model_of(field.annotation)
        if inner is None:
            keys.add(key)
        else:
            keys |= schema_keys(inner, {"model": f"{key}.", "dict": f"{key}.NAME.", "list": f"{key}[]."}[how])
    return keys


def example_keys(value: Any, model: type[BaseModel], prefix: str = "") -> set[str]:
    """The keys the example sets, named as schema_keys names them."""
    keys: set[str] = set()
    for name, item in value.items():
        key = f"{prefix}{name}"
        how, inner = model_of(model.model_fields[name].annotation)
        if inner is None:
            keys.add(key)
        elif how == "model":
            keys |= example_keys(item, inner, f"{key}.")
        elif how == "dict":
            keys |= {k for table in item.values() for k in example_keys(table, inner, f"{key}.NAME.")}
        else:
            keys |= {k for table in item for k in example_keys(table, inner, f"{key}[].")}
    return keys


def test_the_example_ships_in_the_package_and_loads() -> None:
    assert EXAMPLE_FILE.parent == ROOT / "src" / "scslab" / "scenario"  # the wheel packs src/scslab whole
    scenario = load_scenario(EXAMPLE_FILE)
    assert scenario.name == "example"
    assert scenario.raw == tomllib.loads(example_text())


def test_every_key_of_the_schema_is_set_in_the_example() -> None:
    document = tomllib.loads(example_text())
    shown = example_keys(document, ScenarioParams)
    every = schema_keys(ScenarioParams)
    assert every - shown == set(), "keys of the schema that the example does not set"
    assert shown <= every
    nested = {
        "population.age_shares.child",
        "sources.NAME.misattribution",
        "events.NAME.eligible.party_member",
        "sanctions[].modes",
        "rewards[].window_days",
        "networks.friends.same_district",
        "firms.person_to_firm",
    }
    assert nested <= every  # the walk reached every kind of nested table


def test_the_keys_outside_the_schema_are_shown_as_comments() -> None:
    comments = [line.lstrip("# ") for line in example_text().splitlines() if line.startswith("#")]
    for key in NOT_IN_SCHEMA:
        assert key not in tomllib.loads(example_text())
        assert any(line.startswith(f"{key} = ") for line in comments), key
        commented = next(line for line in comments if line.startswith(f"{key} = "))
        preset = tomllib.loads(commented.split("#")[0])[key]
        assert load_scenario(preset).name == preset  # the commented value is a real base


def test_scenarios_example_prints_the_file(tmp_path: Path) -> None:
    done = cli("scenarios", "--example", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout == example_text()
    (tmp_path / "mine.toml").write_text(done.stdout, encoding="utf-8")
    assert load_scenario(tmp_path / "mine.toml").params == load_scenario(EXAMPLE_FILE).params
