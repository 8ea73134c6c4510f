"""multipart/related bodies (PS3.18 §8.6): reading WADO-RS answers, writing STOW-RS requests."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from email.message import Message


class TruncatedMultipart(ValueError):
    """The body ends before a part, or before the closing boundary."""


@dataclass(frozen=True)
class Part:
    """One part of a multipart body: its headers (lower-case names) and its bytes."""

    headers: dict[str, str]
    content: bytes


def boundary_of(content_type: str) -> str:
    """The boundary parameter of a multipart Content-Type header; ValueError when absent."""
    message = Message()
    message["content-type"] = content_type
    if message.get_content_maintype() != "multipart":
        raise ValueError(f"not a multipart body ({message.get_content_type()})")
    boundary = message.get_param("boundary")
    if not isinstance(boundary, str) or not boundary:
        raise ValueError("multipart body without a boundary")
    return boundary


def _headers(block: bytes) -> dict[str, str]:
    headers = {}
    for line in block.split(b"\r\n"):
        if b":" in line:
            name, value = line.split(b":", 1)
            headers[name.decode("latin-1").strip().lower()] = value.decode("latin-1").strip()
    return headers


def parse_related(body: bytes, content_type: str) -> list[Part]:
    """The parts of a multipart body, in order.

    Raises TruncatedMultipart when the body stops short of its closing boundary, or a part is
    shorter than its own Content-Length says.
    """
    delimiter = b"--" + boundary_of(content_type).encode("latin-1")
    start = body.find(delimiter)
    if start < 0:
        raise TruncatedMultipart("no opening boundary")
    parts: list[Part] = []
    position = start + len(delimiter)
    while True:
        if body.startswith(b"--", position):
            return parts
        header_end = body.find(b"\r\n\r\n", position)
        if header_end < 0:
            raise TruncatedMultipart("a part's headers are cut off")
        headers = _headers(body[position:header_end])
        content_start = header_end + 4
        following = body.find(b"\r\n" + delimiter, content_start)
        if following < 0:
            raise TruncatedMultipart("the body ends before the closing boundary")
        content = body[content_start:following]
        declared = headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) != len(content):
            raise TruncatedMultipart("a part is not as long as its Content-Length says")
        parts.append(Part(headers, content))
        position = following + 2 + len(delimiter)


def build_related(contents: list[bytes], part_type: str = "application/dicom") -> tuple[bytes, str]:
    """A multipart/related body of `contents`, and the Content-Type header that goes with it."""
    boundary = uuid.uuid4().hex
    delimiter = f"--{boundary}".encode()
    chunks = []
    for content in contents:
        chunks += [delimiter, f"\r\nContent-Type: {part_type}\r\n\r\n".encode(), content, b"\r\n"]
    chunks.append(delimiter + b"--\r\n")
    return b"".join(chunks), f'multipart/related; type="{part_type}"; boundary={boundary}'
