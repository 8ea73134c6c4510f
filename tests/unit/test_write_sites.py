"""Every table is written and read through `medspark.spark.output.tables` and every path under
OUT is named by `medspark.layout`: a new write site that bypasses them (and so could forget
encryption, partitioning or the version marker) fails here."""

from __future__ import annotations

import ast
from pathlib import Path

import medspark

PACKAGE = Path(medspark.__file__).parent
TABLE_MODULE = PACKAGE / "spark" / "output" / "tables.py"
LAYOUT_MODULE = PACKAGE / "layout.py"
# Spark ML saves a fitted pipeline (not a table) into the model folder the user names.
MODEL_SAVE = "model.write().overwrite().save(layout.model_pipeline(model_dir))"


WRITERS = ("parquet", "write_table", "write_metadata", "to_parquet", "saveAsTable", "insertInto",
           "writeTo", "write_dataset")  # fmt: skip
FILE_HANDLES = ("stream", "handle", "spool", "sys")


def _sources() -> list[tuple[Path, str]]:
    return [(path, path.read_text()) for path in sorted(PACKAGE.rglob("*.py"))]


def _writer_calls(tree: ast.AST) -> list[ast.AST]:
    """Spark/pyarrow table writes: `<df>.write…`, `.parquet(…)`, `pq.write_table`,
    `write_metadata`, `.to_parquet`, `.saveAsTable`, `.insertInto`."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            named = isinstance(node.value, ast.Name)
            if (
                node.attr in WRITERS
                or (node.attr == "write" and not named and not isinstance(node.value, ast.Call))
                or (node.attr == "write" and named and node.value.id not in FILE_HANDLES)
            ):
                found.append(node)
    return found


def test_no_module_but_the_table_module_writes_tables():
    offenders = []
    for path, text in _sources():
        if path == TABLE_MODULE:
            continue
        lines = text.splitlines()
        for node in _writer_calls(ast.parse(text)):
            line = lines[node.lineno - 1].strip()
            if line != MODEL_SAVE:
                offenders.append(f"{path.relative_to(PACKAGE)}:{node.lineno}: {line}")
    assert offenders == []


def test_the_checker_sees_the_write_sites_it_guards():
    planted = (
        "df.write.mode('overwrite').parquet(uri)\n"
        "frame.filter('x').write.parquet(uri)\n"
        "pq.write_table(table, path)\n"
        "spark.read.parquet(uri)\n"
    )
    assert len(_writer_calls(ast.parse(planted))) >= 4
    assert _writer_calls(ast.parse("stream.write(data)\nhandle.write(text)\n")) == []
    own = _writer_calls(ast.parse(TABLE_MODULE.read_text()))
    assert len(own) >= 3  # write_table's writer, its read, append_rows' pyarrow write


def test_no_module_but_layout_joins_paths_under_out():
    joins = []
    for path, text in _sources():
        if path == LAYOUT_MODULE:
            continue
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "join_uri":
                joins.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert joins == []
