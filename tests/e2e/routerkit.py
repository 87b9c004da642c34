"""Helpers for the router e2e tests: an internet client in the lab's outside world, TLS pods."""

from __future__ import annotations

import datetime
import subprocess
import sys
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from osdn.kernel import netns
from osdn.lab.topology import plan_lab

ROUTER_IP = "198.18.0.11"  # node1's underlay address: the router pod's hostPorts

TLS_SERVER = """
import http.server, ssl, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = ("tls pod %s: you are %s\\n" % (sys.argv[4], self.client_address[0])).encode()
        self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a): pass
s = http.server.ThreadingHTTPServer(("0.0.0.0", int(sys.argv[3])), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); ctx.load_cert_chain(sys.argv[1], sys.argv[2])
s.socket = ctx.wrap_socket(s.socket, server_side=True)
s.serve_forever()
"""

SLOW_SERVER = """
import http.server, sys, time
SIZE, SECONDS = int(sys.argv[2]), float(sys.argv[3])
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        if self.path != "/big":
            body = b"slow pod\\n"
            self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
            self.wfile.write(body); return
        self.send_response(200); self.send_header("Content-Length", str(SIZE)); self.end_headers()
        chunk = b"x" * 65536; sent = 0; steps = SIZE // len(chunk)
        for _ in range(steps):
            self.wfile.write(chunk); sent += len(chunk); time.sleep(SECONDS / steps)
        self.wfile.write(b"x" * (SIZE - sent))
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(("0.0.0.0", int(sys.argv[1])), H).serve_forever()
"""


def outside_netns(lab_name: str, nodes: int) -> str:
    return plan_lab(lab_name, nodes).web_netns


def curl(outside: str, url: str, host: str, *extra: str, timeout: float = 15) -> subprocess.CompletedProcess[str]:
    """curl from the outside world to the router (resolving `host` to node1), headers on stdout."""
    port = "443" if url.startswith("https") else "80"
    argv = ["curl", "-s", "-S", "-D", "-", "-m", str(timeout), "--resolve", f"{host}:{port}:{ROUTER_IP}", *extra, url]
    return netns.run_cmd(outside, argv, timeout=timeout + 5, check=False)


def status_line(done: subprocess.CompletedProcess[str]) -> str:
    return done.stdout.splitlines()[0] if done.stdout else f"curl exit {done.returncode}: {done.stderr.strip()}"


def header(done: subprocess.CompletedProcess[str], name: str) -> str | None:
    head = done.stdout.replace("\r\n", "\n").split("\n\n", 1)[0]  # text mode may have turned CRLF into LF
    for line in head.split("\n")[1:]:
        key, _, value = line.partition(":")
        if key.strip().lower() == name.lower():
            return value.strip()
    return None




def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_ca_and_cert(directory: Path, ca_cn: str, dns_names: list[str]) -> dict[str, Path]:
    """A CA and a serving certificate it signs for `dns_names`: ca.crt, tls.crt, tls.key."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(_name(ca_cn)).issuer_name(_name(ca_cn))
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=2))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True).sign(ca_key, hashes.SHA256()))
    cert = (x509.CertificateBuilder().subject_name(_name(dns_names[0])).issuer_name(ca.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in dns_names]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    files = {"ca.crt": ca.public_bytes(serialization.Encoding.PEM),
             "tls.crt": cert.public_bytes(serialization.Encoding.PEM),
             "tls.key": key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption())}
    directory.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (directory / name).write_bytes(data)
    return {name: directory / name for name in files}


def tls_pod_command(certs: dict[str, Path], port: int, who: str) -> list[str]:
    return [sys.executable, "-u", "-c", TLS_SERVER, str(certs["tls.crt"]), str(certs["tls.key"]), str(port), who]


def slow_pod_command(port: int, size: int, seconds: float) -> list[str]:
    return [sys.executable, "-u", "-c", SLOW_SERVER, str(port), str(size), str(seconds)]
