"""TLS by default: the server's own CA and serving certificate (SANs, reuse across restarts, extra
SANs), the operator's certificate, --insecure-http, and admin.conf as a kubeconfig the osdn CLI reads."""

from __future__ import annotations

import datetime
import ipaddress
import socket
import ssl
from pathlib import Path

import httpx
import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from osdn.client.config import load_config
from tests.conftest import ServerProc, free_port, start_server


def sans(path: Path) -> list[str]:
    cert = x509.load_pem_x509_certificate(path.read_bytes())
    ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return [str(n.value) for n in ext]


def test_first_start_makes_a_ca_and_a_serving_cert(server: ServerProc) -> None:
    pki = server.data_dir / "pki"
    assert (pki / "ca.key").stat().st_mode & 0o777 == 0o600
    assert (pki / "apiserver.key").stat().st_mode & 0o777 == 0o600
    names = sans(pki / "apiserver.crt")
    assert {"127.0.0.1", "::1", "localhost", socket.gethostname()} <= set(names)
    cfg = load_config(str(server.config))
    assert cfg.server == server.url and cfg.ca_pem == (pki / "ca.crt").read_text()
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.get(f"{server.url}/healthz")           # not trusted without the CA
    assert server.http().get("/api/v1/namespaces").status_code == 200


def test_restart_keeps_the_ca_and_adds_requested_sans(tmp_path: Path) -> None:
    srv = start_server(tmp_path)
    try:
        ca = (srv.data_dir / "pki" / "ca.crt").read_text()
    finally:
        srv.stop()
    srv.args = ["--tls-san", "api.example.com", "--tls-san", "192.0.2.7"]
    try:
        srv.start()
        assert (srv.data_dir / "pki" / "ca.crt").read_text() == ca
        assert {"api.example.com", "192.0.2.7"} <= set(sans(srv.data_dir / "pki" / "apiserver.crt"))
        assert srv.cli("get", "ns", "default", check=True).stdout.startswith("NAME")
    finally:
        srv.stop()


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "operator")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now - datetime.timedelta(minutes=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    crt, key_path = tmp_path / "op.crt", tmp_path / "op.key"
    crt.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return crt, key_path


def test_operator_certificate_is_served(tmp_path: Path) -> None:
    crt, key = _self_signed(tmp_path)
    srv = ServerProc(tmp_path / "data", free_port(), ["--tls-cert-file", str(crt), "--tls-private-key-file",
                                                      str(key), "--tls-ca-file", str(crt)])
    srv.ca_file.parent.mkdir(parents=True)
    srv.ca_file.write_text(crt.read_text())   # what the test harness trusts
    try:
        srv.start()
        served = ssl.get_server_certificate(("127.0.0.1", srv.port))
        assert x509.load_pem_x509_certificate(served.encode()).subject.rfc4514_string() == "CN=operator"
        assert load_config(str(srv.config)).ca_pem == crt.read_text()
        assert not (srv.data_dir / "pki" / "apiserver.crt").exists()
    finally:
        srv.stop()


def test_insecure_http_still_serves_plain_http(tmp_path: Path) -> None:
    srv = start_server(tmp_path, "--insecure-http")
    try:
        assert srv.url.startswith("http://") and load_config(str(srv.config)).server == srv.url
        assert srv.http().get("/api/v1/namespaces").status_code == 200
        assert srv.cli("get", "ns", check=True).stdout.startswith("NAME")
    finally:
        srv.stop()


def test_an_old_format_admin_conf_becomes_a_kubeconfig(tmp_path: Path) -> None:
    srv = start_server(tmp_path)
    try:
        token = srv.admin_token
    finally:
        srv.stop()
    srv.config.write_text(yaml.safe_dump({"server": "http://127.0.0.1:1", "user": "system:admin", "token": token}))
    try:
        srv.start()
        doc = yaml.safe_load(srv.config.read_text())
        assert doc["current-context"] and doc["users"][0]["user"]["token"] == token
        assert doc["clusters"][0]["cluster"]["server"] == srv.url
    finally:
        srv.stop()


def test_osdn_cli_reads_kubeconfig_env_and_context(server: ServerProc, tmp_path: Path) -> None:
    import os
    import subprocess
    import sys
    doc = yaml.safe_load(server.config.read_text())
    doc["contexts"].append({"name": "blue", "context": {**doc["contexts"][0]["context"], "namespace": "blue"}})
    doc["current-context"] = "nope"
    kc = tmp_path / "merged"
    kc.write_text(yaml.safe_dump(doc))
    env = {k: v for k, v in os.environ.items() if k != "OSDN_CONFIG"}
    env.update(KUBECONFIG=f"{tmp_path / 'missing'}:{kc}", HOME=str(tmp_path))
    run = [sys.executable, "-m", "osdn"]
    r = subprocess.run([*run, "--context", "osdn", "get", "ns", "default", "-o", "name"], env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.stdout.strip() == "namespace/default", r.stderr
    r = subprocess.run([*run, "get", "ns"], env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and 'context "nope" does not exist' in r.stderr
    r = subprocess.run([*run, "--context", "blue", "project"], env=env, capture_output=True, text=True, timeout=60)
    assert 'Using project "blue"' in r.stdout, r.stderr
