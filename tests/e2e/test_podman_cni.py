"""podman (CNI backend) runs a container on the osdn network: the container gets an osdn pod IP.

Everything is private to the test: a containers.conf (CONTAINERS_CONF) pointing podman at a temp
conflist directory and a temp plugin directory holding an `osdn-cni` wrapper; a busybox image built
from busybox-static and imported under a unique tag. podman creates the container's netns; the
plugin only talks to the agent's socket, and the agent links that netns to the bridge in the test's
node namespace (never to the root namespace). The image, conflist and namespaces are removed after.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "kernel"))
from agent_lab import agent_lab  # noqa: E402

pytestmark = [pytest.mark.e2e,
              pytest.mark.skipif(not (shutil.which("podman") and shutil.which("runc")
                                      and os.path.exists("/bin/busybox")), reason="podman/runc/busybox missing")]
IMAGE = f"localhost/osdn-e2e-busybox:{os.getpid()}"


def busybox_tar(tmp: Path) -> Path:
    """A rootfs with /bin/busybox and links for the applets the test uses, as a tar."""
    tar = tmp / "rootfs.tar"
    with tarfile.open(tar, "w") as tf:
        tf.add("/bin/busybox", "bin/busybox")
        for applet in ("sh", "ip", "sleep", "ping", "cat"):
            info = tarfile.TarInfo(f"bin/{applet}")
            info.type, info.linkname = tarfile.SYMTYPE, "busybox"
            tf.addfile(info)
    return tar


@pytest.fixture
def podman_env(tmp_path: Path) -> Iterator[tuple[dict[str, str], Path]]:
    bindir, confdir = tmp_path / "cnibin", tmp_path / "net.d"
    bindir.mkdir()
    confdir.mkdir()
    wrapper = bindir / "osdn-cni"
    wrapper.write_text(f"#!/bin/sh\nexec {sys.executable} -m osdn.cni.plugin\n")
    wrapper.chmod(0o755)
    conf = tmp_path / "containers.conf"
    conf.write_text(
        '[containers]\ndefault_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]\n'
        f'[network]\nnetwork_backend = "cni"\ncni_plugin_dirs = ["{bindir}", "/usr/lib/cni"]\n'
        f'network_config_dir = "{confdir}"\n')
    env = {**os.environ, "CONTAINERS_CONF": str(conf)}
    subprocess.run(["podman", "import", str(busybox_tar(tmp_path)), IMAGE], env=env, check=True,
                   capture_output=True, timeout=120)
    try:
        yield env, confdir
    finally:
        subprocess.run(["podman", "rmi", "-f", IMAGE], env=env, capture_output=True, timeout=120)


def test_podman_container_gets_an_osdn_ip(tmp_path: Path, podman_env: tuple[dict[str, str], Path]) -> None:
    env, confdir = podman_env
    net = f"osdn-e2e-{os.getpid()}"
    with agent_lab(tmp_path, "networkpolicy") as lab:
        srv = lab.server
        node = lab.add_node("n1", 1)
        (confdir / f"{net}.conflist").write_text(json.dumps({
            "cniVersion": "1.0.0", "name": net,
            "plugins": [{"type": "osdn-cni", "socket": node.socket, "namespace": "default"}]}))
        r = subprocess.run(["podman", "--runtime", "runc", "run", "--rm", "--network", net, IMAGE, "ip", "-4", "addr"],
                           env=env, capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        assert "inet 10.128.0." in r.stdout and "/23" in r.stdout, r.stdout
        log = node.log.read_text()
        assert "CNI ADD default/" in log and "CNI DEL default/" in log  # --rm ran DEL: lease released
        pods = json.loads(srv.cli("get", "pods", "-n", "default", "-o", "json", check=True).stdout)
        assert pods["items"] == []  # the Pod the agent made for the container is gone with it
