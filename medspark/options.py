"""The base of every settings type: unknown keys are errors and values are frozen once validated.

The per-file core declares the settings it takes on this base; `medspark.config` composes them
into a profile.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class StrictOptions(BaseModel):
    """Settings that reject unknown keys and cannot change after validation."""

    model_config = ConfigDict(extra="forbid", frozen=True)
