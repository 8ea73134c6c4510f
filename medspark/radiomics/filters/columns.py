"""The roi_features columns that say which filter made a row's response map: `image_filter`
(its canonical name, null for the unfiltered image) and one `filter_<setting>` column per
setting any filter declares, derived from the filters' settings models."""

from __future__ import annotations

import types
from typing import Any, Literal, Union, get_args, get_origin

import pyarrow as pa
from pydantic import BaseModel

from medspark.radiomics.filters.settings import ImageFilter

IMAGE_FILTER = "image_filter"
_ARROW = {bool: pa.bool_(), int: pa.int32(), float: pa.float64(), str: pa.string()}


def _models() -> tuple[type[BaseModel], ...]:
    return get_args(get_args(ImageFilter)[0])


def _arrow_type(annotation: Any) -> pa.DataType:
    if get_origin(annotation) in (Union, types.UnionType):
        annotation = next(a for a in get_args(annotation) if a is not type(None))
    if get_origin(annotation) is Literal:
        return pa.string()
    return _ARROW[annotation]


def _settings() -> dict[str, tuple[pa.DataType, str]]:
    found: dict[str, tuple[pa.DataType, str]] = {}
    for model in _models():
        for name, field in model.model_fields.items():
            if name == "kind" or name in found:
                continue
            found[name] = (_arrow_type(field.annotation), field.description or "")
    return found


def filter_fields() -> list[pa.Field]:
    """`image_filter` and every `filter_<setting>` column, nullable."""
    fields = [
        pa.field(
            IMAGE_FILTER,
            pa.string(),
            metadata={"doc": "IBSI 2 filter and its settings; null: the image unfiltered"},
        )
    ]
    for name, (kind, doc) in _settings().items():
        fields.append(pa.field(f"filter_{name}", kind, metadata={"doc": doc} if doc else None))
    return fields


def filter_name(spec: Any) -> str:
    """The canonical name of a filter with its settings: `log(boundary=mirror,...)`."""
    settings = ",".join(f"{k}={v}" for k, v in sorted(spec.parameters().items()))
    return f"{spec.kind}({settings})"


def filter_columns(spec: Any | None) -> dict[str, Any]:
    """The filter columns of a row: all null for the unfiltered image."""
    columns: dict[str, Any] = {f"filter_{name}": None for name in _settings()}
    if spec is None:
        return {IMAGE_FILTER: None, **columns}
    for name, value in spec.parameters().items():
        columns[f"filter_{name}"] = value
    return {IMAGE_FILTER: filter_name(spec), **columns}
