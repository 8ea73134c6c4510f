"""DICOMweb locations and multipart bodies, without a server."""

from __future__ import annotations

import pytest

from medspark.dicomweb.client import ClientSettings
from medspark.dicomweb.locations import is_dicomweb, parse, public_location
from medspark.dicomweb.multipart import TruncatedMultipart, build_related, parse_related
from medspark.errors import UsageError


def test_a_service_root_with_a_query():
    root = parse("dicomweb+https://pacs.example.org:8443/dicom-web?StudyDate=20260101-20261231")
    assert root.service == "https://pacs.example.org:8443/dicom-web"
    assert root.filters == (("StudyDate", "20260101-20261231"),)
    assert (root.study, root.series, root.instance) == (None, None, None)
    assert root.key == "dicomweb+https://pacs.example.org:8443/dicom-web"


def test_an_instance_key_parses_back_to_itself():
    key = "dicomweb+http://127.0.0.1:8042/dicom-web/studies/1.2/series/1.2.3/instances/1.2.3.4"
    resource = parse(key)
    assert (resource.study, resource.series, resource.instance) == ("1.2", "1.2.3", "1.2.3.4")
    assert resource.key == key
    assert resource.url == key.removeprefix("dicomweb+")
    assert parse(resource.below(instance="9").key).instance == "9"


@pytest.mark.parametrize(
    "bad",
    [
        "dicomweb+http:///dicom-web",
        "dicomweb+http://h/dicom-web/studies",
        "dicomweb+http://h/dicom-web/studies/1/instances/2",
        "dicomweb+http://user:secret@h/dicom-web",
    ],
)
def test_locations_that_cannot_be_used_are_usage_errors(bad):
    with pytest.raises(UsageError) as raised:
        parse(bad)
    assert "secret" not in raised.value.one_line()


def test_only_the_dicomweb_schemes_are_dicomweb():
    assert is_dicomweb("dicomweb+http://h/x") and is_dicomweb("DICOMWEB+HTTPS://h/x")
    assert not is_dicomweb("http://h/x") and not is_dicomweb("/data/dicomweb+http")


def test_a_built_body_parses_back_byte_for_byte():
    contents = [b"\r\n--not-the-boundary\r\n" + bytes(range(256)), b"", b"DICM" * 1000]
    body, content_type = build_related(contents)
    parts = parse_related(body, content_type)
    assert [part.content for part in parts] == contents
    assert {part.headers["content-type"] for part in parts} == {"application/dicom"}


@pytest.mark.parametrize("cut", [10, 200, -8, -3])
def test_a_body_cut_short_is_truncated_not_a_shorter_instance(cut):
    body, content_type = build_related([bytes(300)])
    with pytest.raises(TruncatedMultipart):
        parse_related(body[:cut], content_type)


def test_a_part_shorter_than_its_content_length_is_truncated():
    body = b"--b\r\nContent-Length: 10\r\n\r\n12345\r\n--b--\r\n"
    with pytest.raises(TruncatedMultipart):
        parse_related(body, "multipart/related; boundary=b")


def test_a_body_that_is_not_multipart_is_refused():
    with pytest.raises(ValueError, match="not a multipart"):
        parse_related(b"{}", "application/json")


def test_credentials_come_from_the_environment_and_never_show(monkeypatch):
    monkeypatch.setenv("MEDSPARK_DICOMWEB_USER", "alice")
    monkeypatch.setenv("MEDSPARK_DICOMWEB_PASSWORD", "pa55-word")
    monkeypatch.delenv("MEDSPARK_DICOMWEB_TOKEN", raising=False)
    settings = ClientSettings.from_environment()
    assert settings.authorization == "Basic YWxpY2U6cGE1NS13b3Jk"
    assert "pa55" not in repr(settings) and "YWxp" not in repr(settings)
    monkeypatch.setenv("MEDSPARK_DICOMWEB_TOKEN", "tok-123")
    assert ClientSettings.from_environment().authorization == "Bearer tok-123"


def test_a_querys_values_are_masked_where_people_read_locations():
    shown = public_location("dicomweb+https://pacs/dicom-web?PatientID=MRN-31337&StudyDate=2026")
    assert shown == "dicomweb+https://pacs/dicom-web?PatientID=…&StudyDate=…"
    assert public_location("/data/export?PatientID=x") == "/data/export?PatientID=x"
