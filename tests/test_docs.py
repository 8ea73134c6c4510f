"""The documentation: `docs/` builds with MkDocs in strict mode (a broken link or anchor fails),
the README stays a short front page, and no page speaks of how the project was built."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MAX_README_LINES = 400


def _build(config: Path, site: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(config), "-d", str(site)],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_docs_build_strictly(tmp_path):
    result = _build(REPO / "mkdocs.yml", tmp_path / "site")
    assert result.returncode == 0, result.stderr[-3000:]
    pages = {p.stem for p in (REPO / "docs").glob("*.md")}
    built = {p.parent.name for p in (tmp_path / "site").glob("*/index.html")}
    assert pages - {"index"} <= built


def test_a_broken_link_fails_the_build(tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(REPO / "docs", copy / "docs")
    shutil.copy(REPO / "mkdocs.yml", copy / "mkdocs.yml")
    index = copy / "docs" / "index.md"
    index.write_text(index.read_text() + "\nSee [nowhere](nowhere.md#missing).\n")
    result = _build(copy / "mkdocs.yml", tmp_path / "site")
    assert result.returncode != 0
    assert "nowhere.md" in result.stderr


def test_the_readme_is_a_front_page_whose_links_resolve():
    readme = (REPO / "README.md").read_text()
    assert len(readme.splitlines()) < MAX_README_LINES
    targets = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", readme)
    assert targets and all((REPO / t).exists() for t in targets), targets
    assert ".venv/bin/python -m pytest" in readme


def test_no_page_speaks_of_development_sessions():
    pattern = re.compile(r"\bsession \d+|\b(first|second|third|\w+th) session\b", re.I)
    found = [
        str(path.relative_to(REPO))
        for path in [REPO / "README.md", *(REPO / "docs").glob("*.md")]
        if pattern.search(path.read_text())
    ]
    assert found == []
