"""`osdn adm reachability -o svg|html` (the console's heat map as a file) and `osdn console`,
through click's CliRunner, offline."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from osdn.cli.analysis import reachability
from osdn.cli.main import cli

NS = "{http://www.w3.org/2000/svg}"


def _pod(ns: str, name: str, ip: str) -> dict[str, Any]:
    return {"kind": "Pod", "apiVersion": "v1", "metadata": {"namespace": ns, "name": name, "labels": {}},
            "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "x"}]}, "status": {"podIP": ip}}


@pytest.fixture
def manifest(tmp_path: Path) -> str:
    deny = {"kind": "NetworkPolicy", "apiVersion": "networking.k8s.io/v1",
            "metadata": {"namespace": "y", "name": "deny"}, "spec": {"podSelector": {}}}
    path = tmp_path / "cluster.yaml"
    path.write_text(yaml.safe_dump_all([_pod("x", "a", "10.128.0.2"), _pod("y", "b", "10.128.0.3"),
                                        _pod("y", "c", "10.128.0.4"), deny]))
    return str(path)


def _cells(svg: str) -> dict[tuple[str, str], tuple[str, str]]:
    root = ET.fromstring(svg)
    return {(str(g.get("data-from")), str(g.get("data-to"))): (str(g.get("data-allowed")), str(g.get("data-total")))
            for g in root.findall(f"{NS}g")}


def test_svg_is_the_model_matrix(manifest: str) -> None:
    res = CliRunner().invoke(reachability, ["--offline", "-f", manifest, "-o", "svg"])
    assert res.exit_code == 0, res.output
    cells = _cells(res.output)
    assert len(cells) == 9
    assert cells[("x/a", "y/b")] == ("0", "1") and cells[("y/b", "x/a")] == ("1", "1")
    assert cells[("x/a", "x/a")] == ("0", "0")


def test_project_level_drill_down_and_verify_overlay(manifest: str, tmp_path: Path) -> None:
    res = CliRunner().invoke(reachability, ["--offline", "-f", manifest, "-o", "svg", "--level", "project"])
    assert _cells(res.output) == {("x", "x"): ("0", "0"), ("x", "y"): ("0", "2"), ("y", "x"): ("2", "2"),
                                  ("y", "y"): ("0", "2")}
    res = CliRunner().invoke(reachability, ["--offline", "-f", manifest, "-o", "svg", "--projects", "y:x"])
    assert set(_cells(res.output)) == {("y/b", "x/a"), ("y/c", "x/a")}
    report = tmp_path / "verify.json"
    report.write_text(json.dumps({"protocol": "TCP", "results": [
        {"from": "x/a", "to": "y/b", "port": 80, "agrees": False, "kernel": {"outcome": "connected"}}]}))
    res = CliRunner().invoke(reachability, ["--offline", "-f", manifest, "-o", "html", "--verify", str(report)])
    assert res.exit_code == 0, res.output
    assert res.output.startswith("<!DOCTYPE html>") and "1 disagree" in res.output and ">!</text>" in res.output


@pytest.mark.parametrize(("args", "message"), [
    (["--projects", "x"], "expected FROM:TO"),
    (["--level", "pod", "--projects", "x:nope"], ""),
])
def test_bad_scopes(manifest: str, args: list[str], message: str) -> None:
    res = CliRunner().invoke(reachability, ["--offline", "-f", manifest, "-o", "svg", *args])
    if message:
        assert res.exit_code == 2 and message in res.output
    else:  # a project without pods is an empty grid, not an error
        assert res.exit_code == 0 and _cells(res.output) == {}


def test_a_verify_file_that_is_not_a_report_is_refused(manifest: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    res = CliRunner().invoke(reachability, ["--offline", "-f", manifest, "-o", "svg", "--verify", str(bad)])
    assert res.exit_code == 2 and "not the JSON object osdn adm verify -o json prints" in res.output


def test_console_prints_the_url_of_the_configured_server(tmp_path: Path) -> None:
    conf = tmp_path / "c.conf"
    conf.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "Config", "current-context": "c",
                                    "clusters": [{"name": "c", "cluster": {"server": "https://10.0.0.1:6443"}}],
                                    "users": [{"name": "u", "user": {"token": "sekret"}}],
                                    "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}]}))
    res = CliRunner().invoke(cli, ["--config", str(conf), "console"])
    assert res.exit_code == 0 and res.stdout == "https://10.0.0.1:6443/console/\n"
    assert "sekret" not in res.output
    res = CliRunner().invoke(cli, ["--config", str(conf), "console", "--with-token"])
    assert res.stdout == "https://10.0.0.1:6443/console/#token=sekret\n"
    res = CliRunner().invoke(cli, ["--config", str(conf), "console", "--serve", "--listen", "0.0.0.0:8765"])
    assert res.exit_code == 1 and "--listen 0.0.0.0:8765: must be a loopback HOST:PORT" in res.output
    res = CliRunner().invoke(cli, ["--config", str(conf), "console", "--serve", "--max-probes", "3"])
    assert res.exit_code == 2 and "--max-probes" in res.output
