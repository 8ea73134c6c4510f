"""An HTTP proxy in front of a real Orthanc that spoils the answers for chosen instances, the
way a loaded or broken PACS does: a 500 every time, a 429 once, a body cut in half, bytes that
are not DICOM. With a certificate it terminates TLS, as the web server in front of a hospital's
PACS does (Debian's Orthanc 1.10 resets HTTPS connections after the handshake under OpenSSL 3)."""

from __future__ import annotations

import ssl
import threading
import urllib.error
import urllib.request
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests.ports import LOOPBACK

FORWARDED_HEADERS = ("Authorization", "Accept")


class FaultyProxy:
    """Forwards GETs to `upstream`; `faults` maps an instance UID to error, busy-once,
    truncate (a multipart body cut short), drop (the connection closes mid-body; drop-once:
    the first time only) or junk.
    `hits` counts requests per instance UID."""

    def __init__(
        self, upstream: str, faults: dict[str, str], certificate: Path | None = None
    ) -> None:
        self.upstream = upstream.rstrip("/")
        self.faults = faults
        self.hits: Counter[str] = Counter()
        self.server = ThreadingHTTPServer((LOOPBACK, 0), self._handler())
        self.scheme = "http"
        if certificate is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(certificate)
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
            self.scheme = "https"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"{self.scheme}://{LOOPBACK}:{self.server.server_address[1]}"

    def __enter__(self) -> FaultyProxy:
        self.thread.start()
        return self

    def __exit__(self, *_) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _handler(self):
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_) -> None:
                pass

            def _answer(self, status: int, content_type: str, body: bytes, **extra) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                for name, value in extra.items():
                    self.send_header(name.replace("_", "-"), value)
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                uid = self.path.split("?")[0].rsplit("/instances/", 1)
                fault = proxy.faults.get(uid[1]) if len(uid) == 2 else None
                if fault:
                    proxy.hits[uid[1]] += 1
                if fault == "error":
                    return self._answer(500, "text/plain", b"internal error")
                if fault == "busy-once" and proxy.hits[uid[1]] == 1:
                    return self._answer(429, "text/plain", b"slow down", Retry_After="0")
                request = urllib.request.Request(proxy.upstream + self.path)
                for name in FORWARDED_HEADERS:
                    if self.headers.get(name):
                        request.add_header(name, self.headers[name])
                try:
                    with urllib.request.urlopen(request, timeout=60) as response:
                        status, body = response.status, response.read()
                        content_type = response.headers.get("Content-Type", "")
                except urllib.error.HTTPError as error:
                    status, body = error.code, error.read()
                    content_type = error.headers.get("Content-Type", "")
                dropping = fault == "drop" or (fault == "drop-once" and proxy.hits[uid[1]] == 1)
                if dropping:  # headers promise the whole body; half comes, then EOF
                    self.send_response(status)
                    self.send_header("Content-Type", content_type)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body[: len(body) // 2])
                    self.close_connection = True
                    return None
                if fault == "truncate":
                    body = body[: len(body) // 2]
                elif fault == "junk":
                    boundary = content_type.split("boundary=")[-1].strip('"')
                    body = (f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode()
                            + b"<html>maintenance page</html>" * 20
                            + f"\r\n--{boundary}--\r\n".encode())  # fmt: skip
                return self._answer(status, content_type, body)

        return Handler
