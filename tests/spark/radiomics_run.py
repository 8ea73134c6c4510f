"""`medspark ingest` then `medspark radiomics` over a folder of images and region objects."""

from __future__ import annotations

from pathlib import Path

import pytest

from medspark.cli import main


def ingest_and_describe(inputs: Path, root: Path, profile: str, key: str) -> Path:
    """Run both jobs from the command line with `profile` (YAML text) and the pseudonym key;
    returns OUT."""
    conf = root / "radiomics.yaml"
    conf.write_text(profile)
    out = root / "out"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MEDSPARK_PSEUDONYM_KEY", key)
        assert main(["ingest", str(inputs), str(out)]) == 0
        assert main(["radiomics", str(out), "--conf", str(conf)]) == 0
    return out
