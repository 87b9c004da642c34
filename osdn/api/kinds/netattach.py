"""Kind of group 'k8s.cni.cncf.io' (v1): NetworkAttachmentDefinition, as the Network Plumbing WG
defines it (k8snetworkplumbingwg/network-attachment-definition-client). Pure.

A NetworkAttachmentDefinition (`net-attach-def`) names a secondary network a pod asks for with the
annotation `k8s.v1.cni.cncf.io/networks`; `spec.config` is the CNI configuration as a JSON *string*.
Upstream's CRD only says "a string"; osdn checks what every CNI runtime would refuse at pod start,
so the mistake shows at `create` instead: the string is at most MAX_CONFIG_BYTES, parses as a JSON
object, has a string `cniVersion`, and either a string `type` (a single plugin) or a non-empty list
`plugins` of objects each with a string `type` (a configuration list). Which plugin types the lab
kubelet runs is its decision (osdn.lab.multus), not the API's.
"""

from __future__ import annotations

import json
from typing import Any

from osdn.api.kinds import Hooks
from osdn.api.kinds.meta import KubeModel, Obj, TypedObject, parse_strict
from osdn.errors import FieldError

MAX_CONFIG_BYTES = 65536
CONFIG_PATH = "spec.config"


class NetworkAttachmentDefinitionSpec(KubeModel):
    config: str | None = None


class NetworkAttachmentDefinition(TypedObject):
    spec: NetworkAttachmentDefinitionSpec | None = None


def _short(text: str) -> str:
    return json.dumps(text if len(text) <= 80 else text[:77] + "...")


def config_problem(text: str) -> str | None:
    """Why `text` is no usable CNI configuration, or None. Pure."""
    size = len(text.encode())
    if size > MAX_CONFIG_BYTES:
        return f"must be at most {MAX_CONFIG_BYTES} bytes, got {size}"
    try:
        conf: Any = json.loads(text)
    except ValueError as exc:
        return f"must be a JSON object (a CNI configuration): {exc}"
    if not isinstance(conf, dict):
        return f"must be a JSON object (a CNI configuration), got a JSON {type(conf).__name__}"
    if not isinstance(conf.get("cniVersion"), str) or not conf["cniVersion"]:
        return 'must have a string "cniVersion"'
    if "plugins" in conf:
        plugins = conf["plugins"]
        if not isinstance(plugins, list) or not plugins:
            return '"plugins" must be a non-empty list of plugin configurations'
        for n, plugin in enumerate(plugins):
            if not isinstance(plugin, dict) or not isinstance(plugin.get("type"), str) or not plugin["type"]:
                return f'"plugins[{n}]" must be an object with a string "type"'
        return None
    if not isinstance(conf.get("type"), str) or not conf["type"]:
        return 'must have a string "type" (a plugin configuration) or "plugins" (a configuration list)'
    return None


def validate_net_attach_def(obj: Obj, old: Obj | None) -> list[FieldError]:
    nad, errs = parse_strict(NetworkAttachmentDefinition, obj)
    if nad is None:
        return errs
    if nad.spec is None:
        return [FieldError("spec", "Required value", "FieldValueRequired")]
    if nad.spec.config is None:
        return [FieldError(CONFIG_PATH, "Required value: the CNI configuration as a JSON string",
                           "FieldValueRequired")]
    problem = config_problem(nad.spec.config)
    if problem:
        return [FieldError(CONFIG_PATH, f"Invalid value: {_short(nad.spec.config)}: {problem}")]
    return []


HOOKS: dict[str, Hooks] = {"NetworkAttachmentDefinition": Hooks(NetworkAttachmentDefinition, None,
                                                                validate_net_attach_def)}
