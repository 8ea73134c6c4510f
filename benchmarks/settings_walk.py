"""Where a job's settings and its input location travel on the driver: every call into a
medspark function that is handed the profile (`Settings` or one of its sections) or the input
location (as text, or located as a `medspark.sources.Source`), in order, as the modules
("rooms") it enters (a method of the value itself is not a step; WALK_DETAIL=1 names each
function). Prints each walk, the rooms entered more than twice, and the returns to a room
already left.

    SPARK_LOCAL_IP=127.0.0.1 .venv/bin/python benchmarks/settings_walk.py pipeline|features|etl \
        [--input DIR] [--workdir DIR]

The input defaults to pydicom's test files (features: ingested first, and OUT is the location
followed); the job runs in local mode."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from collections import Counter
from pathlib import Path
from types import FrameType
from typing import Any

import medspark
from medspark.cli import main as medspark_main
from medspark.config import Settings
from medspark.sources import KINDS

PACKAGE = str(Path(medspark.__file__).parent)


class Walk:
    """The rooms entered by calls that receive a followed value."""

    def __init__(self, followed_text: str) -> None:
        self.followed_text = followed_text
        self.followed_ids: set[int] = set()
        self.settings_rooms: list[str] = []
        self.input_rooms: list[str] = []

    def _follow_settings(self, value: Any) -> bool:
        if isinstance(value, Settings):
            if id(value) not in self.followed_ids:
                self.followed_ids.add(id(value))
                self.followed_ids.update(
                    id(getattr(value, name)) for name in type(value).model_fields
                )
            return True
        return id(value) in self.followed_ids

    def __call__(self, frame: FrameType, event: str, _: Any) -> None:
        if event != "call" or not frame.f_code.co_filename.startswith(PACKAGE):
            return
        code = frame.f_code
        names = code.co_varnames[: code.co_argcount + code.co_kwonlyargcount]
        arguments = [frame.f_locals.get(name) for name in names if name != "self"]
        room = str(Path(code.co_filename).relative_to(PACKAGE))
        if os.environ.get("WALK_DETAIL"):
            room += ":" + code.co_name
        if any(self._follow_settings(value) for value in arguments):
            _enter(self.settings_rooms, room)
        if any(self._is_input(value) for value in arguments):
            _enter(self.input_rooms, room)

    def _is_input(self, value: Any) -> bool:
        if isinstance(value, KINDS):
            value = value.uri
        return isinstance(value, str) and value.rstrip("/") == self.followed_text


def _enter(rooms: list[str], room: str) -> None:
    if not rooms or rooms[-1] != room:
        rooms.append(room)


def _report(name: str, rooms: list[str]) -> None:
    visits = Counter(rooms)
    returns = len(rooms) - len(visits)
    print(f"{name}: {len(rooms)} stops in {len(visits)} rooms, {returns} returns to a room")
    print("  " + " -> ".join(rooms))
    over = {room: count for room, count in visits.items() if count > 2}
    print(f"  rooms entered more than twice: {over or 'none'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("pipeline", "features", "etl"))
    parser.add_argument("--input", default=None)
    parser.add_argument("--workdir", default="/tmp/medspark-settings-walk")
    args = parser.parse_args()
    if args.input is None:
        import pydicom

        args.input = str(Path(pydicom.__file__).parent / "data" / "test_files")
    work = Path(args.workdir)
    shutil.rmtree(work, ignore_errors=True)
    out = str(work / "out")
    os.environ.setdefault("MEDSPARK_PSEUDONYM_KEY", "settings-walk-key-0123456789abcdef")
    if args.command == "features":
        medspark_main(["ingest", args.input, out])
        command, followed = ["features", out], out
    else:
        command, followed = [args.command, args.input, out], args.input
    walk = Walk(followed.rstrip("/"))
    sys.setprofile(walk)
    try:
        code = medspark_main(command)
    finally:
        sys.setprofile(None)
    print(f"medspark {args.command}: exit {code}")
    _report("settings", walk.settings_rooms)
    followed_name = "OUT (the tables features reads)" if args.command == "features" else "INPUT"
    _report(followed_name, walk.input_rooms)


if __name__ == "__main__":
    main()
