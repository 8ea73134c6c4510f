"""The settings are declared once: every one is described, docs/configuration.md's table is
derived from the declarations, and the shipped profiles hold only what differs from them."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

from medspark.config import PROFILE_NAMES, Settings, load_settings
from medspark.settings_reference import leaves, markdown_table, repeated_defaults, value_at

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts"))
from docs_tables import section  # noqa: E402


def test_every_setting_says_what_it_does():
    keys = [key for key, _ in leaves()]
    assert "deid.encryption.footer_key" in keys and "radiomics.discretisation.bins" in keys
    assert "source" not in keys and "deid.encryption" not in keys
    assert [key for key, field in leaves() if not field.description] == []


def test_the_docs_table_is_the_declared_settings():
    page = (REPO / "docs" / "configuration.md").read_text()
    found = section(page, "settings")
    assert found is not None, "docs/configuration.md lost its settings markers"
    assert found.group(1) == markdown_table(), "run: .venv/bin/python scripts/docs_tables.py"
    assert "| `features.texture` | `true` |" in found.group(1)


@pytest.mark.parametrize("profile", PROFILE_NAMES)
def test_a_shipped_profile_holds_only_what_differs_from_the_defaults(profile):
    raw = yaml.safe_load((REPO / "conf" / f"{profile}.yaml").read_text())
    assert repeated_defaults(raw) == []
    assert load_settings(profile).features.preprocess  # what it does change still applies


def test_a_repeated_default_is_found():
    raw = {"spark": {"settings": {"spark.x": "1"}}, "ingest": {"files_per_task": 200},
           "deid": {"encryption": {"footer_key": "footer", "enabled": True}}}  # fmt: skip
    assert repeated_defaults(raw) == ["ingest.files_per_task", "deid.encryption.footer_key"]
    assert value_at(Settings.model_validate(raw), "deid.encryption.enabled") is True
