"""An HTTP client for one DICOMweb service: pooled connections, retries with back-off, TLS
verified, credentials from the environment (never logged, never in a location)."""

from __future__ import annotations

import base64
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import urllib3
from urllib3.exceptions import HTTPError
from urllib3.util import Retry, Timeout

from medspark.dicomweb.locations import parse
from medspark.dicomweb.multipart import TruncatedMultipart, build_related, parse_related
from medspark.errors import EnvironmentProblem, UsageError

USER_ENV = "MEDSPARK_DICOMWEB_USER"
PASSWORD_ENV = "MEDSPARK_DICOMWEB_PASSWORD"
TOKEN_ENV = "MEDSPARK_DICOMWEB_TOKEN"
CA_BUNDLE_ENV = "MEDSPARK_DICOMWEB_CA_BUNDLE"
RETRIES_ENV = "MEDSPARK_DICOMWEB_RETRIES"
BACKOFF_ENV = "MEDSPARK_DICOMWEB_BACKOFF_SECONDS"
TIMEOUT_ENV = "MEDSPARK_DICOMWEB_TIMEOUT_SECONDS"
CONNECTIONS_ENV = "MEDSPARK_DICOMWEB_CONNECTIONS"
MAX_INSTANCE_ENV = "MEDSPARK_DICOMWEB_MAX_INSTANCE_MB"
RETRIED_STATUSES = (429, 500, 502, 503, 504)
_PAGE = 1000
_INSTANCE_ACCEPT = 'multipart/related; type="application/dicom"; transfer-syntax=*'
_JSON_ACCEPT = {"Accept": "application/dicom+json"}


class RemoteReadError(OSError):
    """One resource could not be read; `detail` says why in a sentence fit for a row."""

    def __init__(self, detail: str, status: int | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.status = status


class _CutShortError(Exception):
    """The connection ended in the middle of an answer (worth asking again)."""


class ServiceUnreachableError(EnvironmentProblem):
    """The DICOMweb service does not answer, or answers only with server errors."""


class ServiceRefusedError(UsageError):
    """The DICOMweb service refuses the credentials given (401 or 403)."""


@dataclass(frozen=True)
class ClientSettings:
    """How to talk to a DICOMweb service, read from MEDSPARK_DICOMWEB_* variables."""

    retries: int = 4
    backoff_seconds: float = 0.5
    timeout_seconds: float = 60.0
    connections: int = 4
    max_instance_mb: float = 1024.0
    ca_bundle: str | None = None
    authorization: str | None = field(default=None, repr=False)

    @classmethod
    def from_environment(cls) -> ClientSettings:
        environ = os.environ
        token = environ.get(TOKEN_ENV)
        user, password = environ.get(USER_ENV), environ.get(PASSWORD_ENV)
        if token:
            authorization: str | None = f"Bearer {token}"
        elif user:
            pair = f"{user}:{password or ''}".encode()
            authorization = "Basic " + base64.b64encode(pair).decode("ascii")
        else:
            authorization = None
        return cls(
            retries=int(environ.get(RETRIES_ENV, cls.retries)),
            backoff_seconds=float(environ.get(BACKOFF_ENV, cls.backoff_seconds)),
            timeout_seconds=float(environ.get(TIMEOUT_ENV, cls.timeout_seconds)),
            connections=int(environ.get(CONNECTIONS_ENV, cls.connections)),
            max_instance_mb=float(environ.get(MAX_INSTANCE_ENV, cls.max_instance_mb)),
            ca_bundle=environ.get(CA_BUNDLE_ENV) or None,
            authorization=authorization,
        )


@dataclass(frozen=True)
class Answer:
    """What the service said: status, headers that matter, and the body."""

    status: int
    content_type: str
    body: bytes


def _reason(status: int) -> str:
    if status in (401, 403):
        return f"the server refuses the credentials ({status})"
    if status == 404:
        return "the server no longer holds it (404)"
    return f"the server answered {status}"


class DicomwebClient:
    """Requests to DICOMweb services over one connection pool per process."""

    def __init__(self, settings: ClientSettings) -> None:
        self.settings = settings
        retry = Retry(
            total=settings.retries,
            backoff_factor=settings.backoff_seconds,
            status_forcelist=RETRIED_STATUSES,
            allowed_methods=None,
            raise_on_status=False,
            respect_retry_after_header=True,
        )
        auth = settings.authorization
        self._authorization = {"Authorization": auth} if auth else {}
        self.pool = urllib3.PoolManager(
            num_pools=8,
            maxsize=settings.connections,
            block=True,
            retries=retry,
            timeout=Timeout(total=settings.timeout_seconds),
            cert_reqs="CERT_REQUIRED",
            ca_certs=settings.ca_bundle,
        )

    def request(
        self, method: str, url: str, *, fields: dict | None = None, **kwargs: Any
    ) -> Answer:
        """One request, retried on 429/5xx, timeouts and dropped connections, also when the
        connection drops in the middle of the answer.

        Raises RemoteReadError when no whole answer came.
        """
        headers = self._authorization | kwargs.pop("headers", {})
        for attempt in range(self.settings.retries + 1):
            try:
                response = self.pool.request(
                    method, url, fields=fields, headers=headers, preload_content=False, **kwargs
                )
            except HTTPError as exc:
                cause = getattr(exc, "reason", None) or exc
                raise RemoteReadError(
                    f"no answer from the server after {self.settings.retries} retries "
                    f"({type(cause).__name__})"
                ) from None
            content_type = response.headers.get("Content-Type", "")
            try:
                return Answer(response.status, content_type, self._body(response))
            except _CutShortError as exc:
                if attempt == self.settings.retries:
                    raise RemoteReadError(str(exc)) from None
                time.sleep(self.settings.backoff_seconds * 2**attempt)
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _body(self, response: Any) -> bytes:
        """The whole body, refused past MEDSPARK_DICOMWEB_MAX_INSTANCE_MB (so one huge
        instance is its own quarantine row, not a worker out of memory)."""
        limit = int(self.settings.max_instance_mb * (1 << 20))
        too_large = RemoteReadError(
            f"the answer is larger than {self.settings.max_instance_mb:g} MB ({MAX_INSTANCE_ENV})"
        )
        declared = response.headers.get("Content-Length", "")
        chunks, total = [], 0
        try:
            if not (declared.isdigit() and int(declared) > limit):
                for chunk in response.stream(1 << 20):
                    total += len(chunk)
                    if total > limit:
                        break
                    chunks.append(chunk)
                else:
                    response.release_conn()
                    return b"".join(chunks)
        except HTTPError as exc:
            raise _CutShortError(
                f"the server's answer is cut short: the connection ended early "
                f"({type(exc).__name__})"
            ) from None
        finally:
            if response.connection is not None:
                response.close()  # unread bytes remain: this connection cannot be reused
        raise too_large

    def search(
        self, url: str, filters: tuple[tuple[str, str], ...] = (), page: int = _PAGE
    ) -> Iterator[dict]:
        """QIDO-RS matches at `url`, page after page (limit and offset)."""
        offset = 0
        while True:
            fields = dict(filters) | {"limit": str(page), "offset": str(offset)}
            answer = self.request("GET", url, fields=fields, headers=_JSON_ACCEPT)
            if answer.status == 204 or (answer.status == 200 and not answer.body.strip()):
                return
            if answer.status != 200:
                raise RemoteReadError(_reason(answer.status), answer.status)
            try:
                matches = json.loads(answer.body)
            except ValueError:
                raise RemoteReadError("the server's search answer is not JSON") from None
            yield from matches
            if len(matches) < page:
                return
            offset += len(matches)

    def retrieve_instance(self, url: str) -> bytes:
        """The Part 10 bytes of one instance (WADO-RS), in the syntax the server stores."""
        answer = self.request("GET", url, headers={"Accept": _INSTANCE_ACCEPT})
        if answer.status != 200:
            raise RemoteReadError(_reason(answer.status), answer.status)
        if not answer.content_type.lower().startswith("multipart/"):
            return answer.body
        try:
            parts = parse_related(answer.body, answer.content_type)
        except TruncatedMultipart as exc:
            raise RemoteReadError(f"the server's answer is cut short: {exc}") from None
        except ValueError as exc:
            raise RemoteReadError(f"the server's answer cannot be read: {exc}") from None
        if len(parts) != 1:
            raise RemoteReadError(f"the server answered with {len(parts)} parts, not one")
        return parts[0].content

    def store(self, studies_url: str, instances: list[bytes]) -> Answer:
        """Send instances in one STOW-RS request; the server's answer as given."""
        body, content_type = build_related(instances)
        return self.request(
            "POST",
            studies_url,
            body=body,
            headers={"Content-Type": content_type, **_JSON_ACCEPT},
        )


@cache
def _client_for(settings: ClientSettings) -> DicomwebClient:
    return DicomwebClient(settings)


def client() -> DicomwebClient:
    """This process's client for the settings in its environment now."""
    return _client_for(ClientSettings.from_environment())


def check_service(location: str) -> None:
    """Fail the run with a one-line reason when the service a `dicomweb+` location names cannot
    be searched."""
    search_url = parse(location).service + "/studies"
    try:
        answer = client().request("GET", search_url, fields={"limit": "1"}, headers=_JSON_ACCEPT)
    except RemoteReadError as exc:
        raise ServiceUnreachableError(
            f"the DICOMweb service at {search_url} cannot be reached: {exc.detail}"
        ) from None
    if answer.status in (401, 403):
        raise ServiceRefusedError(
            f"the DICOMweb service at {search_url} refuses the request ({answer.status})",
            hint=f"check {USER_ENV}/{PASSWORD_ENV} or {TOKEN_ENV}",
        )
    if answer.status not in (200, 204):
        raise ServiceUnreachableError(
            f"the DICOMweb service at {search_url} answers {answer.status} to a search"
        )
