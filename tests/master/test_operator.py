"""`Network cluster` and `ClusterOperator network` against a real `osdn server`, with the seed's commands
(`osdn edit network.operator.openshift.io cluster`, `osdn get networks.operator.openshift.io -o yaml`,
`osdn get clusteroperator network`). Nodes are API objects here; tests/kernel runs real agents."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from osdn.model.operator_status import APPLIED_ANNOTATION, ERROR_ANNOTATION
from tests.conftest import ServerProc, start_server, wait_for


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProc]:
    s = start_server(tmp_path_factory.mktemp("operator"), "--network-plugin", "networkpolicy")
    try:
        yield s
    finally:
        s.stop()


def edit(srv: ServerProc, tmp_path: Path, script: str, *target: str) -> subprocess.CompletedProcess[str]:
    """`osdn edit TARGET` with an EDITOR that runs `script` (Python, `d` is the parsed YAML) on the file."""
    editor = tmp_path / "editor.py"
    editor.write_text("import sys, yaml\np = sys.argv[1]\nd = yaml.safe_load(open(p))\n" + script +
                      "\nopen(p, 'w').write(yaml.safe_dump(d))\n")
    env = {**os.environ, "EDITOR": f"{sys.executable} {editor}", "TMPDIR": str(tmp_path)}  # kept copies of refused edits
    return subprocess.run([sys.executable, "-m", "osdn", "--config", str(srv.config), "edit", *target],
                          capture_output=True, text=True, env=env, timeout=60)


def conditions(srv: ServerProc) -> dict[str, str]:
    co = json.loads(srv.cli("get", "clusteroperator", "network", "-o", "json", check=True).stdout)
    return {c["type"]: c["status"] for c in (co.get("status") or {}).get("conditions") or []}


def test_network_config_mirrors_the_cluster_network(srv: ServerProc) -> None:
    out = yaml.safe_load(srv.cli("get", "networks.operator.openshift.io", "-o", "yaml", check=True).stdout)
    (net,) = out["items"]
    assert net["metadata"]["name"] == "cluster"
    assert net["spec"]["defaultNetwork"]["openshiftSDNConfig"]["mode"] == "NetworkPolicy"
    assert net["spec"]["clusterNetwork"] == [{"cidr": "10.128.0.0/14", "hostPrefix": 23}]


def test_operator_reports_nodes_applying_the_config(srv: ServerProc, tmp_path: Path) -> None:
    srv.cli("create", "-f", "-", check=True, input=json.dumps({
        "apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1", "annotations": {APPLIED_ANNOTATION: "1"}},
        "status": {"conditions": [{"type": "Ready", "status": "True"}]}}))
    wait_for(lambda: conditions(srv).get("Progressing") == "False", what="settled operator")
    table = srv.cli("get", "clusteroperator", "network", check=True).stdout.splitlines()
    assert table[0].split() == ["NAME", "VERSION", "AVAILABLE", "PROGRESSING", "DEGRADED", "SINCE"]
    assert table[1].split()[:5] == ["network", "0.1.0", "True", "False", "False"]

    done = edit(srv, tmp_path, "d['spec']['kubeProxyConfig'] = {'iptablesSyncPeriod': '1m', "
                "'proxyArguments': {'iptables-min-sync-period': ['0s']}}", "network.operator.openshift.io", "cluster")
    assert done.returncode == 0, done.stderr
    assert "edited" in done.stdout
    wait_for(lambda: conditions(srv).get("Progressing") == "True", what="operator progressing")
    srv.cli("annotate", "node", "n1", f"{APPLIED_ANNOTATION}=2", "--overwrite", check=True)
    wait_for(lambda: conditions(srv).get("Progressing") == "False", what="operator settled again")


def test_bad_edits_are_refused_and_change_nothing(srv: ServerProc, tmp_path: Path) -> None:
    before = json.loads(srv.cli("get", "network.operator.openshift.io", "cluster", "-o", "json", check=True).stdout)
    done = edit(srv, tmp_path, "d['spec']['kubeProxyConfig'] = {'iptablesSyncPeriod': 'often'}",
                "network.operator.openshift.io", "cluster")
    assert done.returncode != 0 and "spec.kubeProxyConfig.iptablesSyncPeriod" in done.stderr
    done = edit(srv, tmp_path, "d['spec']['serviceNetwork'] = ['172.31.0.0/16']",
                "network.operator.openshift.io", "cluster")
    assert done.returncode != 0 and "cannot be changed on a running cluster" in done.stderr
    after = json.loads(srv.cli("get", "network.operator.openshift.io", "cluster", "-o", "json", check=True).stdout)
    # the spec is untouched (the master may still write status meanwhile: compare what an edit writes)
    assert (after["spec"], after["metadata"]["generation"]) == (before["spec"], before["metadata"]["generation"])


def test_node_side_applies_periods_and_reports_sync_errors(srv: ServerProc) -> None:
    """osdn.node.netconfig against the server: pinned > cluster > default, the applied generation and
    a failed sync's error land on the Node, and Degraded follows them."""
    from osdn.client import load_config
    from osdn.errors import KernelError
    from osdn.node.netconfig import Periods, ProxyConfig

    srv.cli("create", "-f", "-", check=True, input=json.dumps({
        "apiVersion": "v1", "kind": "Node", "metadata": {"name": "n2"},
        "status": {"conditions": [{"type": "Ready", "status": "True"}]}}))
    srv.cli("patch", "network.operator.openshift.io", "cluster", "--type=merge", "-p", json.dumps(
        {"spec": {"kubeProxyConfig": {"iptablesSyncPeriod": "45s",
                                      "proxyArguments": {"iptables-min-sync-period": ["2s"]}}}}), check=True)
    seen: list[Periods] = []
    pc = ProxyConfig(load_config(str(srv.config)), "n2", seen.append, pinned_min=0.25)
    try:
        assert pc.start() == Periods(45.0, 0.25)
        gen = json.loads(srv.cli("get", "network.operator.openshift.io", "cluster", "-o", "json",
                                 check=True).stdout)["metadata"]["generation"]
        node = lambda: json.loads(srv.cli("get", "node", "n2", "-o", "json", check=True).stdout)  # noqa: E731
        assert node()["metadata"]["annotations"][APPLIED_ANNOTATION] == str(gen)
        srv.cli("patch", "network.operator.openshift.io", "cluster", "--type=merge", "-p",
                '{"spec": {"kubeProxyConfig": {"iptablesSyncPeriod": "1m"}}}', check=True)
        wait_for(lambda: seen[-1] == Periods(60.0, 0.25), what="the edited period applied live")
        with pytest.raises(KernelError), pc.reporting_errors():
            raise KernelError("nft: Could not process rule: No such file or directory")
        assert "Could not process rule" in node()["metadata"]["annotations"][ERROR_ANNOTATION]
        wait_for(lambda: conditions(srv).get("Degraded") == "True", what="operator degraded")
        with pc.reporting_errors():
            pass
        assert ERROR_ANNOTATION not in node()["metadata"]["annotations"]
        wait_for(lambda: conditions(srv).get("Degraded") == "False", what="operator healthy again")
    finally:
        pc.stop()
