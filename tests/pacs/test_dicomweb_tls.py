"""DICOMweb over HTTPS (TLS terminated in front of a real Orthanc): the certificate is verified,
and a hospital's own CA is trusted through MEDSPARK_DICOMWEB_CA_BUNDLE."""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from medspark.dicom.inspect import InspectOptions, inspect_file
from medspark.dicomweb.catalog import instances_in, series_to_walk
from medspark.dicomweb.client import ServiceUnreachableError, check_service
from medspark.dicomweb.locations import parse
from tests.conftest import pydicom_file
from tests.pacs.faulty_proxy import FaultyProxy
from tests.pacs.orthanc import Orthanc
from tests.ports import LOOPBACK


def self_signed(path) -> None:
    """A certificate for 127.0.0.1 signed by its own key, both in one PEM file."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "medspark test PACS")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(LOOPBACK))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    path.write_bytes(
        certificate.public_bytes(serialization.Encoding.PEM)
        + key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )


@dataclass
class HttpsPacs:
    dicomweb: str
    certificate: Path


@pytest.fixture(scope="module")
def https_pacs(orthanc, tmp_path_factory):
    root = tmp_path_factory.mktemp("tls")
    certificate = root / "pacs.pem"
    self_signed(certificate)
    server = Orthanc(root / "orthanc").start()
    try:
        server.store(pydicom_file("CT_small.dcm").read_bytes())
        with FaultyProxy(server.rest, {}, certificate) as front:
            yield HttpsPacs(f"dicomweb+{front.url}/dicom-web", certificate)
    finally:
        server.stop()


def test_an_unknown_certificate_is_refused(https_pacs, monkeypatch):
    server = https_pacs
    monkeypatch.setenv("MEDSPARK_DICOMWEB_RETRIES", "0")
    monkeypatch.delenv("MEDSPARK_DICOMWEB_CA_BUNDLE", raising=False)
    assert server.dicomweb.startswith("dicomweb+https://")
    with pytest.raises(ServiceUnreachableError, match="SSLError"):
        check_service(server.dicomweb)


def test_the_hospitals_ca_makes_it_readable(https_pacs, monkeypatch):
    server = https_pacs
    monkeypatch.setenv("MEDSPARK_DICOMWEB_CA_BUNDLE", str(server.certificate))
    check_service(server.dicomweb)
    (series,) = series_to_walk(parse(server.dicomweb))
    (instance,) = list(instances_in(series))
    (record,) = list(inspect_file(instance.key, 0, InspectOptions(run_id="tls")))
    assert record["outcome"] == "metadata"
    assert record["file_size"] == pydicom_file("CT_small.dcm").stat().st_size
