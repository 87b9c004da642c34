"""The server's TLS material: a CA made on first start and a serving certificate it signs.

DATA_DIR/pki holds `ca.crt`, `ca.key` (ECDSA P-256, 10 years) and `apiserver.crt`, `apiserver.key`
(1 year; SANs 127.0.0.1, ::1, localhost, the host name, the listen address and any extra SANs).
The serving certificate is issued again from the same CA when a wanted SAN is missing or less than
30 days are left, so clients holding the CA keep working. Keys are written 0600.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import socket
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_DAYS = 3650
SERVING_DAYS = 365
RENEW_BEFORE = datetime.timedelta(days=30)


@dataclass(frozen=True)
class ServingFiles:
    cert: Path
    key: Path
    ca_pem: str        # what clients trust (certificate-authority-data of admin.conf); "" = system trust


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _write(path: Path, data: bytes, private: bool) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    tmp.replace(path)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _ca(pki: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    crt, key_path = pki / "ca.crt", pki / "ca.key"
    if crt.exists() and key_path.exists():
        key = serialization.load_pem_private_key(key_path.read_bytes(), None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError(f"{key_path} is not an ECDSA key")
        return x509.load_pem_x509_certificate(crt.read_bytes()), key
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"osdn-ca@{int(_now().timestamp())}")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(_now() - datetime.timedelta(minutes=5))
            .not_valid_after(_now() + datetime.timedelta(days=CA_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, encipher_only=False,
                                         decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    _write(key_path, _key_pem(key), private=True)
    _write(crt, cert.public_bytes(serialization.Encoding.PEM), private=False)
    return cert, key


def _san(value: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(value.strip("[]")))
    except ValueError:
        return x509.DNSName(value)


def wanted_sans(listen_host: str, extra: tuple[str, ...] = ()) -> list[x509.GeneralName]:
    names = ["127.0.0.1", "::1", "localhost", socket.gethostname(), *extra]
    if listen_host not in ("0.0.0.0", "::", ""):
        names.append(listen_host)
    out: list[x509.GeneralName] = []
    for n in names:
        if (g := _san(n)) not in out:
            out.append(g)
    return out


def _current_ok(crt: Path, ca: x509.Certificate, sans: list[x509.GeneralName]) -> bool:
    if not crt.exists() or not crt.with_suffix(".key").exists():
        return False
    cert = x509.load_pem_x509_certificate(crt.read_bytes())
    have = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return (cert.issuer == ca.subject and cert.not_valid_after_utc - _now() > RENEW_BEFORE
            and all(s in have for s in sans))


def ensure_serving_cert(data_dir: Path, listen_host: str, extra_sans: tuple[str, ...] = ()) -> ServingFiles:
    """Make (or reuse) the CA and a serving certificate covering the wanted names."""
    pki = data_dir / "pki"
    pki.mkdir(mode=0o700, exist_ok=True)
    ca, ca_key = _ca(pki)
    crt, key_path = pki / "apiserver.crt", pki / "apiserver.key"
    sans = wanted_sans(listen_host, extra_sans)
    if not _current_ok(crt, ca, sans):
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "osdn-apiserver")]))
                .issuer_name(ca.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(_now() - datetime.timedelta(minutes=5))
                .not_valid_after(_now() + datetime.timedelta(days=SERVING_DAYS))
                .add_extension(x509.SubjectAlternativeName(sans), critical=False)
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
                .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                               critical=False)
                .sign(ca_key, hashes.SHA256()))
        _write(key_path, _key_pem(key), private=True)
        _write(crt, cert.public_bytes(serialization.Encoding.PEM), private=False)
    return ServingFiles(crt, key_path, ca.public_bytes(serialization.Encoding.PEM).decode())


def given_files(cert: str, key: str, ca_file: str | None) -> ServingFiles:
    """--tls-cert-file/--tls-private-key-file: the operator's own certificate; clients trust --tls-ca-file
    (or the system's CAs when it is not given)."""
    for path in (cert, key, *([ca_file] if ca_file else [])):
        if not os.path.isfile(path):
            raise FileNotFoundError(f"TLS file {path} does not exist")
    return ServingFiles(Path(cert), Path(key), Path(ca_file).read_text() if ca_file else "")
