"""Rewrite the tables in docs/ that are derived from declarations (the per-frame feature groups,
the settings), between their `<!-- NAME:start -->` and `<!-- NAME:end -->` markers:

    .venv/bin/python scripts/docs_tables.py
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path

from medspark import settings_reference
from medspark.imaging import feature_groups

REPO = Path(__file__).resolve().parents[1]
TABLES: dict[str, tuple[Path, Callable[[], str]]] = {
    "feature-groups": (REPO / "docs" / "features.md", feature_groups.markdown_table),
    "settings": (REPO / "docs" / "configuration.md", settings_reference.markdown_table),
}


def section(text: str, name: str) -> re.Match[str] | None:
    """The marked section of `name` in a page, its body as group 1."""
    return re.search(rf"<!-- {name}:start -->\n(.*?)<!-- {name}:end -->", text, re.DOTALL)


def main() -> int:
    for name, (page, table) in TABLES.items():
        text = page.read_text()
        found = section(text, name)
        if found is None:
            print(f"{page}: no <!-- {name}:start --> ... <!-- {name}:end --> markers")
            return 1
        page.write_text(text[: found.start(1)] + table() + text[found.end(1) :])
        print(f"{page}: {name} written")
    return 0


if __name__ == "__main__":
    sys.exit(main())
