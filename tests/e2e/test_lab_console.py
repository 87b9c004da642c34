"""The network console against a live 2-node lab (no router pod) in headless Chromium: the
topology shows every node and pod the kubelet ran, `adm verify`'s report overlays the matrix with
no disagreement, the impact preview of the seed's deny-by-default lists what it would close, the
matrix follows the policy once created (no reload), a trace of a blocked pair names it, and a
project admin's token sees only their project. `osdn console --serve` (the console run on the lab
host) shows, under a trace of the blocked pair, the kernel's answer (no answer: dropped) and the
drop counters that moved, as `adm trace` prints them. Screenshots: the test's tmp dir (and
$OSDN_CONSOLE_SCREENSHOTS, how docs/img was made)."""

from __future__ import annotations

import json
import select
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from labkit import Lab, make_lab, needs_agent

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "console"))
from browserkit import browser, need_chromium  # noqa: E402
from polling import wait_for  # noqa: E402

from osdn.client import load_config  # noqa: E402

pytestmark = [pytest.mark.e2e, needs_agent]
SEED = Path(__file__).resolve().parents[1] / "fixtures" / "seeds" / "002-networkpolicy-deny-by-default.yaml"
SPOTS = {"alpha/a1": "node1", "alpha/a2": "node2", "beta/b1": "node1", "beta/b2": "node2"}


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    need_chromium()
    yield from make_lab("con", "networkpolicy", 2, "--no-router")


@pytest.fixture(scope="module")
def pods(lab: Lab) -> dict[str, str]:
    out = {}
    for key, node in SPOTS.items():
        ns, name = key.split("/")
        out[key] = lab.pod(name, ns, node, {"app": name})[0]
    return out


def _admin(lab: Lab) -> tuple[str, str]:
    cfg = load_config(lab.conf)
    return cfg.server.split(",")[0], cfg.token


def test_console_on_a_live_lab(lab: Lab, pods: dict[str, str], tmp_path: Path) -> None:
    url, token = _admin(lab)
    report = lab.cli("adm", "verify", "--port", "80", "-o", "json").stdout
    assert json.loads(report)["summary"]["disagree"] == 0
    with browser(tmp_path / "screenshots") as b:
        b.login(url, token)
        b.view("topology")
        for pod in lab.client.list("Pod")["items"]:  # every pod the lab runs, the router's too if any
            b.wait_css("pod " + pod["metadata"]["name"],
                       f"rect.pod[data-pod='{pod['metadata']['namespace']}/{pod['metadata']['name']}']")
        for node in ("node1", "node2"):
            b.wait_css(f"node {node}", f"g.node[data-node='{node}']")
        assert b.css("path.vxlan[data-from='node1'][data-to='node2']")
        b.screenshot("lab-topology")

        b.js("sessionStorage.setItem('osdnVerify', arguments[0])", report)
        b.show_matrix("pod")
        b.wait("verify marks on the matrix", lambda d: len(b.css("#matrix .mark.agree")) >= 12)
        assert b.css("#matrix .mark.disagree") == []
        b.screenshot("lab-reachability-verified")
        b.js("sessionStorage.removeItem('osdnVerify')")

        b.preview_impact(SEED.read_text(), "beta")
        b.wait("the impact of deny-by-default", lambda d: "alpha/a1 -> beta/b1 TCP/80" in b.text("#impact-closed"))
        b.screenshot("lab-impact")
        assert lab.client.list("NetworkPolicy", "beta")["items"] == []

        b.show_matrix("pod")
        b.wait("alpha/a1 -> beta/b1 allowed", lambda d: b.cell("alpha/a1", "beta/b1") == "1")
        b.js("document.body.dataset.marker = 'same page'")
        lab.cli("create", "-n", "beta", "-f", str(SEED))
        b.wait("alpha/a1 -> beta/b1 denied", lambda d: b.cell("alpha/a1", "beta/b1") == "0")
        assert b.js("return document.body.dataset.marker") == "same page"
        b.screenshot("lab-reachability")

        b.trace("alpha/a1", "beta/b1")
        b.wait("the trace names the policy", lambda d: "NetworkPolicy beta/deny-by-default" in b.text("#trace-output"))
        assert b.text("#trace-verdict") == "DENIED"
        b.screenshot("lab-trace")


def test_a_project_admin_sees_only_their_project(lab: Lab, pods: dict[str, str], tmp_path: Path) -> None:
    url, _ = _admin(lab)
    token = lab.client.request("POST", "/osdn/v1/tokens", {"user": "carol", "groups": []})["token"]
    done = lab.cli("--token", token, "new-project", "carol-app")
    assert "carol-app" in done.stdout
    lab.pod("c1", "carol-app", "node2", {"app": "c1"})
    with browser(tmp_path / "screenshots") as b:
        b.login(url, token)
        b.view("topology")
        b.wait_css("carol's pod", "rect.pod[data-pod='carol-app/c1']")
        assert b.attrs("rect.pod", "data-pod") == ["carol-app/c1"]
        b.show_matrix("project")
        b.wait("carol's matrix", lambda d: b.cell("carol-app", "carol-app") == "0")
        assert set(b.attrs("#matrix .cell", "data-from")) == {"carol-app"}
        b.screenshot("lab-project-admin")


@pytest.fixture(scope="module")
def local_console(lab: Lab) -> Iterator[str]:
    """`osdn console --serve` for the lab, on a free loopback port: its base URL."""
    proc = subprocess.Popen([sys.executable, "-m", "osdn", "--config", lab.conf, "console", "--serve",
                             "--listen", "127.0.0.1:0"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], 60)
        assert ready, "osdn console --serve printed no URL within 60 s"
        url = proc.stdout.readline().strip().removesuffix("/console/")
        assert url.startswith("http://127.0.0.1:"), url
        wait_for(lambda: _up(url), timeout=60, what="the local console")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(30)


def _up(url: str) -> bool:
    try:
        return httpx.get(url + "/console/api/kernel-trace", timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


def test_the_local_console_shows_the_kernels_answer(lab: Lab, pods: dict[str, str], local_console: str,
                                                    tmp_path: Path) -> None:
    _, token = _admin(lab)
    if not lab.client.list("NetworkPolicy", "beta")["items"]:
        lab.cli("create", "-n", "beta", "-f", str(SEED))

    def dropped() -> dict[str, Any] | None:  # the kernel enforces the policy a moment after it is created
        r = httpx.post(local_console + "/console/api/kernel-trace", headers={"Authorization": f"Bearer {token}"},
                       json={"from": "alpha/a1", "to": "beta/b1", "port": 80}, timeout=60)
        assert r.status_code == 200, r.text
        kernel: dict[str, Any] = r.json()["kernel"]
        return kernel if kernel["outcome"] == "timeout" else None

    kernel = wait_for(dropped, timeout=90, what="the kernel to drop alpha/a1 -> beta/b1")
    assert kernel["probed"] is True and kernel["agrees"] is True, kernel
    assert kernel["from"] == "pod alpha/a1" and kernel["to"] == f"{pods['beta/b1']}:80"
    assert any(c["delta"] > 0 for c in kernel["counters"]), kernel  # the dropped SYN was counted
    with browser(tmp_path / "screenshots") as b:
        b.login(local_console, token)
        b.trace("alpha/a1", "beta/b1")
        b.wait("the trace names the policy", lambda d: "NetworkPolicy beta/deny-by-default" in b.text("#trace-output"))
        b.wait("the kernel's answer", lambda d: b.js("return document.querySelector('#trace-kernel').dataset.outcome"))
        text = b.text("#trace-kernel")
        assert b.js("return document.querySelector('#trace-kernel').dataset.outcome") == "timeout", text
        assert "blocked (no answer)" in text and "counters moved:" in text and "AGREES with the model (DENIED)" in text
        b.screenshot("lab-trace-kernel")
