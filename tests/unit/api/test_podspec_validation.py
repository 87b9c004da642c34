"""Pod spec validation at parity with kube-apiserver (pkg/apis/core/validation): each case is what
upstream refuses (or accepts), with upstream's field path and message. Pure: the create/update
pipeline of `osdn.api.objects`, no server."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from osdn.api.quantity import parse_quantity

Problems = Callable[..., list[str]]
Obj = dict[str, Any]
QTY_RE = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
LABEL_MSG = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start "
             "and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
             "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')")
UPDATE_MSG = ("spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`,"
              "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to "
              "existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was "
              "previously negative)\nchanged: ")


def pod(spec: Obj) -> Obj:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": spec}


def c(**fields: Any) -> Obj:
    return {"name": "c", "image": "nginx", **fields}


def res(limits: Obj | None = None, requests: Obj | None = None) -> Obj:
    out: Obj = {}
    if limits is not None:
        out["limits"] = limits
    if requests is not None:
        out["requests"] = requests
    return {"containers": [c(resources=out)]}


R = "spec.containers[0].resources"
E = "spec.containers[0].env[0]"
M = "spec.containers[0].volumeMounts"
P = "spec.containers[0].livenessProbe"

CASES: list[tuple[str, Obj, list[str]]] = [
    # ---- resources (ValidateContainerResourceRequirements; quantities decode)
    ("qty-garbage", res({"cpu": "garbage"}), [f'{R}.limits.cpu: Invalid value: "garbage": {QTY_RE}']),
    ("qty-garbage-request", res(requests={"memory": "12XB"}), [f'{R}.requests.memory: Invalid value: "12XB": {QTY_RE}']),
    ("qty-not-a-quantity", res({"cpu": True}), [f"{R}.limits.cpu: must be a quantity (a string or a number), got True"]),
    ("qty-number-ok", res({"cpu": 1, "memory": 1.5e9}, {"cpu": 0.5}), []),
    ("qty-negative", res({"memory": "-1Gi"}),
     [f'{R}.limits[memory]: Invalid value: "-1Gi": must be greater than or equal to 0']),
    ("request-over-limit", res({"cpu": "1"}, {"cpu": "2000m"}),
     [f'{R}.requests: Invalid value: "2": must be less than or equal to cpu limit of 1']),
    ("request-over-limit-memory", res({"memory": "1Gi"}, {"memory": "2048Mi"}),
     [f'{R}.requests: Invalid value: "2Gi": must be less than or equal to memory limit of 1Gi']),
    ("resource-not-standard", res({"foo": "1"}),
     [f'{R}.limits[foo]: Invalid value: "foo": must be a standard resource type or fully qualified',
      f'{R}.limits[foo]: Invalid value: "foo": must be a standard resource for containers']),
    ("resource-quota-name", res({"pods": "1"}),
     [f'{R}.limits[pods]: Invalid value: "pods": must be a standard resource for containers']),
    ("resource-bad-name", res({"a b": "1"}),
     [f'{R}.limits[a b]: Invalid value: "a b": name part must consist of alphanumeric characters, \'-\', \'_\' or '
      "'.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', "
      "regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"]),
    ("extended-ok", res({"example.com/gpu": "2"}, {"example.com/gpu": "2"}), []),
    ("extended-fraction", res({"example.com/gpu": "500m"}, {"example.com/gpu": "500m"}),
     [f'{R}.limits[example.com/gpu]: Invalid value: "500m": must be an integer',
      f'{R}.requests[example.com/gpu]: Invalid value: "500m": must be an integer']),
    ("extended-request-not-limit", res({"example.com/gpu": "2"}, {"example.com/gpu": "1"}),
     [f'{R}.requests: Invalid value: "1": must be equal to example.com/gpu limit of 2']),
    ("extended-no-limit", res(requests={"example.com/gpu": "1"}),
     [f"{R}.limits: Required value: Limit must be set for non overcommitable resources"]),
    ("hugepages-ok", res({"hugepages-2Mi": "4Mi", "memory": "1Gi"}, {"hugepages-2Mi": "4Mi"}), []),
    ("hugepages-rules", res({"hugepages-2Mi": "3Mi"}),
     [f'{R}.limits[hugepages-2Mi]: Invalid value: "3Mi": 3Mi is not positive integer multiple of hugepages-2Mi',
      f"{R}: Forbidden: HugePages require cpu or memory"]),
    # ---- container names and images (validateContainers / validateInitContainers)
    ("container-name-upper", {"containers": [c(name="Web")]},
     [f'spec.containers[0].name: Invalid value: "Web": {LABEL_MSG}']),
    ("container-name-dots", {"containers": [c(name="a.b")]},
     ['spec.containers[0].name: Invalid value: "a.b": must not contain dots']),
    ("container-dup", {"containers": [c(), c()]}, ['spec.containers[1].name: Duplicate value: "c"']),
    ("init-dup-of-container", {"initContainers": [c()], "containers": [c()]},
     ['spec.initContainers[0].name: Duplicate value: "c"']),
    ("image-whitespace", {"containers": [c(image=" nginx")]},
     ['spec.containers[0].image: Invalid value: " nginx": must not have leading or trailing whitespace']),
    ("pull-policy", {"containers": [c(imagePullPolicy="Sometimes")]},
     ['spec.containers[0].imagePullPolicy: Unsupported value: "Sometimes": supported values: "Always", '
      '"IfNotPresent", "Never"']),
    ("message-policy", {"containers": [c(terminationMessagePolicy="Log")]},
     ['spec.containers[0].terminationMessagePolicy: Unsupported value: "Log": supported values: "File", '
      '"FallbackToLogsOnError"']),
    ("restart-policy-regular", {"containers": [c(restartPolicy="Always")]},
     ["spec.containers[0].restartPolicy: Forbidden: may not be set for non-init containers"]),
    ("restart-policy-init", {"initContainers": [c(name="i", restartPolicy="Never")], "containers": [c()]},
     ['spec.initContainers[0].restartPolicy: Unsupported value: "Never": supported values: "Always"']),
    # ---- env (ValidateEnv, relaxed names; validateEnvVarValueFrom)
    ("env-relaxed-ok", {"containers": [c(env=[{"name": "1-dash.dot sp", "value": "x"}])]}, []),
    ("env-equals", {"containers": [c(env=[{"name": "A=B"}])]},
     [f'{E}.name: Invalid value: "A=B": a valid environment variable name must consist only of printable ASCII '
      "characters other than '='"]),
    ("env-two-sources", {"containers": [c(env=[{"name": "A", "valueFrom": {
        "configMapKeyRef": {"name": "m", "key": "k"}, "secretKeyRef": {"name": "s", "key": "k"}}}])]},
     [f'{E}.valueFrom: Invalid value: "": may not have more than one field specified at a time']),
    ("env-no-source", {"containers": [c(env=[{"name": "A", "valueFrom": {}}])]},
     [f'{E}.valueFrom: Invalid value: "": must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` '
      "or `secretKeyRef`"]),
    ("env-fieldref-not-for-env", {"containers": [c(env=[{"name": "A", "valueFrom": {
        "fieldRef": {"fieldPath": "status.phase"}}}])]},
     [f'{E}.valueFrom.fieldRef.fieldPath: Unsupported value: "status.phase": supported values: "metadata.name", '
      '"metadata.namespace", "metadata.uid", "spec.nodeName", "spec.serviceAccountName", "status.hostIP", '
      '"status.hostIPs", "status.podIP", "status.podIPs"']),
    ("env-fieldref-version", {"containers": [c(env=[{"name": "A", "valueFrom": {
        "fieldRef": {"apiVersion": "v2", "fieldPath": "metadata.name"}}}])]},
     [f'{E}.valueFrom.fieldRef.fieldPath: Invalid value: "metadata.name": error converting fieldPath: '
      "unsupported pod version: v2"]),
    ("env-resource-ref", {"containers": [c(env=[{"name": "A", "valueFrom": {
        "resourceFieldRef": {"resource": "limits.gpu"}}}])]},
     [f'{E}.valueFrom.resourceFieldRef.resource: Unsupported value: "limits.gpu": supported values: "limits.cpu", '
      '"limits.ephemeral-storage", "limits.memory", "requests.cpu", "requests.ephemeral-storage", "requests.memory"']),
    ("env-resource-divisor", {"containers": [c(env=[{"name": "A", "valueFrom": {
        "resourceFieldRef": {"resource": "limits.cpu", "divisor": "1k"}}}])]},
     [f'{E}.valueFrom.resourceFieldRef.divisor: Invalid value: "limits.cpu": only divisor\'s values 1m, 1 are '
      "supported with the cpu resource"]),
    ("env-key-name", {"containers": [c(env=[{"name": "A", "valueFrom": {
        "secretKeyRef": {"name": "S", "key": "a/b"}}}])]},
     [f'{E}.valueFrom.secretKeyRef.name: Invalid value: "S": a lowercase RFC 1123 subdomain must consist of lower '
      "case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. "
      "'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
      f'{E}.valueFrom.secretKeyRef.key: Invalid value: "a/b": a valid config key must consist of alphanumeric '
      "characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is "
      "'[-._a-zA-Z0-9]+')"]),
    ("env-from-none", {"containers": [c(envFrom=[{"prefix": "P_"}])]},
     ['spec.containers[0].envFrom: Invalid value: "": must specify one of: `configMapRef` or `secretRef`']),
    # ---- volumes and mounts (ValidateVolumes, ValidateVolumeMounts)
    ("volume-two-sources", {"volumes": [{"name": "v", "emptyDir": {}, "hostPath": {"path": "/x"}}],
                            "containers": [c()]},
     ["spec.volumes[0].hostPath: Forbidden: may not specify more than 1 volume type"]),
    ("volume-no-source", {"volumes": [{"name": "v"}], "containers": [c()]},
     ["spec.volumes[0]: Required value: must specify a volume type"]),
    ("volume-name", {"volumes": [{"name": "V", "emptyDir": {}}], "containers": [c()]},
     [f'spec.volumes[0].name: Invalid value: "V": {LABEL_MSG}']),
    ("volume-dup", {"volumes": [{"name": "v", "emptyDir": {}}, {"name": "v", "emptyDir": {}}], "containers": [c()]},
     ['spec.volumes[1].name: Duplicate value: "v"']),
    ("volume-sources-checked", {"volumes": [
        {"name": "a", "secret": {"defaultMode": 4096}}, {"name": "b", "configMap": {"name": "m", "items": [
            {"key": "k", "path": "../x"}]}}, {"name": "c", "persistentVolumeClaim": {}},
        {"name": "d", "hostPath": {"path": "/x", "type": "Dir"}}, {"name": "e", "emptyDir": {"sizeLimit": "-1"}}],
        "containers": [c()]},
     ["spec.volumes[0].secret.secretName: Required value",
      "spec.volumes[0].secret.defaultMode: Invalid value: 4096: must be a number between 0 and 0777 (octal), both "
      "inclusive",
      'spec.volumes[1].configMap.items[0].path: Invalid value: "../x": must not contain \'..\'',
      "spec.volumes[2].persistentVolumeClaim.claimName: Required value",
      'spec.volumes[3].hostPath.type: Unsupported value: "Dir": supported values: "", "BlockDevice", "CharDevice", '
      '"Directory", "DirectoryOrCreate", "File", "FileOrCreate", "Socket"',
      "spec.volumes[4].emptyDir.sizeLimit: Forbidden: SizeLimit field must be a valid resource quantity"]),
    ("mount-unknown-volume", {"containers": [c(volumeMounts=[{"name": "nope", "mountPath": "/x"}])]},
     [f'{M}[0].name: Not found: "nope"']),
    ("mount-path", {"volumes": [{"name": "v", "emptyDir": {}}], "containers": [c(volumeMounts=[
        {"name": "v"}, {"name": "v", "mountPath": "/a"}, {"name": "v", "mountPath": "/a", "subPath": "/abs"}])]},
     [f"{M}[0].mountPath: Required value", f'{M}[2].mountPath: Invalid value: "/a": must be unique',
      f'{M}.subPath: Invalid value: "/abs": must be a relative path']),
    ("mount-bidirectional", {"volumes": [{"name": "v", "emptyDir": {}}], "containers": [c(volumeMounts=[
        {"name": "v", "mountPath": "/a", "mountPropagation": "Bidirectional"}])]},
     [f"{M}.mountPropagation: Forbidden: Bidirectional mount propagation is available only to privileged "
      "containers"]),
    # ---- ports (validateContainerPorts, hostNetwork)
    ("port-required", {"containers": [c(ports=[{"name": "http"}])]},
     ["spec.containers[0].ports[0].containerPort: Required value"]),
    ("port-range", {"containers": [c(ports=[{"containerPort": 70000}])]},
     ["spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive"]),
    ("port-protocol", {"containers": [c(ports=[{"containerPort": 80, "protocol": "ICMP"}])]},
     ['spec.containers[0].ports[0].protocol: Unsupported value: "ICMP": supported values: "SCTP", "TCP", "UDP"']),
    ("port-name", {"containers": [c(ports=[{"containerPort": 80, "name": "-80-"}])]},
     ['spec.containers[0].ports[0].name: Invalid value: "-80-": must contain at least one letter (a-z)',
      'spec.containers[0].ports[0].name: Invalid value: "-80-": must not begin or end with a hyphen']),
    ("port-name-dup", {"containers": [c(ports=[{"containerPort": 80, "name": "web"},
                                               {"containerPort": 81, "name": "web"}])]},
     ['spec.containers[0].ports[1].name: Duplicate value: "web"']),
    ("host-port-dup", {"containers": [c(ports=[{"containerPort": 80, "hostPort": 8080}]),
                                      c(name="d", ports=[{"containerPort": 81, "hostPort": 8080}])]},
     ['spec.containers[1].ports[0].hostPort: Duplicate value: "TCP//8080"']),
    ("host-network-port", {"hostNetwork": True, "containers": [c(ports=[{"containerPort": 80, "hostPort": 81}])]},
     ["spec.containers[0].ports[0].hostPort: Invalid value: 81: must match `containerPort` when `hostNetwork` is "
      "true"]),
    # ---- probes and hooks (validateProbe, validateHandler)
    ("probe-two-handlers", {"containers": [c(livenessProbe={"exec": {"command": ["true"]}, "tcpSocket": {"port": 80}})]},
     [f"{P}.tcpSocket: Forbidden: may not specify more than 1 handler type"]),
    ("probe-no-handler", {"containers": [c(livenessProbe={"periodSeconds": 5})]},
     [f"{P}: Required value: must specify a handler type"]),
    ("probe-numbers", {"containers": [c(livenessProbe={"exec": {"command": ["true"]}, "initialDelaySeconds": -1,
                                                       "successThreshold": 2})]},
     [f"{P}.initialDelaySeconds: Invalid value: -1: must be greater than or equal to 0",
      f"{P}.successThreshold: Invalid value: 2: must be 1"]),
    ("probe-http", {"containers": [c(readinessProbe={"httpGet": {"port": 0, "scheme": "FTP"}})]},
     ["spec.containers[0].readinessProbe.httpGet.port: Invalid value: 0: must be between 1 and 65535, inclusive",
      'spec.containers[0].readinessProbe.httpGet.scheme: Unsupported value: "FTP": supported values: "HTTP", '
      '"HTTPS"']),
    ("probe-exec-empty", {"containers": [c(startupProbe={"exec": {}})]},
     ["spec.containers[0].startupProbe.exec.command: Required value"]),
    ("init-probe", {"initContainers": [c(name="i", readinessProbe={"exec": {"command": ["true"]}})],
                    "containers": [c()]},
     ["spec.initContainers[0].readinessProbe: Forbidden: may not be set for init containers without "
      "restartPolicy=Always"]),
    ("sidecar-probe-ok", {"initContainers": [c(name="i", restartPolicy="Always", readinessProbe={
        "exec": {"command": ["true"]}})], "containers": [c()]}, []),
    ("hook-no-handler", {"containers": [c(lifecycle={"preStop": {}})]},
     ["spec.containers[0].lifecycle.preStop: Required value: must specify a handler type"]),
    # ---- pod-level fields (ValidatePodSpec)
    ("restart-policy", {"containers": [c()], "restartPolicy": "Sometimes"},
     ['spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"']),
    ("dns-policy", {"containers": [c()], "dnsPolicy": "Google"},
     ['spec.dnsPolicy: Unsupported value: "Google": supported values: "ClusterFirstWithHostNet", "ClusterFirst", '
      '"Default", "None"']),
    ("dns-none", {"containers": [c()], "dnsPolicy": "None"},
     ["spec.dnsConfig: Required value: must provide `dnsConfig` when `dnsPolicy` is None"]),
    ("grace-negative", {"containers": [c()], "terminationGracePeriodSeconds": -1},
     ["spec.terminationGracePeriodSeconds: Invalid value: -1: must be greater than or equal to 0"]),
    ("deadline-zero", {"containers": [c()], "activeDeadlineSeconds": 0},
     ["spec.activeDeadlineSeconds: Invalid value: 0: must be between 1 and 2147483647, inclusive"]),
    ("hostname-subdomain", {"containers": [c()], "hostname": "Web_1", "subdomain": "a.b"},
     [f'spec.hostname: Invalid value: "Web_1": {LABEL_MSG}', 'spec.subdomain: Invalid value: "a.b": must not '
      "contain dots"]),
    ("service-account-name", {"containers": [c()], "serviceAccountName": "Bad_SA"},
     ['spec.serviceAccountName: Invalid value: "Bad_SA": a lowercase RFC 1123 subdomain must consist of lower case '
      "alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. "
      "'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"]),
    ("node-selector", {"containers": [c()], "nodeSelector": {"a/b/c": "ok", "site": "-x"}},
     ["spec.nodeSelector: Invalid value: \"a/b/c\": a valid label key must consist of alphanumeric characters, "
      "'-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or "
      "'123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS "
      "subdomain prefix and '/' (e.g. 'example.com/MyName')",
      'spec.nodeSelector: Invalid value: "-x": a valid label must be an empty string or consist of alphanumeric '
      "characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
      "'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"]),
    ("security-context", {"containers": [c(securityContext={"runAsUser": -1, "runAsGroup": 2 ** 32,
                                                            "privileged": True, "allowPrivilegeEscalation": False})]},
     ["spec.containers[0].securityContext.runAsUser: Invalid value: -1: must be between 0 and 4294967295, inclusive",
      "spec.containers[0].securityContext.runAsGroup: Invalid value: 4294967296: must be between 0 and 4294967295, "
      "inclusive",
      "spec.containers[0].securityContext: Invalid value: false: cannot set `allowPrivilegeEscalation` to false and "
      "`privileged` to true"]),
    ("ephemeral-on-create", {"containers": [c()], "ephemeralContainers": [{"name": "dbg", "image": "busybox"}]},
     ["spec.ephemeralContainers: Forbidden: cannot be set on create"]),
    ("tolerations", {"containers": [c()], "tolerations": [
        {"operator": "Equal", "value": "x"}, {"key": "k", "operator": "Exists", "value": "v"},
        {"key": "k", "operator": "In"}, {"key": "k", "effect": "NoSchedule", "tolerationSeconds": 5},
        {"key": "k", "effect": "Never"}]},
     ['spec.tolerations[0].operator: Invalid value: "Equal": operator must be Exists when `key` is empty, which '
      'means "match all values and all keys"',
      "spec.tolerations[1].operator: Invalid value: \"v\": value must be empty when `operator` is 'Exists'",
      'spec.tolerations[2].operator: Unsupported value: "In": supported values: "Equal", "Exists"',
      "spec.tolerations[3].effect: Invalid value: \"NoSchedule\": effect must be 'NoExecute' when "
      "`tolerationSeconds` is set",
      'spec.tolerations[4].effect: Unsupported value: "Never": supported values: "NoSchedule", "PreferNoSchedule", '
      '"NoExecute"']),
]


@pytest.mark.parametrize("spec,expected", [x[1:] for x in CASES], ids=[x[0] for x in CASES])
def test_pod_spec_parity(problems: Problems, spec: Obj, expected: list[str]) -> None:
    assert problems(pod(spec)) == expected


TEMPLATE_KINDS = [("apps/v1", "Deployment"), ("apps/v1", "ReplicaSet"), ("v1", "ReplicationController")]


def workload(api_version: str, kind: str, spec: Obj) -> Obj:
    selector: Any = {"app": "w"} if kind == "ReplicationController" else {"matchLabels": {"app": "w"}}
    return {"apiVersion": api_version, "kind": kind, "metadata": {"name": "w"},
            "spec": {"selector": selector, "template": {"metadata": {"labels": {"app": "w"}}, "spec": spec}}}


@pytest.mark.parametrize("api_version,kind", TEMPLATE_KINDS, ids=[k for _, k in TEMPLATE_KINDS])
def test_template_spec_parity(problems: Problems, api_version: str, kind: str) -> None:
    """The same rules under spec.template.spec; a template's hostPort may stay 0 with hostNetwork, an
    ephemeral container is refused with the template's message."""
    spec = {"hostNetwork": True, "containers": [c(resources={"limits": {"cpu": "garbage"}}, ports=[
        {"containerPort": 80}], volumeMounts=[{"name": "x", "mountPath": "/x"}])],
        "ephemeralContainers": [{"name": "dbg"}]}
    assert problems(workload(api_version, kind, spec)) == [
        'spec.template.spec.containers[0].volumeMounts[0].name: Not found: "x"',
        f'spec.template.spec.containers[0].resources.limits.cpu: Invalid value: "garbage": {QTY_RE}',
        "spec.template.spec.ephemeralContainers: Forbidden: ephemeral containers not allowed in pod template"]


@pytest.mark.parametrize("api_version,kind", TEMPLATE_KINDS, ids=[k for _, k in TEMPLATE_KINDS])
def test_template_restart_policy_always_and_no_deadline(problems: Problems, api_version: str, kind: str) -> None:
    """ValidatePodTemplateSpecForReplicaSet / ForRC (a Deployment's template is a ReplicaSet's)."""
    owner = "ReplicationController" if kind == "ReplicationController" else "ReplicaSet"
    spec = {"containers": [c()], "restartPolicy": "Never", "activeDeadlineSeconds": 60}
    assert problems(workload(api_version, kind, spec)) == [
        'spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always"',
        f"spec.template.spec.activeDeadlineSeconds: Forbidden: activeDeadlineSeconds in {owner} is not Supported"]


def test_full_pod_accepted_and_unset_values_read_as_kube_defaults(created: Callable[[Obj], Obj]) -> None:
    """A pod using every checked part is stored as sent: unset probe fields, httpGet path/scheme, fieldRef
    apiVersion and terminationMessagePolicy are read as kube's defaults, not written (a default added
    to stored templates would roll every Deployment on its next write); "" enums become kube's default."""
    spec = {"volumes": [{"name": "data", "emptyDir": {"sizeLimit": "1Gi"}}, {"name": "cfg", "configMap": {"name": "m"}}],
            "initContainers": [c(name="init", restartPolicy="Always", startupProbe={"tcpSocket": {"port": 80}})],
            "containers": [c(resources={"limits": {"cpu": "500m", "memory": "128Mi"}, "requests": {"cpu": 0.1}},
                             volumeMounts=[{"name": "data", "mountPath": "/data"},
                                           {"name": "cfg", "mountPath": "/cfg", "readOnly": True}],
                             ports=[{"name": "http", "containerPort": 8080, "protocol": ""}],
                             livenessProbe={"httpGet": {"port": "http"}, "successThreshold": 0},
                             lifecycle={"preStop": {"sleep": {"seconds": 5}}},
                             env=[{"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                                  {"name": "CPU", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu",
                                                                                     "divisor": "1m"}}}])],
            "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute",
                             "tolerationSeconds": 300}],
            "restartPolicy": "", "dnsPolicy": "",
            "hostname": "web", "subdomain": "svc", "serviceAccountName": "default"}
    stored = created(pod(copy.deepcopy(spec)))["spec"]
    main = stored["containers"][0]
    assert main["livenessProbe"] == spec["containers"][0]["livenessProbe"]
    assert "terminationMessagePolicy" not in main and main["env"] == spec["containers"][0]["env"]
    assert (stored["restartPolicy"], stored["dnsPolicy"], main["ports"][0]["protocol"]) == ("Always", "ClusterFirst",
                                                                                           "TCP")


UPDATE_OLD = {"containers": [c()], "tolerations": [{"key": "a", "operator": "Exists"}], "activeDeadlineSeconds": 60}
UPDATES: list[tuple[str, Callable[[Obj], None], list[str]]] = [
    ("image", lambda s: s["containers"][0].update(image="nginx:2", imagePullPolicy="Always"), []),
    ("deadline-lower", lambda s: s.update(activeDeadlineSeconds=30), []),
    ("deadline-raise", lambda s: s.update(activeDeadlineSeconds=90),
     ["spec.activeDeadlineSeconds: Invalid value: 90: must be less than or equal to previous value"]),
    ("deadline-drop", lambda s: s.pop("activeDeadlineSeconds"),
     ["spec.activeDeadlineSeconds: Invalid value: null: must not update from a positive integer to nil value"]),
    ("toleration-added", lambda s: s["tolerations"].append({"key": "b", "operator": "Exists"}), []),
    ("toleration-removed", lambda s: s.pop("tolerations"),
     ["spec.tolerations: Forbidden: existing toleration can not be modified except its tolerationSeconds"]),
    ("node-name-bound", lambda s: s.update(nodeName="node1"), []),
    ("restart-policy", lambda s: s.update(restartPolicy="Never"), [UPDATE_MSG + "spec.restartPolicy"]),
    ("env", lambda s: s["containers"][0].update(env=[{"name": "A", "value": "1"}]), [UPDATE_MSG + "spec.containers"]),
    ("container-added", lambda s: s["containers"].append(c(name="d")),
     ["spec.containers: Forbidden: pod updates may not add or remove containers"]),
]


@pytest.mark.parametrize("change,expected", [u[1:] for u in UPDATES], ids=[u[0] for u in UPDATES])
def test_pod_update_rules(problems: Problems, change: Callable[[Obj], None], expected: list[str]) -> None:
    new = pod(copy.deepcopy(UPDATE_OLD))
    change(new["spec"])
    assert problems(new, pod(copy.deepcopy(UPDATE_OLD))) == expected


def test_unchanged_spec_of_a_stored_object_is_not_judged_again(problems: Problems, created: Callable[[Obj], Obj]) -> None:
    """A status or label write of an object stored before a rule existed (here: written straight to
    the store with a bad quantity) must not fail on that rule; changing the spec must."""
    from osdn.api import registry
    from osdn.api.objects import prepare_update
    from osdn.errors import ValidationError

    old = created(pod({"containers": [c()]}))
    old["spec"]["containers"][0]["resources"] = {"limits": {"cpu": "garbage"}}
    relabeled = copy.deepcopy(old)
    relabeled["metadata"]["labels"] = {"a": "b"}
    assert prepare_update(registry.for_object(old), relabeled, old)["metadata"]["labels"] == {"a": "b"}
    changed = copy.deepcopy(relabeled)
    changed["spec"]["containers"][0]["resources"]["limits"]["memory"] = "1Gi"
    with pytest.raises(ValidationError) as e:
        prepare_update(registry.for_object(old), changed, old)
    assert [str(x) for x in e.value.causes] == [
        f'spec.containers[0].resources.limits.cpu: Invalid value: "garbage": {QTY_RE}']


CANONICAL = [("2000m", "2"), ("1.5", "1500m"), ("1024Mi", "1Gi"), ("1.5Gi", "1536Mi"), ("1000", "1k"),
             ("0.1", "100m"), ("0", "0"), ("1e3", "1e3"), ("100Ki", "100Ki"), ("1500", "1500"),
             ("1e999", "1e999"), ("1e1000", "10e999"), ("1.5e3", "1500")]


@pytest.mark.parametrize("text,shown", CANONICAL, ids=[t for t, _ in CANONICAL])
def test_quantity_canonical_form_as_kube_prints_it(text: str, shown: str) -> None:
    assert parse_quantity(text).canonical() == shown
