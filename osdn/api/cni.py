"""The CNI protocol as osdn speaks it: versions, requests, results and error objects.

Pure: no I/O. Shared by the `osdn-cni` plugin (osdn.cni: parses, validates, forwards) and the node
agent's CNI server (osdn.node: does the work, builds the result); it lives in `api` because those two
may not import each other, and because the plugin must start fast (nothing heavy is imported here).

- Supported spec versions: 0.3.0, 0.3.1, 0.4.0, 1.0.0. A result is written in the `cniVersion` of the
  request's network config (0.3.x/0.4.0 results carry `"version": "4"` on every IP, 1.0.0 does not).
- Errors are `CniError(code, msg, details)`; codes are the spec's well-known ones. The plugin prints
  the error object on stdout and exits with the code.
- `prevResult` (chained invocation) is passed through: an ADD result is the previous result with
  osdn's interfaces, IPs and routes appended.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

SUPPORTED_VERSIONS = ("0.3.0", "0.3.1", "0.4.0", "1.0.0")
COMMANDS = ("ADD", "DEL", "CHECK", "VERSION")
DEFAULT_SOCKET = "/run/osdn/cni.sock"

# Well-known error codes (CNI spec, "Error" section).
INCOMPATIBLE_VERSION = 1
UNSUPPORTED_FIELD = 2
UNKNOWN_CONTAINER = 3
INVALID_ENV = 4
IO_FAILURE = 5
DECODE_FAILURE = 6
INVALID_CONFIG = 7
TRY_AGAIN = 11
INTERNAL = 999  # osdn's own: anything the agent could not do

Obj = dict[str, Any]


class CniError(Exception):
    """A CNI error result; `code` doubles as the plugin's exit status."""

    def __init__(self, code: int, msg: str, details: str = "") -> None:
        super().__init__(msg)
        self.code, self.msg, self.details = code, msg, details

    def to_obj(self, version: str) -> Obj:
        out: Obj = {"cniVersion": version, "code": self.code, "msg": self.msg}
        if self.details:
            out["details"] = self.details
        return out

    @classmethod
    def from_obj(cls, obj: Mapping[str, Any]) -> CniError:
        return cls(int(obj.get("code") or INTERNAL), str(obj.get("msg") or "unknown error"),
                   str(obj.get("details") or ""))


@dataclass(frozen=True)
class CniRequest:
    """One invocation: the CNI_* environment plus the network config from stdin."""

    command: str
    container_id: str
    netns: str
    ifname: str
    args: Mapping[str, str]
    path: str
    config: Mapping[str, Any] = field(default_factory=dict)

    @property
    def version(self) -> str:
        return str(self.config.get("cniVersion") or "0.4.0")

    def to_wire(self) -> Obj:
        """The JSON body sent to the agent (`{"env": {...}, "config": {...}}`)."""
        env = {"CNI_COMMAND": self.command, "CNI_CONTAINERID": self.container_id, "CNI_NETNS": self.netns,
               "CNI_IFNAME": self.ifname, "CNI_PATH": self.path,
               "CNI_ARGS": ";".join(f"{k}={v}" for k, v in self.args.items())}
        return {"env": env, "config": dict(self.config)}


def parse_cni_args(text: str) -> dict[str, str]:
    """`K1=V1;K2=V2` -> dict; a part without `=` is an error (spec: the runtime's fault)."""
    out: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in text.split(";"))):
        key, sep, value = part.partition("=")
        if not sep or not key:
            raise CniError(INVALID_ENV, "invalid CNI_ARGS", f"CNI_ARGS part {part!r} is not KEY=VALUE")
        out[key] = value
    return out


def parse_config(raw: str | bytes) -> Obj:
    """The network config from stdin; DECODE_FAILURE / INVALID_CONFIG naming the problem."""
    try:
        conf = json.loads(raw or b"{}")
    except ValueError as exc:
        raise CniError(DECODE_FAILURE, "failed to decode network config", f"stdin: {exc}") from None
    if not isinstance(conf, dict):
        raise CniError(DECODE_FAILURE, "failed to decode network config", "stdin: not a JSON object")
    return conf


def check_config(conf: Mapping[str, Any], command: str) -> None:
    """Validate the fields osdn reads (INVALID_CONFIG / INCOMPATIBLE_VERSION)."""
    version = conf.get("cniVersion")
    if not isinstance(version, str) or not version:
        raise CniError(INVALID_CONFIG, "invalid network config", "cniVersion: required string")
    if version not in SUPPORTED_VERSIONS:
        raise CniError(INCOMPATIBLE_VERSION, "incompatible CNI versions",
                       f"config cniVersion {version!r}; plugin supports {', '.join(SUPPORTED_VERSIONS)}")
    if command != "VERSION" and not isinstance(conf.get("name"), str):
        raise CniError(INVALID_CONFIG, "invalid network config", "name: required string")
    if command == "CHECK" and version.startswith("0.3"):
        raise CniError(INCOMPATIBLE_VERSION, "incompatible CNI versions",
                       f"CHECK needs cniVersion 0.4.0 or later, config has {version}")
    for key, typ in (("socket", str), ("namespace", str), ("mtu", int), ("timeout", (int, float))):
        if key in conf and not isinstance(conf[key], typ):
            raise CniError(INVALID_CONFIG, "invalid network config", f"{key}: wrong type {type(conf[key]).__name__}")
    prev = conf.get("prevResult")
    if prev is not None and not isinstance(prev, dict):
        raise CniError(INVALID_CONFIG, "invalid network config", "prevResult: must be an object")


def request_from_env(env: Mapping[str, str], stdin: str | bytes) -> CniRequest:
    """Parse and validate one invocation (env vars + stdin)."""
    command = env.get("CNI_COMMAND", "")
    if command not in COMMANDS:
        raise CniError(INVALID_ENV, "invalid environment variables",
                       f"CNI_COMMAND {command!r} is not one of {', '.join(COMMANDS)}")
    conf = parse_config(stdin) if stdin else {}
    if command == "VERSION":  # answered whatever the config says: it is how a runtime negotiates
        conf.setdefault("cniVersion", "1.0.0")
    else:
        check_config(conf, command)
        need = ["CNI_CONTAINERID", "CNI_IFNAME"] + (["CNI_NETNS"] if command in ("ADD", "CHECK") else [])
        missing = [k for k in need if not env.get(k)]
        if missing:
            raise CniError(INVALID_ENV, "invalid environment variables",
                           f"required variable(s) missing: {', '.join(missing)}")
    return CniRequest(command, env.get("CNI_CONTAINERID", ""), env.get("CNI_NETNS", ""),
                      env.get("CNI_IFNAME", ""), parse_cni_args(env.get("CNI_ARGS", "")),
                      env.get("CNI_PATH", ""), conf)


def request_from_wire(body: Mapping[str, Any]) -> CniRequest:
    """The agent's side of `CniRequest.to_wire` (validated again: the socket is an interface)."""
    env, conf = body.get("env"), body.get("config")
    if not isinstance(env, dict) or not isinstance(conf, dict):
        raise CniError(DECODE_FAILURE, "bad request", 'body must be {"env": {...}, "config": {...}}')
    return request_from_env({str(k): str(v) for k, v in env.items()}, json.dumps(conf))


def version_result(version: str) -> Obj:
    return {"cniVersion": version, "supportedVersions": list(SUPPORTED_VERSIONS)}


@dataclass(frozen=True)
class Attachment:
    """What ADD made: the two ends of the veth, the address and the routes."""

    host_ifname: str
    host_mac: str
    ifname: str
    mac: str
    sandbox: str
    address: str  # CIDR
    gateway: str
    routes: tuple[tuple[str, str | None], ...]  # (dst, gw or None)
    dns: PodDns | None = None


@dataclass(frozen=True)
class PodDns:
    """The result's `dns` section: what the pod's resolv.conf must say (Kubernetes' ClusterFirst)."""

    nameservers: tuple[str, ...]
    search: tuple[str, ...]
    options: tuple[str, ...] = ("ndots:5",)

    def result(self) -> Obj:
        return {"nameservers": list(self.nameservers), "search": list(self.search), "options": list(self.options)}


def pod_dns(namespace: str, nameserver: str, domain: str = "cluster.local") -> PodDns:
    """Pure: a pod's DNS: the cluster DNS service VIP, kube's search path and ndots:5."""
    return PodDns((nameserver,), (f"{namespace}.svc.{domain}", f"svc.{domain}", domain))


def add_result(version: str, att: Attachment, prev: Mapping[str, Any] | None = None) -> Obj:
    """The ADD result in `version`; `prev` (a chained prevResult) is kept and extended."""
    base: Obj = json.loads(json.dumps(prev)) if prev else {}
    interfaces = list(base.get("interfaces") or [])
    first = len(interfaces)
    interfaces += [{"name": att.host_ifname, "mac": att.host_mac},
                   {"name": att.ifname, "mac": att.mac, "sandbox": att.sandbox}]
    ip: Obj = {"address": att.address, "gateway": att.gateway, "interface": first + 1}
    if version != "1.0.0":
        ip = {"version": "4", **ip}
    routes = [{"dst": d, **({"gw": g} if g else {})} for d, g in att.routes]
    return {**base, "cniVersion": version, "interfaces": interfaces, "ips": list(base.get("ips") or []) + [ip],
            "routes": list(base.get("routes") or []) + routes,
            "dns": att.dns.result() if att.dns else base.get("dns") or {}}

