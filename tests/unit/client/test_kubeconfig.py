"""Client config: kubeconfig files (contexts, KUBECONFIG merging, relative paths), the older osdn
format, precedence of --config/$OSDN_CONFIG/$KUBECONFIG, and the lab's context merge/remove."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from osdn.client.config import kubeconfig, load_config, merge_context, remove_context, set_namespace
from osdn.errors import BadRequestError

PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


@pytest.fixture(autouse=True)
def no_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for var in ("OSDN_CONFIG", "KUBECONFIG"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr("osdn.client.config.DEFAULT_PATH", tmp_path / "none-osdn")
    monkeypatch.setattr("osdn.client.config.KUBE_PATH", tmp_path / "none-kube")


def write(path: Path, doc: dict) -> str:
    path.write_text(yaml.safe_dump(doc))
    return str(path)


def test_kubeconfig_context_gives_server_ca_token_and_namespace(tmp_path: Path) -> None:
    doc = kubeconfig("c1", "https://h:1", "alice", "tok", PEM, namespace="blue")
    cfg = load_config(write(tmp_path / "k", doc))
    assert (cfg.server, cfg.token, cfg.user, cfg.ca_pem, cfg.namespace) == ("https://h:1", "tok", "alice", PEM, "blue")


def test_kubeconfig_merge_first_file_wins_and_context_flag(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    a = kubeconfig("a", "https://a:1", "ua", "ta")
    b = kubeconfig("b", "https://b:1", "ub", "tb")
    b["clusters"].append({"name": "a", "cluster": {"server": "https://shadowed:1"}})
    monkeypatch.setenv("KUBECONFIG", f"{write(tmp_path / 'a', a)}:{tmp_path / 'missing'}:{write(tmp_path / 'b', b)}")
    assert load_config().server == "https://a:1"
    assert load_config(context="b").token == "tb"
    with pytest.raises(BadRequestError, match='context "zz" does not exist'):
        load_config(context="zz")


def test_relative_ca_path_and_token_file(tmp_path: Path) -> None:
    (tmp_path / "ca.crt").write_text(PEM)
    (tmp_path / "tok").write_text("secret\n")
    doc = {"clusters": [{"name": "c", "cluster": {"server": "https://h", "certificate-authority": "ca.crt"}}],
           "users": [{"name": "u", "user": {"tokenFile": "tok"}}],
           "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}], "current-context": "x"}
    cfg = load_config(write(tmp_path / "k", doc))
    assert cfg.ca_pem == PEM and cfg.token == "secret"


def test_old_osdn_format_and_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    old = write(tmp_path / "old", {"server": "http://h:1/", "token": "t", "user": "u"})
    monkeypatch.setenv("KUBECONFIG", write(tmp_path / "k", kubeconfig("k", "https://k:1", "u", "tk")))
    assert load_config().server == "https://k:1"
    monkeypatch.setenv("OSDN_CONFIG", old)
    assert (load_config().server, load_config().token) == ("http://h:1", "t")
    assert load_config(old, server="https://x", token="y").token == "y"


def test_no_config_is_a_clear_error() -> None:
    with pytest.raises(BadRequestError, match="no server configured"):
        load_config()


def test_merge_and_remove_context_keep_other_entries(tmp_path: Path) -> None:
    path = tmp_path / "kube" / "config"
    write_dir = path.parent
    write_dir.mkdir()
    write(path, kubeconfig("other", "https://o:1", "o", "to"))
    merge_context(path, "osdn-lab", "https://127.0.0.1:9", "tl", PEM)
    merge_context(path, "osdn-lab", "https://127.0.0.1:10", "tl2", PEM)   # again: replaced, not doubled
    doc = yaml.safe_load(path.read_text())
    assert doc["current-context"] == "osdn-lab" and [c["name"] for c in doc["contexts"]] == ["other", "osdn-lab"]
    assert load_config(str(path)).server == "https://127.0.0.1:10"
    assert path.stat().st_mode & 0o777 == 0o600
    assert remove_context(path, "osdn-lab") and not remove_context(path, "osdn-lab")
    doc = yaml.safe_load(path.read_text())
    assert [c["name"] for c in doc["contexts"]] == ["other"] and doc["current-context"] == ""


def test_set_namespace_writes_the_current_context(tmp_path: Path) -> None:
    path = tmp_path / "k"
    write(path, kubeconfig("c", "https://h", "u", "t"))
    set_namespace(path, "p1")
    assert load_config(str(path)).namespace == "p1"
