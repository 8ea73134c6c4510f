"""How a feature family is declared: its columns with IBSI identifiers and its compute function."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import get_args

from medspark.radiomics.options import Aggregation

AGGREGATIONS: tuple[str, ...] = get_args(Aggregation)
WHOLE_REGION = "3d"
"""The aggregation of the families that have none (morphology, statistics, histograms...)."""

FeatureValues = dict[str, float | None]


@dataclass(frozen=True)
class Feature:
    """One feature: its column suffix, its IBSI identifier and the manual's name."""

    name: str
    ibsi_id: str
    title: str


@dataclass(frozen=True)
class Family:
    """One IBSI chapter-3 family, declared once.

    `compute(region, aggregations, settings)` returns, per aggregation, the feature values
    keyed by `Feature.name`. A family that has no aggregation is computed once, under `3d`.
    """

    key: str
    prefix: str
    title: str
    features: tuple[Feature, ...]
    textural: bool
    compute: Callable[..., dict[str, FeatureValues]]

    def column(self, feature: Feature) -> str:
        return f"{self.prefix}_{feature.name}"

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(self.column(f) for f in self.features)


def features(*rows: tuple[str, str, str]) -> tuple[Feature, ...]:
    """Feature declarations from (name, IBSI id, title) rows."""
    return tuple(Feature(*row) for row in rows)
