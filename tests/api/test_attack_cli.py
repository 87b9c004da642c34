"""The `osdn` CLI given hostile kubeconfigs and manifests: a one-line error and exit 1, never a
traceback, never unbounded memory.

Each case used to end in a Python traceback (a missing tokenFile, a list where a path belongs,
invalid base64 in the older config format, a cluster entry that is a list, JSON nested 100,000 deep),
or in reading without end (`KUBECONFIG=/dev/zero`) or expanding a YAML alias bomb into 43 million
strings. The CLI now reads config files and `--config` paths up to 16 MiB and decodes manifests with
the API server's bounded decoder (osdn.api.decode).
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ServerProc, module_server

srv = module_server("attack-cli")
LIMIT = 1024 ** 3   # the CLI runs under a 1 GiB address-space limit, so the old code failed instead of swapping


def limited() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (LIMIT, LIMIT))


def osdn(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "osdn", *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})}, preexec_fn=limited)


def kubeconfig(cluster: str, user: str = "{token: t}") -> str:
    return (f"apiVersion: v1\nkind: Config\nclusters: [{{name: c, cluster: {cluster}}}]\n"
            f"users: [{{name: u, user: {user}}}]\ncontexts: [{{name: x, context: {{cluster: c, user: u}}}}]\n"
            "current-context: x\n")


SERVER = '"https://127.0.0.1:1"'


@pytest.mark.parametrize(("text", "words"), [
    (kubeconfig(f"{{server: {SERVER}}}", "{tokenFile: /nonexistent/token}"),
     "cannot read tokenFile /nonexistent/token of user u"),
    (kubeconfig(f"{{server: {SERVER}, certificate-authority: [1]}}"),
     "clusters[c].cluster.certificate-authority must be a string, not list"),
    (kubeconfig("[1, 2]"), "clusters[c].cluster must be a mapping, not list"),
    (kubeconfig(f"{{server: {SERVER}}}", "{tokenFile: [1]}"), "users[u].user.tokenFile must be a string, not list"),
    (f"server: {SERVER}\ncertificate-authority-data: '!!!notbase64'\ntoken: t\n",
     "certificate-authority-data is not valid base64"),
    (kubeconfig(f"{{server: {SERVER}, certificate-authority-data: 5}}"),
     "certificate-authority-data must be a string"),
], ids=["missing-token-file", "ca-path-list", "cluster-list", "token-file-list", "legacy-bad-base64", "ca-data-int"])
def test_hostile_kubeconfig_is_one_line_error(tmp_path: Path, text: str, words: str) -> None:
    config = tmp_path / "config"
    config.write_text(text)
    r = osdn("--config", str(config), "get", "pods")
    assert r.returncode == 1, r
    assert "Traceback" not in r.stderr and words in r.stderr, r.stderr


def test_kubeconfig_naming_an_endless_file_is_refused(tmp_path: Path) -> None:
    for env, args in (({"KUBECONFIG": "/dev/zero"}, ()), ({}, ("--config", "/dev/zero"))):
        r = osdn(*args, "get", "pods", env={"HOME": str(tmp_path), "OSDN_CONFIG": "", **env})
        assert r.returncode == 1, r
        assert "Traceback" not in r.stderr and "/dev/zero is larger than 16777216 bytes" in r.stderr, r.stderr


BOMB = "\n".join(['a: &a ["x", "x", "x", "x", "x", "x", "x", "x", "x"]',
                  *(f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]" for i in range(8)),
                  "kind: ConfigMap", "apiVersion: v1", "metadata: {name: bomb}", "extra: *i"]) + "\n"


@pytest.mark.parametrize(("name", "text", "words"), [
    ("deep.json", "[" * 100_000, "invalid JSON: the request body is nested too deeply (max depth 100)"),
    ("bomb.yaml", BOMB, "invalid YAML: the YAML document expands to too many nodes through aliases"),
    ("deep.yaml", "a: " + "[" * 100_000, "invalid YAML:"),
], ids=["deep-json", "alias-bomb", "deep-yaml"])
def test_hostile_manifests_are_refused_before_anything_is_sent(srv: ServerProc, tmp_path: Path, name: str,
                                                              text: str, words: str) -> None:
    manifest = tmp_path / name
    manifest.write_text(text)
    r = osdn("--config", str(srv.config), "create", "-f", str(manifest), "-n", "default")
    assert r.returncode == 1, r
    assert "Traceback" not in r.stderr and f"error parsing {manifest}: {words}" in r.stderr, r.stderr
    with srv.http() as admin:
        assert admin.get("/api/v1/namespaces/default/configmaps/bomb").status_code == 404


def test_a_manifest_of_many_documents_still_works(srv: ServerProc, tmp_path: Path) -> None:
    """The bounded decoder reads multi-document streams as before: 300 ConfigMaps in one file."""
    manifest = tmp_path / "many.yaml"
    manifest.write_text("".join(f"---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: m{i}}}\ndata: {{k: '{i}'}}\n"
                                for i in range(300)))
    r = osdn("--config", str(srv.config), "create", "-f", str(manifest), "-n", "default", "--dry-run=server")
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("created (server dry run)") == 300, r.stdout[-500:]
