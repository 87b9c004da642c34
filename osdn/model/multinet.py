"""Secondary pod networks as Multus decides them: the pod annotation, which attachments are allowed,
interface names, the CNI configs to run and the network-status annotation. Pure.

`k8s.v1.cni.cncf.io/networks` is a comma-separated list of `[namespace/]name[@ifname]` or a JSON list of
`{"name", "namespace", "interface", "default-route": [IP]}` (other keys are accepted and ignored, as
the egress-router plugin declares no capabilities). References follow multus-cni's
parsePodNetworkAnnotation: names and namespaces are DNS-1123 labels, an interface name has at most 15
characters and no `/` or whitespace; an omitted namespace is the pod's. Namespace isolation is on, as
the cluster-network-operator configures Multus in OpenShift (`namespaceIsolation: true`): a pod may use
a NetworkAttachmentDefinition of its own namespace or of GLOBAL_NAMESPACES, no other (multus' message).
Attachment n (1-based) is interface `net<n>` unless it names its own. A NAD's config runs only when
every plugin type in it is one osdn ships (SHIPPED_TYPES): the kubelet never executes a binary a
tenant's config names.
"""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass
from typing import Any

Obj = dict[str, Any]
NETWORKS_ANNOTATION = "k8s.v1.cni.cncf.io/networks"
STATUS_ANNOTATION = "k8s.v1.cni.cncf.io/network-status"
GLOBAL_NAMESPACES = ("default", "openshift-multus", "openshift-sriov-network-operator", "openshift-cnv")
CLUSTER_NETWORK = "openshift-sdn"
SHIPPED_TYPES = ("egress-router",)
MAX_ATTACHMENTS = 8
_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
Raw = tuple[str, str, str, tuple[str, ...]]  # namespace, name, interface, default-route


class NetworkSelectionError(ValueError):
    """The annotation cannot be honoured; the message says why (it becomes a pod event)."""

    @property
    def message(self) -> str:
        return str(self.args[0])


@dataclass(frozen=True)
class Selection:
    """One requested attachment: the NAD's namespace and name, the pod-side interface name."""

    namespace: str
    name: str
    ifname: str
    default_route: tuple[str, ...] = ()

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.name}"


def parse_networks(text: str, pod_namespace: str) -> list[Selection]:
    """The attachments the annotation asks for, checked and named (net1, net2, ...)."""
    raw = _json_form(text) if any(c in text for c in "[{\"") else _comma_form(text)
    if len(raw) > MAX_ATTACHMENTS:
        raise NetworkSelectionError(f"{NETWORKS_ANNOTATION}: at most {MAX_ATTACHMENTS} networks, got {len(raw)}")
    out: list[Selection] = []
    for n, (namespace, name, ifname, routes) in enumerate(raw, 1):
        for what, value in (("namespace", namespace), ("network name", name)):
            if value and not _LABEL.fullmatch(value):
                raise NetworkSelectionError(f"{NETWORKS_ANNOTATION}: {what} {value!r} is not a DNS-1123 label "
                                            "(lower case alphanumerics and '-', starting and ending alphanumeric)")
        if not name:
            raise NetworkSelectionError(f"{NETWORKS_ANNOTATION}: entry {n} names no network")
        if ifname and (len(ifname) > 15 or re.search(r"[\s/]", ifname)):
            raise NetworkSelectionError(f"{NETWORKS_ANNOTATION}: interface name {ifname!r} must be less than 16 "
                                        "characters and not contain '/' or spaces")
        sel = Selection(namespace or pod_namespace, name, ifname or f"net{n}", routes)
        if sel.ifname in ("eth0", "lo") or sel.ifname in [o.ifname for o in out]:
            raise NetworkSelectionError(f"{NETWORKS_ANNOTATION}: interface name {sel.ifname!r} is already used in "
                                        "the pod")
        _check_isolation(sel, pod_namespace)
        out.append(sel)
    return out


def _comma_form(text: str) -> list[Raw]:
    out: list[Raw] = []
    for item in text.split(","):
        ns, sep, rest = item.strip().partition("/")
        if not sep:
            ns, rest = "", ns
        if "/" in rest or rest.count("@") > 1:
            raise NetworkSelectionError(f"{NETWORKS_ANNOTATION}: invalid network object {item.strip()!r} "
                                        "(use [namespace/]name[@interface])")
        name, _, ifname = rest.partition("@")
        out.append((ns.strip(), name.strip(), ifname.strip(), ()))
    return out


def _json_form(text: str) -> list[Raw]:
    try:
        items = json.loads(text)
    except ValueError as exc:
        raise NetworkSelectionError(f"{NETWORKS_ANNOTATION}: failed to parse the JSON form: {exc}") from None
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise NetworkSelectionError(f"{NETWORKS_ANNOTATION}: the JSON form must be a list of objects")
    out: list[Raw] = []
    for item in items:
        fields = [item.get(k, "") for k in ("namespace", "name", "interface")]
        if not all(isinstance(f, str) for f in fields):
            raise NetworkSelectionError(f"{NETWORKS_ANNOTATION}: name, namespace and interface must be strings in "
                                        f"{json.dumps(item)}")
        out.append((fields[0], fields[1], fields[2], _routes(item.get("default-route"))))
    return out


def _routes(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    try:
        if not isinstance(value, list):
            raise ValueError
        return tuple(str(ipaddress.ip_address(v)) for v in value)
    except ValueError:
        raise NetworkSelectionError(f"{NETWORKS_ANNOTATION}: default-route must be a list of IP addresses, "
                                    f"got {json.dumps(value)}") from None


def _check_isolation(sel: Selection, pod_namespace: str) -> None:
    if sel.namespace != pod_namespace and sel.namespace not in GLOBAL_NAMESPACES:
        raise NetworkSelectionError(f"namespace isolation enabled, annotation violates permission, pod is in "
                                    f"namespace {pod_namespace} but refers to target namespace {sel.namespace}")


def plugin_confs(sel: Selection, config_text: str) -> list[Obj]:
    """The NAD's config as the plugin configs to run in order (one, or a list's plugins with the
    list's name and cniVersion), refused unless every type is shipped."""
    try:
        conf = json.loads(config_text)
    except ValueError as exc:
        raise NetworkSelectionError(f"network-attachment-definition {sel.ref}: spec.config is not JSON: {exc}") \
            from None
    if not isinstance(conf, dict):
        raise NetworkSelectionError(f"network-attachment-definition {sel.ref}: spec.config is not a JSON object")
    name, version = conf.get("name") or sel.name, conf.get("cniVersion")
    plugins = conf["plugins"] if isinstance(conf.get("plugins"), list) else [conf]
    out = [{**p, "name": name, "cniVersion": version} for p in plugins if isinstance(p, dict)]
    for plugin in out:
        if plugin.get("type") not in SHIPPED_TYPES:
            raise NetworkSelectionError(
                f"network-attachment-definition {sel.ref}: CNI plugin type {json.dumps(plugin.get('type'))} is "
                f"not run by this kubelet (it runs only the plugins osdn ships: {', '.join(SHIPPED_TYPES)})")
    return out


def status_entry(sel: Selection, result: Obj) -> Obj:
    """The network-status entry of one attachment from its CNI ADD result."""
    entry: Obj = {"name": sel.ref, "interface": sel.ifname}
    ips = [str(ip.get("address", "")).split("/")[0] for ip in result.get("ips") or [] if ip.get("address")]
    if ips:
        entry["ips"] = ips
    mac = next((i.get("mac") for i in result.get("interfaces") or [] if i.get("name") == sel.ifname), None)
    if mac:
        entry["mac"] = mac
    if sel.default_route:
        entry["default"] = True
    entry["dns"] = result.get("dns") or {}
    return entry


def network_status(cluster_ip: str, secondary: list[Obj]) -> str:
    """The network-status annotation: the cluster network (eth0) first, then each attachment; eth0
    is the default unless an attachment took the default route."""
    eth0: Obj = {"name": CLUSTER_NETWORK, "interface": "eth0"}
    if cluster_ip:
        eth0["ips"] = [cluster_ip]
    if not any(e.get("default") for e in secondary):
        eth0["default"] = True
    eth0["dns"] = {}
    return json.dumps([eth0, *secondary], indent=4)
