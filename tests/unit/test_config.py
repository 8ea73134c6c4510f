import pytest
from pydantic import ValidationError

from medspark.config import load_settings, with_assignments
from medspark.errors import ConfigurationError


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
    with pytest.raises(ConfigurationError, match="unknown profile 'nope'"):
        load_settings("nope")
    with pytest.raises(ConfigurationError, match="configuration file not found"):
        load_settings(conf_file="/nonexistent/medspark.yaml")


def test_assignments_change_single_keys_with_yaml_types_and_keep_the_profile():
    base = load_settings("cluster")
    changed = with_assignments(
        base,
        [
            "features.tensor=true",
            "features.bins=64",
            "radiomics.resample_mm=[1, 1, 2.5]",
            "features.bin_width=null",
            "spark.settings.spark.executor.memory=3g",
        ],
    )
    assert changed.features.tensor is True and changed.features.bins == 64
    assert changed.radiomics.resample_mm == (1.0, 1.0, 2.5)
    assert changed.spark.settings["spark.executor.memory"] == "3g"
    assert changed.spark.master == base.spark.master and changed.conf_dir == base.conf_dir
    assert changed.fingerprint() != base.fingerprint()
    assert with_assignments(base, []) == base


@pytest.mark.parametrize(
    ("assignment", "error"),
    [
        ("features.tensr=true", "no setting 'tensr'"),
        ("feature.tensor=true", "no setting 'feature'"),
        ("features.tensor", "expected KEY=VALUE"),
        ("=3", "expected KEY=VALUE"),
        ("features.bins.x=3", "'bins' has no keys"),
        ("source=elsewhere", "no setting 'source'"),
    ],
)
def test_assignments_to_unknown_keys_are_configuration_errors(assignment, error):
    with pytest.raises(ConfigurationError, match=error):
        with_assignments(load_settings("local"), [assignment])


def test_assigned_values_are_validated_like_the_file():
    with pytest.raises(ValidationError, match=r"features\.bins"):
        with_assignments(load_settings("local"), ["features.bins=1"])


def test_fingerprint_changes_with_settings(tmp_path):
    conf = tmp_path / "x.yaml"
    conf.write_text("ingest:\n  files_per_task: 10\n")
    assert load_settings(conf_file=conf).fingerprint() != load_settings("local").fingerprint()
