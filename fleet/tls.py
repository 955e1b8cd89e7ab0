"""The fleet's private certificate authority: a CA and the server certificates it issues.

``ewp fleet init`` makes a CA (ECDSA P-256, 10 years) and one server certificate for the broker
and the fleet's HTTPS (2 years, the host names and addresses stations use), unless the operator
brings their own files. Stations pin the CA by its fingerprint (``protocol.provisioning``), carried
in every claim token. Private keys are written 0600, whole, as new files, never over an
existing one (``protocol.private_files.create_private``).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from fleet.errors import FleetError
from protocol.private_files import create_private
from protocol.provisioning import ca_fingerprint

CA_CERT_FILE = "fleet-ca.pem"
CA_KEY_FILE = "fleet-ca.key"
SERVER_CERT_FILE = "fleet-server.pem"
SERVER_KEY_FILE = "fleet-server.key"


@dataclass(frozen=True)
class TlsFiles:
    """Where the fleet's TLS material lives (the operator's own files or ours)."""

    ca_file: Path
    cert_file: Path
    key_file: Path

    @property
    def ca_fingerprint(self) -> str:
        return ca_fingerprint(self.ca_file.read_bytes())


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "ewp fleet"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _save(
    directory: Path,
    cert_file: str,
    key_file: str,
    cert: x509.Certificate,
    key: ec.EllipticCurvePrivateKey,
) -> tuple[Path, Path]:
    """The certificate and its key (0600, never over an existing key): (cert file, key file)."""
    directory.mkdir(parents=True, exist_ok=True)
    key_path, cert_path = directory / key_file, directory / cert_file
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    create_private(key_path, pem)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert_path, key_path


def create_ca(directory: Path, *, common_name: str = "ewp fleet CA") -> tuple[Path, Path]:
    """A new CA in ``directory``: (certificate file, key file). Refuses to overwrite."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(_name(common_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return _save(directory, CA_CERT_FILE, CA_KEY_FILE, cert, key)


def issue_server_certificate(
    ca_cert_file: Path,
    ca_key_file: Path,
    directory: Path,
    names: list[str],
    *,
    days: int = 730,
) -> tuple[Path, Path]:
    """A server certificate for ``names`` (host names and IP addresses), signed by the CA:
    (certificate file, key file). The first name is the common name."""
    if not names:
        raise FleetError("a server certificate needs at least one host name or address")
    ca_cert = x509.load_pem_x509_certificate(ca_cert_file.read_bytes())
    ca_key = serialization.load_pem_private_key(ca_key_file.read_bytes(), password=None)
    if not isinstance(ca_key, ec.EllipticCurvePrivateKey):
        raise FleetError(f"{ca_key_file} is not the ECDSA key of an ewp fleet CA")
    alternative: list[x509.GeneralName] = []
    for name in names:
        try:
            alternative.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            alternative.append(x509.DNSName(name))
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(names[0]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(alternative), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    return _save(directory, SERVER_CERT_FILE, SERVER_KEY_FILE, cert, key)


def create_fleet_tls(directory: Path, names: list[str]) -> TlsFiles:
    """A private CA and one server certificate for ``names``, in ``directory``."""
    ca_cert, ca_key = create_ca(directory)
    cert, key = issue_server_certificate(ca_cert, ca_key, directory, names)
    return TlsFiles(ca_cert, cert, key)
