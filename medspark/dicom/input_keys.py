"""The key that names one input: a listed file, or a member inside an archive, at any depth.

A key is `FILE[!/MEMBER[!#N]]...`. Inside each part, `%` and `!` are percent-escaped, and so is
any byte of a local file name that is not UTF-8, so a raw `!` is always structure: `!/` steps
into an archive and `!#N` picks the N-th member of that name (N >= 2) when an archive holds
several. Every input therefore has exactly one key, and every key names exactly one input; a
path without `%`, `!` or undecodable bytes is its own key.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

ARCHIVE_SEPARATOR = "!/"
_OCCURRENCE = re.compile(r"^(.*)!#([0-9]+)$", re.DOTALL)
_ESCAPED_BYTE = re.compile(r"%([0-9A-Fa-f]{2})")


def escape(text: str) -> str:
    """One part of a key: `%` and `!` escaped, undecodable bytes (surrogate escapes) as %XX."""
    out = []
    for char in text:
        code = ord(char)
        if char == "%":
            out.append("%25")
        elif char == "!":
            out.append("%21")
        elif 0xDC80 <= code <= 0xDCFF:  # os.fsdecode's stand-in for a byte that is not UTF-8
            out.append(f"%{code - 0xDC00:02X}")
        else:
            out.append(char)
    return "".join(out)


def unescape_bytes(part: str) -> bytes:
    """The raw bytes one escaped key part stands for."""
    out = bytearray()
    position = 0
    for match in _ESCAPED_BYTE.finditer(part):
        out += part[position : match.start()].encode("utf-8", "surrogateescape")
        out.append(int(match.group(1), 16))
        position = match.end()
    out += part[position:].encode("utf-8", "surrogateescape")
    return bytes(out)


def unescape(part: str) -> str:
    """One key part back to the name it escapes (undecodable bytes as surrogate escapes)."""
    return os.fsdecode(unescape_bytes(part))


@dataclass(frozen=True)
class MemberRef:
    """One step into an archive: the member's name and which of the same-named members."""

    name: str
    occurrence: int = 1


def member_key(parent: str, name: str, occurrence: int = 1) -> str:
    """The key of an archive member under the archive's own key."""
    suffix = f"!#{occurrence}" if occurrence > 1 else ""
    return f"{parent}{ARCHIVE_SEPARATOR}{escape(name)}{suffix}"


def parse(key: str) -> tuple[str, list[MemberRef]]:
    """(the listed file's location, the members to step into) of a key."""
    outer, *members = key.split(ARCHIVE_SEPARATOR)
    refs = []
    for member in members:
        match = _OCCURRENCE.match(member)
        if match:
            refs.append(MemberRef(unescape(match.group(1)), int(match.group(2))))
        else:
            refs.append(MemberRef(unescape(member)))
    return unescape(outer), refs


def outer_file(key: str) -> str:
    """The listed file's key part of a key (the archive, for a member)."""
    return key.split(ARCHIVE_SEPARATOR, 1)[0]
