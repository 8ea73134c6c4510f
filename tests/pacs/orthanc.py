"""A real Orthanc (Debian's package, with its DICOMweb plugin) on 127.0.0.1 for the tests.

Each server has its own temporary configuration and storage, listens on free ports, and is
stopped by its process id whatever happens.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from tests.ports import LOOPBACK, distinct_free_ports

ORTHANC = shutil.which("Orthanc")
DICOMWEB_PLUGIN = Path("/usr/share/orthanc/plugins/libOrthancDicomWeb.so")
USER, PASSWORD = "medspark-test", "not-a-real-secret-7f3a"


def orthanc_available() -> bool:
    return ORTHANC is not None and DICOMWEB_PLUGIN.is_file()


@dataclass
class Orthanc:
    """One Orthanc process; `modalities` are the DICOM peers it may send to or accept."""

    root: Path
    aet: str = "ORTHANC"
    modalities: dict[str, tuple[str, str, int]] = field(default_factory=dict)
    ports: list[int] = field(default_factory=lambda: distinct_free_ports(2))
    process: subprocess.Popen | None = None

    @property
    def http_port(self) -> int:
        return self.ports[0]

    @property
    def dicom_port(self) -> int:
        return self.ports[1]

    @property
    def rest(self) -> str:
        return f"http://{LOOPBACK}:{self.http_port}"

    @property
    def dicomweb(self) -> str:
        """The service root as medspark takes it."""
        return f"dicomweb+{self.rest}/dicom-web"

    def configuration(self) -> dict:
        storage = self.root / "storage"
        return {
            "Name": f"medspark-test-{self.aet}",
            "StorageDirectory": str(storage),
            "IndexDirectory": str(storage),
            "HttpPort": self.http_port,
            "DicomPort": self.dicom_port,
            "DicomAet": self.aet,
            "RemoteAccessAllowed": False,
            "AuthenticationEnabled": True,
            "RegisteredUsers": {USER: PASSWORD},
            "Plugins": [str(DICOMWEB_PLUGIN)],
            "DicomWeb": {"Enable": True, "Root": "/dicom-web/"},
            "DicomModalities": {name: list(peer) for name, peer in self.modalities.items()},
            "DicomCheckCalledAet": False,
            "StorageCompression": False,
            "HttpCompressionEnabled": False,
        }

    def start(self, timeout: float = 60) -> Orthanc:
        self.root.mkdir(parents=True, exist_ok=True)
        config = self.root / "orthanc.json"
        config.write_text(json.dumps(self.configuration(), indent=2))
        log = (self.root / "orthanc.log").open("w")
        assert ORTHANC is not None
        self.process = subprocess.Popen(
            [ORTHANC, str(config)],
            cwd=self.root,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                self.get("/system")
                return self
            except (OSError, ValueError):
                time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"Orthanc did not start; see {self.root / 'orthanc.log'}")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def _call(self, method: str, path: str, body: bytes | None = None) -> bytes:
        request = urllib.request.Request(self.rest + path, data=body, method=method)
        token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.read()

    def get(self, path: str):
        return json.loads(self._call("GET", path))

    def post(self, path: str, body: bytes) -> dict:
        return json.loads(self._call("POST", path, body))

    def delete(self, path: str) -> None:
        self._call("DELETE", path)

    def store(self, data: bytes) -> str | None:
        """Store one file over the REST API: the new instance's Orthanc id, or None when Orthanc
        refuses it or already holds that instance."""
        try:
            answer = self.post("/instances", data)
        except urllib.error.HTTPError:
            return None
        if isinstance(answer, dict) and answer.get("Status") == "Success":
            return answer["ID"]
        return None

    def sop_instance_uids(self) -> set[str]:
        uids = set()
        for orthanc_id in self.get("/instances"):
            tags = self.get(f"/instances/{orthanc_id}/simplified-tags")
            uids.add(tags["SOPInstanceUID"])
        return uids
