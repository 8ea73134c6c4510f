import pytest
from pydantic import ValidationError

from medspark.config import load_settings


@pytest.mark.parametrize("profile", ["local", "cluster"])
def test_profiles_load_and_validate(profile):
    settings = load_settings(profile)
    assert settings.deid.enabled is True
    assert settings.ingest.files_per_task >= 100
    assert len(settings.fingerprint()) == 64


def test_local_profile_runs_embedded_and_cluster_defers_to_spark_submit():
    assert load_settings("local").spark.master.startswith("local")
    assert load_settings("cluster").spark.master is None


def test_unknown_keys_are_rejected(tmp_path):
    conf = tmp_path / "bad.yaml"
    conf.write_text("ingest:\n  files_per_tsk: 10\n")
    with pytest.raises(ValidationError):
        load_settings(conf_file=conf)


def test_unknown_profile_and_missing_file():
    with pytest.raises(ValueError):
        load_settings("nope")
    with pytest.raises(FileNotFoundError):
        load_settings(conf_file="/nonexistent/medspark.yaml")


def test_fingerprint_changes_with_settings(tmp_path):
    conf = tmp_path / "x.yaml"
    conf.write_text("ingest:\n  files_per_task: 10\n")
    assert load_settings(conf_file=conf).fingerprint() != load_settings("local").fingerprint()
