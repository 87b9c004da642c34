"""A 2-node lab in subnet mode (one flat pod network), plus the lab's own lifecycle: a second `up`
of the same lab is refused, `down` is idempotent and works after the kubelet and agents crash."""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
from collections.abc import Iterator

import pytest
from labkit import Lab, make_lab, needs_agent, osdn, teardown_and_check

from osdn.lab import cluster
from osdn.lab.topology import plan_lab

pytestmark = [pytest.mark.e2e, needs_agent]


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    yield from make_lab("sn", "subnet", 2)


def test_all_projects_reach_each_other(lab: Lab) -> None:
    x_ip, x_ns = lab.pod("x", "one", "node1")
    y_ip, y_ns = lab.pod("y", "two", "node2")
    z_ip, z_ns = lab.pod("z", "two", "node1")
    assert lab.get(x_ns, y_ip).startswith(f"two/y on port 80: you are {x_ip}:")
    assert lab.get(y_ns, x_ip).startswith(f"one/x on port 80: you are {y_ip}:")
    assert lab.get(z_ns, x_ip).startswith(f"one/x on port 80: you are {z_ip}:")


def test_pods_reach_the_outside_masqueraded_to_their_node(lab: Lab) -> None:
    """The lab's web server (external network, behind the router) sees the pod's node as the source,
    as the model says (`adm trace` shows the source address)."""
    x_ip, x_ns = lab.pod("out1", "one", "node1")
    _, y_ns = lab.pod("out2", "two", "node2")
    web = plan_lab(lab.info.name, 2).web_ips[0]
    assert lab.get(x_ns, web).startswith("you are 198.18.0.11:")
    assert lab.get(y_ns, web).startswith("you are 198.18.0.12:")
    trace = lab.cli("adm", "trace", "--from", "one/out1", "--to", web).stdout
    assert "198.18.0.11" in trace and x_ip in trace


def test_lab_run_prints_the_ip(lab: Lab) -> None:
    out = lab.cli("lab", "run", "tool", "-n", "one", "--node", "node2", "--image", "busybox",
                  "--name", lab.info.name, "--dir", lab.info.dir, "--", "sleep", "600").stdout
    ip = lab.client.get("Pod", "tool", "one")["status"]["podIP"]
    assert out.strip() == f"pod/tool running in one: {ip}"


def test_second_up_is_refused(lab: Lab) -> None:
    done = osdn("lab", "up", "--name", lab.info.name, "--nodes", "1", "--dir", lab.info.dir, check=False)
    assert done.returncode == 1 and "already exists" in done.stderr


def test_exec_outside_a_lab_pod_is_a_clear_error(lab: Lab) -> None:
    lab.client.create({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "elsewhere", "namespace": "one"},
                       "spec": {"nodeName": "not-a-lab-node", "restartPolicy": "Never",
                                "containers": [{"name": "c", "image": "python"}]}}, "one")
    done = lab.cli("exec", "-n", "one", "elsewhere", "--", "true", check=False)
    assert done.returncode == 1 and "lab.osdn.io/netns" in done.stderr


def test_down_after_a_crash_leaves_nothing() -> None:
    """A separate 1-node lab whose control processes are SIGKILLed before `down`."""
    name = f"c{os.getpid() % 100000}"
    lab_dir = tempfile.mkdtemp(prefix=f"osdn-e2e-{name}-")
    try:
        osdn("lab", "up", "--name", name, "--nodes", "1", "--mode", "subnet", "--dir", lab_dir)
        info = cluster.load_lab(lab_dir)
        assert info is not None
        osdn("--config", info.admin_conf, "lab", "run", "w", "-n", "crash", "--name", name, "--dir", lab_dir)
        for p in cluster.process_status(lab_dir):
            if p.role in ("kubelet", "server", "node:node1"):
                os.kill(p.pid, signal.SIGKILL)
    finally:
        teardown_and_check(name, lab_dir)
    osdn("lab", "down", "--name", name, "--dir", lab_dir)  # idempotent
    assert cluster.leftovers(name) == []
    shutil.rmtree(lab_dir)
