"""The claim token carries the fleet CA's fingerprint: composed and split without ambiguity,
a damaged pin refused, the fingerprint the SHA-256 of the certificate's DER encoding."""

from __future__ import annotations

import hashlib
import secrets
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from hypothesis import given
from hypothesis import strategies as st

from fleet.tls import create_fleet_tls
from protocol.provisioning import ca_fingerprint, pinned_token, split_claim_token


@given(st.integers(min_value=16, max_value=48), st.binary(min_size=32, max_size=32))
def test_a_pinned_token_splits_back_into_secret_and_fingerprint(size: int, digest: bytes) -> None:
    secret = secrets.token_urlsafe(size)
    assert split_claim_token(pinned_token(secret, digest.hex())) == (secret, digest.hex())
    assert split_claim_token(pinned_token(secret, None)) == (secret, None)


@pytest.mark.parametrize("pin", ["abc", "zz" * 32, "0" * 63, "0" * 65])
def test_a_damaged_pin_is_refused(pin: str) -> None:
    with pytest.raises(ValueError, match="copy the whole token"):
        split_claim_token(f"{secrets.token_urlsafe(24)}.{pin}")


def test_the_fingerprint_is_the_sha256_of_the_ca_certificate(tmp_path: Path) -> None:
    files = create_fleet_tls(tmp_path, ["fleet.example", "192.0.2.7"])
    pem = files.ca_file.read_bytes()
    der = x509.load_pem_x509_certificate(pem).public_bytes(Encoding.DER)
    assert ca_fingerprint(pem) == hashlib.sha256(der).hexdigest() == files.ca_fingerprint
    server = x509.load_pem_x509_certificate(files.cert_file.read_bytes())
    names = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["fleet.example"]
    assert [str(a) for a in names.get_values_for_type(x509.IPAddress)] == ["192.0.2.7"]
    assert files.key_file.stat().st_mode & 0o777 == 0o600
