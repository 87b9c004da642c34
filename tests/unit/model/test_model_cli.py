"""`osdn adm reachability` / `osdn adm trace` offline, through click's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from model_builders import cluster_network, firewall, hostsubnet, namespace, netns, pod, policy

from osdn.cli.analysis import reachability, trace


@pytest.fixture
def manifest(tmp_path: Path) -> str:
    objs = [cluster_network("networkpolicy"), namespace("x", ns="x"), namespace("y", ns="y"), netns("x", 11),
            netns("y", 12), hostsubnet("n1", "192.168.1.10", "10.128.0.0/23"),
            pod("x", "a", "10.128.0.2"), pod("y", "b", "10.128.0.3"), pod("y", "c", "10.128.0.4"),
            policy("y", "allow-from-x", {"podSelector": {}, "ingress": [
                {"from": [{"namespaceSelector": {"matchLabels": {"ns": "x"}}}], "ports": [{"port": 80}]}]}),
            firewall("x", "default", ("Allow", "1.2.3.0/24"), ("Allow", "www.foo.com"), ("Deny", "0.0.0.0/0"))]
    path = tmp_path / "cluster.yaml"
    path.write_text(yaml.safe_dump_all(objs))
    return str(path)


def test_reachability_json_covers_every_ordered_pair(manifest: str) -> None:
    res = CliRunner().invoke(reachability, ["--offline", "-f", manifest, "--port", "80", "-o", "json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["probe"] == {"port": 80, "protocol": "TCP"}
    got = {(r["from"], r["to"]): r["allowed"] for r in out["results"]}
    assert len(got) == 6
    assert got[("x/a", "y/b")] and not got[("y/c", "y/b")] and got[("y/b", "x/a")]
    assert all(r["reason"] for r in out["results"])


def test_reachability_table_and_kube_list(manifest: str, tmp_path: Path) -> None:
    lst = tmp_path / "list.yaml"
    lst.write_text(yaml.safe_dump({"kind": "List", "apiVersion": "v1", "items": list(yaml.safe_load_all(
        Path(manifest).read_text()))}))
    res = CliRunner().invoke(reachability, ["--offline", "-f", str(lst), "--port", "81"])
    assert res.exit_code == 0, res.output
    assert "probe TCP/81" in res.output and "y/b" in res.output and "X" in res.output


def test_trace_prints_steps(manifest: str) -> None:
    res = CliRunner().invoke(trace, ["--offline", "-f", manifest, "--from", "x/a", "--to", "y/b", "--port", "80"])
    assert res.exit_code == 0, res.output
    assert "ALLOWED" in res.output and "NetworkPolicy y/allow-from-x spec.ingress[0].from[0]" in res.output
    res = CliRunner().invoke(trace, ["--offline", "-f", manifest, "--from", "x/a", "--to", "www.foo.com",
                                     "--dns", "www.foo.com=5.6.7.8", "--port", "443"])
    assert res.exit_code == 0 and "ALLOWED" in res.output and "spec.egress[1] Allow dnsName www.foo.com" in res.output
    res = CliRunner().invoke(trace, ["--offline", "-f", manifest, "--from", "10.128.0.2", "--to", "8.8.8.8",
                                     "-o", "json"])
    out = json.loads(res.output)
    assert out["allowed"] is False and "spec.egress[2] Deny 0.0.0.0/0" in out["reason"]


def test_trace_multicast(manifest: str) -> None:
    res = CliRunner().invoke(trace, ["--offline", "-f", manifest, "--from", "y/b", "--to", "224.1.2.3"])
    assert res.exit_code == 0 and "0 receiver(s)" in res.output


def test_file_without_offline_and_offline_without_file_are_usage_errors(manifest: str) -> None:
    res = CliRunner().invoke(reachability, ["-f", manifest])
    assert res.exit_code == 2 and "add --offline" in res.output
    res = CliRunner().invoke(trace, ["--offline", "--from", "x/a", "--to", "y/b"])
    assert res.exit_code == 2 and "--offline needs -f FILE" in res.output


def test_unknown_endpoint_is_an_error(manifest: str) -> None:
    res = CliRunner().invoke(trace, ["--offline", "-f", manifest, "--from", "x/nope", "--to", "y/b"])
    assert res.exit_code == 1 and 'no pod or service "x/nope"' in res.output
