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


def _enumerated(model, prefix=()):
    """(dotted path, allowed values, is a list) of every enumerated setting under a model."""
    import types
    from typing import Literal, Union, get_args, get_origin

    from pydantic import BaseModel

    found = []
    for name, field in model.model_fields.items():
        if name in ("source", "conf_dir"):
            continue
        kind, many = field.annotation, False
        if get_origin(kind) in (Union, types.UnionType):
            options = [a for a in get_args(kind) if a is not type(None)]
            kind = options[0] if len(options) == 1 else kind
        if get_origin(kind) is list:
            kind, many = get_args(kind)[0], True
        if get_origin(kind) is Literal:
            found.append((".".join((*prefix, name)), get_args(kind), many))
        elif isinstance(kind, type) and issubclass(kind, BaseModel):
            found += _enumerated(kind, (*prefix, name))
    return found


COMPANIONS = {
    ("radiomics.discretisation.method", "fixed_bin_width"): ("bin_width", "25"),
    ("radiomics.ivh.method", "fixed_bin_width"): ("bin_width", "2.5"),
}
"""Settings a value needs beside it, as (sibling key, value)."""


def _setting(settings, path: str, many: bool):
    for part in path.split("."):
        settings = getattr(settings, part)
    return list(settings) if many else settings


def test_every_enumerated_setting_takes_each_documented_value_as_written(tmp_path):
    """`pixels: off` in a profile and `--set deid.pixels=off` both mean off: YAML's yes/no/on/
    off are words here, not booleans; every value of every enumerated setting round-trips."""
    from medspark.config import Settings, load_settings, with_assignments

    settings = _enumerated(Settings)
    assert ("deid.pixels", ("detect_and_redact", "hold_back", "off"), False) in settings
    assert len(settings) >= 10
    checked = 0
    for path, values, many in settings:
        *sections, key = path.split(".")
        for value in values:
            written = f"[{value}]" if many else str(value)
            nested = "".join(f"{'  ' * i}{s}:\n" for i, s in enumerate(sections))
            indent = "  " * len(sections)
            lines, assignments = [f"{indent}{key}: {written}"], [f"{path}={written}"]
            if (path, value) in COMPANIONS:
                sibling, given = COMPANIONS[(path, value)]
                lines.append(f"{indent}{sibling}: {given}")
                assignments.append(f"{'.'.join(sections)}.{sibling}={given}")
            profile = tmp_path / "profile.yaml"
            profile.write_text(nested + "\n".join(lines) + "\n")
            expected = [value] if many else value
            from_file = _setting(load_settings(conf_file=profile), path, many)
            assigned = with_assignments(load_settings(), assignments)
            assert from_file == expected == _setting(assigned, path, many), (path, value)
            checked += 1
    assert checked >= 30


def test_boolean_settings_still_read_yes_and_no(tmp_path):
    from medspark.config import load_settings, with_assignments

    profile = tmp_path / "profile.yaml"
    profile.write_text("deid:\n  hash_paths: yes\n  retain_uids: off\n")
    loaded = load_settings(conf_file=profile)
    assert loaded.deid.hash_paths is True and loaded.deid.retain_uids is False
    assert with_assignments(loaded, ["deid.hash_paths=no"]).deid.hash_paths is False
