"""Every setting a profile may hold, with its default and what it does, derived from the typed
settings: the reference table of docs/configuration.md, and the keys a profile repeats from
the defaults (a profile holds only what differs)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Literal, get_args, get_origin

import yaml
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from medspark.config import Settings

INTERNAL = ("source", "conf_dir")  # filled in by the loader, not by a profile


def leaves(model: type[BaseModel] = Settings, prefix: str = "") -> Iterator[tuple[str, FieldInfo]]:
    """Each setting's dotted key and field, nested settings walked into, in declaration order."""
    for name, field in model.model_fields.items():
        if not prefix and name in INTERNAL:
            continue
        kind = field.annotation
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            yield from leaves(kind, f"{prefix}{name}.")
        else:
            yield f"{prefix}{name}", field


def value_at(settings: BaseModel, key: str) -> Any:
    """The value of a dotted key in validated settings."""
    value: Any = settings
    for part in key.split("."):
        value = getattr(value, part)
    return value


def _shown(value: Any) -> str:
    if isinstance(value, BaseModel):
        value = value.model_dump()
    if isinstance(value, tuple):
        value = list(value)
    if isinstance(value, list):
        value = [v.model_dump() if isinstance(v, BaseModel) else v for v in value]
    return yaml.safe_dump(value, default_flow_style=True, width=1000).strip().removesuffix("...")


def _choices(field: FieldInfo) -> str:
    kind = field.annotation
    if get_origin(kind) is Literal:
        return " · ".join(str(choice) for choice in get_args(kind))
    return ""


def markdown_table() -> str:
    """The settings reference: key, default, values a key takes when they are a few names, and
    what the setting does."""
    defaults = Settings()
    rows = ["| setting | default | values | what it does |", "|---|---|---|---|"]
    for key, field in leaves():
        default = _shown(value_at(defaults, key)).strip().replace("|", "\\|")
        description = (field.description or "").replace("|", "\\|")
        rows.append(f"| `{key}` | `{default}` | {_choices(field)} | {description} |")
    return "\n".join(rows) + "\n"


def _given_keys(raw: Mapping[str, Any], prefix: str = "") -> Iterator[str]:
    known = {key for key, _ in leaves()}
    for name, value in raw.items():
        key = f"{prefix}{name}"
        if key in known or not isinstance(value, Mapping):
            yield key
        else:
            yield from _given_keys(value, f"{key}.")


def repeated_defaults(raw: Mapping[str, Any]) -> list[str]:
    """The keys a profile's YAML (`raw`) sets to the value they have by default."""
    given = Settings.model_validate(raw)
    defaults = Settings()
    return [key for key in _given_keys(raw) if value_at(given, key) == value_at(defaults, key)]
