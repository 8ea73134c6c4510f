"""Input keys: one key per input, one input per key."""

from __future__ import annotations

import pytest

from medspark.dicom.input_keys import (
    MemberRef,
    escape,
    member_key,
    outer_file,
    parse,
    unescape,
    unescape_bytes,
)


@pytest.mark.parametrize(
    "name,key",
    [
        ("plain/path.dcm", "plain/path.dcm"),
        ("100%", "100%25"),
        ("a!b", "a%21b"),
        ("x.zip!/y", "x.zip%21/y"),
        ("%21", "%2521"),
        ("M\udc80\udcfc\udcffller", "M%80%FC%FFller"),  # the three edges of undecodable bytes
        ("Müller", "Müller"),
    ],
)
def test_escape_and_its_inverse(name, key):
    assert escape(name) == key
    assert unescape(key) == name


def test_only_the_surrogates_that_stand_for_bytes_are_escaped():
    assert escape("\udc7f\udd00") == "\udc7f\udd00"


def test_escaped_bytes_come_back_as_raw_bytes():
    assert unescape_bytes("M%FCller") == b"M\xfcller"
    assert unescape_bytes("M%fcller") == b"M\xfcller"  # either case of hex digits
    assert unescape_bytes("a%25b%21c") == b"a%b!c"
    assert unescape_bytes("%F") == b"%F"  # not an escape: left as written
    assert unescape_bytes("Müller") == "Müller".encode()
    assert unescape_bytes("x\udcfcy") == b"x\xfcy"
    assert unescape("M%FCller") == "M\udcfcller"


def test_member_keys_and_their_parts():
    key = member_key(member_key("/in/a!b.zip".replace("!", "%21"), "in!ner.zip"), "s.dcm", 2)
    assert key == "/in/a%21b.zip!/in%21ner.zip!/s.dcm!#2"
    assert member_key("/in/a.zip", "s.dcm", 1) == "/in/a.zip!/s.dcm"
    assert outer_file(key) == "/in/a%21b.zip"
    assert outer_file("/in/plain") == "/in/plain"
    location, members = parse(key)
    assert location == "/in/a!b.zip"
    assert members == [MemberRef("in!ner.zip", 1), MemberRef("s.dcm", 2)]
    assert parse("/in/plain") == ("/in/plain", [])
    assert parse("/in/a.zip!/x!#12") == ("/in/a.zip", [MemberRef("x", 12)])
