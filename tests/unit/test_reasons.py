"""One vocabulary of reasons: every quarantine reason is a member of `Reason`, described once
(the report's text), documented in docs/, and no code raises a reason as a bare string."""

from __future__ import annotations

import re
from pathlib import Path

from medspark.dicom.reasons import DESCRIPTION, Reason
from medspark.report.page import REASON_TEXT

REPO = Path(__file__).resolve().parents[2]


def test_every_reason_is_described_and_the_report_uses_the_descriptions():
    assert set(DESCRIPTION) == set(Reason)
    assert all(text and text == text.strip() for text in DESCRIPTION.values())
    assert {reason.value: text for reason, text in DESCRIPTION.items()} == REASON_TEXT


def test_every_reason_is_documented():
    docs = "".join(page.read_text() for page in sorted((REPO / "docs").glob("*.md")))
    assert [r.value for r in Reason if f"`{r.value}`" not in docs] == []


def test_no_reason_is_raised_as_a_string_literal():
    literal = re.compile(
        r"(RegionRejected|Rejection)\(\s*(Stage\.\w+,\s*)?\"|quarantine_row\([^,()]+,\s*\""
    )
    found = [
        str(path.relative_to(REPO))
        for path in (REPO / "medspark").rglob("*.py")
        if literal.search(path.read_text())
    ]
    assert found == []


def test_every_reason_written_as_a_literal_is_a_member():
    written = re.compile(r"\"reason\":\s*\"([a-z_]+)\"")
    members = {r.value for r in Reason}
    found = {
        (str(path.relative_to(REPO)), value)
        for path in (REPO / "medspark").rglob("*.py")
        for value in written.findall(path.read_text())
        if value not in members
    }
    assert found == set()
