"""Client configuration: where the server is, how to trust it and who we are.

Two file formats are read:
- a kubeconfig (`clusters`, `users`, `contexts`, `current-context`), as kubectl reads it: the
  context's cluster gives `server`, `certificate-authority-data` / `certificate-authority` and
  `insecure-skip-tls-verify`; its user gives `token` / `tokenFile`; its `namespace` the default
  namespace;
- the older osdn format: top-level `server`, `token`, optional `user`, `certificate-authority-data`.

Which file: --config/--kubeconfig FILE > $OSDN_CONFIG > $KUBECONFIG (a path list, merged as kubectl
merges it: the first file to define a name or the current context wins) > ~/.osdn/config >
~/.kube/config. Explicit --server/--token flags override what the file says.
`server` may list several URLs separated by commas (`https://a:8443,https://b:8443`): the client fails
over between them (osdn.client.failover); kubectl reads only single-URL files.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from osdn.client.failover import normalize
from osdn.errors import BadRequestError

DEFAULT_PATH = Path.home() / ".osdn" / "config"
KUBE_PATH = Path.home() / ".kube" / "config"
MAX_CONFIG_BYTES = 16 * 1024 * 1024   # a config file (or what $KUBECONFIG names, e.g. /dev/zero) read at most
Doc = dict[str, Any]


@dataclass(frozen=True)
class ClientConfig:
    server: str
    token: str = ""
    user: str = ""
    source: str = ""
    ca_pem: str = ""              # PEM of the CA(s) that sign the server's certificate; "" = system trust
    insecure: bool = False        # insecure-skip-tls-verify
    namespace: str = ""


def _read(file: str, origin: str) -> Doc:
    try:
        data = yaml.safe_load(_read_bounded(file)) or {}
    except FileNotFoundError:
        raise BadRequestError(f"config file {file} does not exist (from {origin})") from None
    except (OSError, yaml.YAMLError) as e:
        raise BadRequestError(f"cannot read config file {file}: {e}") from None
    if not isinstance(data, dict):
        raise BadRequestError(f"config file {file} is not a YAML mapping")
    return data


def _named(items: Any) -> dict[str, Doc]:
    return {str(i["name"]): i for i in items or [] if isinstance(i, dict) and "name" in i}


def merge_kubeconfigs(docs: list[tuple[str, Doc]]) -> Doc:
    """Merge like kubectl: for clusters/users/contexts and current-context, the first file wins.
    Relative `certificate-authority`/`tokenFile` paths are made absolute against their own file."""
    merged: Doc = {"clusters": {}, "users": {}, "contexts": {}, "current-context": ""}
    for file, doc in docs:
        base = Path(file).parent
        for section, inner, keys in (("clusters", "cluster", ("certificate-authority",)),
                                     ("users", "user", ("tokenFile",)), ("contexts", "context", ())):
            for name, entry in _named(doc.get(section)).items():
                body = _mapping(entry.get(inner) or {}, f"{file}: {section}[{name}].{inner}")
                for k in keys:
                    if body.get(k) and not os.path.isabs(_text(body[k], f"{file}: {section}[{name}].{inner}.{k}")):
                        body[k] = str(base / body[k])
                merged[section].setdefault(name, body)
        merged["current-context"] = merged["current-context"] or str(doc.get("current-context") or "")
    return merged


def _read_bounded(file: str) -> bytes:
    """A file's bytes, refused past MAX_CONFIG_BYTES (a path naming /dev/zero must not eat the memory)."""
    with open(file, "rb") as fh:
        raw = fh.read(MAX_CONFIG_BYTES + 1)
    if len(raw) > MAX_CONFIG_BYTES:
        raise BadRequestError(f"{file} is larger than {MAX_CONFIG_BYTES} bytes")
    return raw


def _mapping(value: Any, where: str) -> Doc:
    if not isinstance(value, dict):
        raise BadRequestError(f"{where} must be a mapping, not {type(value).__name__}")
    return value


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise BadRequestError(f"{where} must be a string, not {type(value).__name__}")
    return value


def _ca_pem(cluster: Doc) -> str:
    if cluster.get("certificate-authority-data"):
        try:
            return base64.b64decode(_text(cluster["certificate-authority-data"], "certificate-authority-data")).decode()
        except ValueError as e:
            raise BadRequestError(f"certificate-authority-data is not valid base64: {e}") from None
    if cluster.get("certificate-authority"):
        try:
            return _read_bounded(_text(cluster["certificate-authority"], "certificate-authority")).decode()
        except (OSError, ValueError) as e:
            raise BadRequestError(f"cannot read certificate-authority {cluster['certificate-authority']}: {e}") \
                from None
    return ""


def from_kubeconfig(merged: Doc, source: str, context: str | None = None) -> ClientConfig:
    name = context or merged["current-context"]
    if not name:
        raise BadRequestError(f"{source}: no current-context is set (use --context NAME)")
    ctx = merged["contexts"].get(name)
    if ctx is None:
        raise BadRequestError(f'{source}: context "{name}" does not exist')
    cluster = merged["clusters"].get(str(ctx.get("cluster", "")))
    if cluster is None or not cluster.get("server"):
        raise BadRequestError(f'{source}: cluster "{ctx.get("cluster", "")}" of context "{name}" has no server')
    user = merged["users"].get(str(ctx.get("user", "")), {})
    token = str(user.get("token") or "")
    if not token and user.get("tokenFile"):
        try:
            token = _read_bounded(_text(user["tokenFile"], "tokenFile")).decode().strip()
        except (OSError, ValueError) as e:
            raise BadRequestError(f"cannot read tokenFile {user['tokenFile']} of user {ctx.get('user', '')}: {e}") \
                from None
    return ClientConfig(normalize(str(cluster["server"])), token, str(ctx.get("user", "")), source,
                        _ca_pem(cluster), bool(cluster.get("insecure-skip-tls-verify")),
                        str(ctx.get("namespace") or ""))


def _legacy(data: Doc, source: str) -> ClientConfig:
    ca = _ca_pem({"certificate-authority-data": data.get("certificate-authority-data")})
    return ClientConfig(normalize(str(data.get("server") or "")), str(data.get("token") or ""),
                        str(data.get("user") or ""), source, ca, bool(data.get("insecure-skip-tls-verify")),
                        str(data.get("namespace") or ""))


def _files(path: str | None) -> tuple[list[str], str]:
    if path:
        return [path], "--config"
    if os.environ.get("OSDN_CONFIG"):
        return [os.environ["OSDN_CONFIG"]], "$OSDN_CONFIG"
    if os.environ.get("KUBECONFIG"):
        return [p for p in os.environ["KUBECONFIG"].split(os.pathsep) if p], "$KUBECONFIG"
    for default in (DEFAULT_PATH, KUBE_PATH):
        if default.exists():
            return [str(default)], "the default path"
    return [], ""


def load_config(path: str | None = None, server: str | None = None, token: str | None = None,
                context: str | None = None) -> ClientConfig:
    files, origin = _files(path)
    docs = [(f, _read(f, origin)) for f in files if origin != "$KUBECONFIG" or os.path.exists(f)]
    if len(docs) == 1 and "clusters" not in docs[0][1] and "contexts" not in docs[0][1]:
        cfg = _legacy(docs[0][1], docs[0][0])
    elif docs:
        cfg = from_kubeconfig(merge_kubeconfigs(docs), ":".join(f for f, _ in docs), context)
    else:
        cfg = ClientConfig("", source="flags")
    if server:
        cfg = ClientConfig(normalize(server), cfg.token, cfg.user, cfg.source, cfg.ca_pem, cfg.insecure,
                           cfg.namespace)
    if not cfg.server:
        raise BadRequestError("no server configured: pass --server URL, --kubeconfig FILE or set KUBECONFIG "
                              "(osdn server writes DATA_DIR/admin.conf)")
    if token is not None:
        cfg = ClientConfig(cfg.server, token, "", cfg.source, cfg.ca_pem, cfg.insecure, cfg.namespace)
    return cfg


def kubeconfig(name: str, server: str, user: str, token: str, ca_pem: str = "", namespace: str = "") -> Doc:
    """A one-context kubeconfig document (cluster, user and context all named `name`/`user`)."""
    cluster: Doc = {"server": server}
    if ca_pem:
        cluster["certificate-authority-data"] = base64.b64encode(ca_pem.encode()).decode()
    ctx: Doc = {"cluster": name, "user": user}
    if namespace:
        ctx["namespace"] = namespace
    return {"apiVersion": "v1", "kind": "Config", "clusters": [{"name": name, "cluster": cluster}],
            "users": [{"name": user, "user": {"token": token}}],
            "contexts": [{"name": name, "context": ctx}], "current-context": name, "preferences": {}}


def write_private(path: str | Path, doc: Doc) -> None:
    """Write a YAML document readable only by its owner, atomically (temp file + rename)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        yaml.safe_dump(doc, fh, sort_keys=False)
    tmp.replace(path)


def write_kubeconfig(path: str | Path, name: str, server: str, user: str, token: str, ca_pem: str = "") -> None:
    write_private(path, kubeconfig(name, server, user, token, ca_pem))


def user_kubeconfig_path() -> Path:
    """Where `lab up` merges its context, as kind does: the first path of $KUBECONFIG, else ~/.kube/config."""
    paths = [p for p in os.environ.get("KUBECONFIG", "").split(os.pathsep) if p]
    return Path(paths[0]) if paths else KUBE_PATH


def merge_context(path: str | Path, name: str, server: str, token: str, ca_pem: str = "") -> None:
    """Add (or replace) cluster, user and context `name` in the kubeconfig at `path` and make it current."""
    path = Path(path)
    doc = (yaml.safe_load(path.read_text()) or {}) if path.exists() else {}
    new = kubeconfig(name, server, name, token, ca_pem)
    for section in ("clusters", "users", "contexts"):
        doc[section] = [e for e in doc.get(section) or [] if e.get("name") != name] + new[section]
    doc.setdefault("apiVersion", "v1")
    doc.setdefault("kind", "Config")
    doc["current-context"] = name
    path.parent.mkdir(parents=True, exist_ok=True)
    write_private(path, doc)


def remove_context(path: str | Path, name: str) -> bool:
    """Drop cluster, user and context `name` from the kubeconfig at `path`; True if something was removed."""
    path = Path(path)
    if not path.exists():
        return False
    doc = yaml.safe_load(path.read_text()) or {}
    before = sum(len(doc.get(s) or []) for s in ("clusters", "users", "contexts"))
    for section in ("clusters", "users", "contexts"):
        doc[section] = [e for e in doc.get(section) or [] if e.get("name") != name]
    if doc.get("current-context") == name:
        doc["current-context"] = ""
    if sum(len(doc[s]) for s in ("clusters", "users", "contexts")) == before:
        return False
    write_private(path, doc)
    return True


def set_namespace(path: str | Path, namespace: str) -> None:
    """Make `namespace` the default: in the current context of a kubeconfig, or top-level in the old format."""
    path = Path(path)
    doc = yaml.safe_load(path.read_text()) or {}
    if "contexts" in doc:
        for entry in doc.get("contexts") or []:
            if entry.get("name") == doc.get("current-context"):
                entry.setdefault("context", {})["namespace"] = namespace
    else:
        doc["namespace"] = namespace
    write_private(path, doc)
