"""Kubernetes protobuf bodies (`application/vnd.kubernetes.protobuf`): requests decoded to JSON objects,
responses (objects, lists, Status, watch frames) encoded from them, both driven by one table.

Pure. A body is the magic `k8s\\x00` then a runtime.Unknown message (typeMeta, raw, contentEncoding,
contentType) whose `raw` is the object's message. The messages are described by `MESSAGES`, a compact
table transcribed by hand from upstream's generated.proto (k8s.io/api core/v1, apps/v1,
networking/v1; apimachinery meta/v1, runtime, intstr, resource) for the kinds kubectl's imperative
commands and client-go controllers send. Each entry is `NUMBER jsonName TYPE`: `s` string, `i` int32/
int64, `b` bool, `y` bytes (base64 in JSON), `d` double, `T` meta Time, `Q` Quantity, `I` IntOrString,
`J` raw JSON (FieldsV1, RawExtension), a message name, `{X` a map to X, `*X` a repeated X, `^Message`
an embedded struct (inlined in JSON); a Go pointer field ends in `?` (written only when set), or in `!`
when its zero value is kept in JSON (`replicas: 0`).
Go writes every non-pointer field, so zero values ("", 0, false, empty messages) are dropped, as
JSON's omitempty would. A non-empty field the table lacks, or a kind it lacks, is refused with 415
(the client can send JSON); nothing is silently lost. Encoding refuses the same with 406 (the
server then answers JSON when the client accepts it).
"""

from __future__ import annotations

import base64
import json
import struct
from dataclasses import dataclass
from typing import Any

from osdn.api import timestamps
from osdn.errors import BadRequestError, NotAcceptableError, UnsupportedMediaTypeError

MAGIC = b"k8s\x00"
MEDIA_TYPE = "application/vnd.kubernetes.protobuf"
Obj = dict[str, Any]

MESSAGES: dict[str, str] = {
    "Namespace": "1 metadata ObjectMeta; 2 spec NamespaceSpec; 3 status NamespaceStatus",
    "NamespaceSpec": "1 finalizers *s",
    "NamespaceStatus": "1 phase s; 2 conditions *NamespaceCondition",
    "NamespaceCondition": "1 type s; 2 status s; 4 lastTransitionTime T; 5 reason s; 6 message s",
    "ConfigMap": "1 metadata ObjectMeta; 4 immutable b!; 2 data {s; 3 binaryData {y",
    "Secret": "1 metadata ObjectMeta; 5 immutable b!; 2 data {y; 4 stringData {s; 3 type s",
    "ServiceAccount": "1 metadata ObjectMeta; 2 secrets *ObjectReference; 3 imagePullSecrets *LocalObjectReference; "
                      "4 automountServiceAccountToken b?",
    "Service": "1 metadata ObjectMeta; 2 spec ServiceSpec; 3 status ServiceStatus",
    "ServiceStatus": "1 loadBalancer LoadBalancerStatus; 2 conditions *Condition",
    "LoadBalancerStatus": "1 ingress *LoadBalancerIngress",
    "LoadBalancerIngress": "1 ip s; 2 hostname s; 3 ipMode s?; 4 ports *PortStatus",
    "PortStatus": "1 port i; 2 protocol s; 3 error s?",
    "ServiceSpec": "1 ports *ServicePort; 2 selector {s; 3 clusterIP s; 18 clusterIPs *s; 4 type s; 5 externalIPs *s; 7 sessionAffinity s; 8 loadBalancerIP s; 9 loadBalancerSourceRanges *s; 10 externalName s; 11 externalTrafficPolicy s; 12 healthCheckNodePort i; 13 publishNotReadyAddresses b; 19 ipFamilies *s; 17 ipFamilyPolicy s?; 20 allocateLoadBalancerNodePorts b?; 21 loadBalancerClass s?; 22 internalTrafficPolicy s?; 23 trafficDistribution s?",
    "ServicePort": "1 name s; 2 protocol s; 6 appProtocol s?; 3 port i; 4 targetPort I; 5 nodePort i",
    "Pod": "1 metadata ObjectMeta; 2 spec PodSpec; 3 status PodStatus",
    "PodStatus": "17 observedGeneration i; 1 phase s; 2 conditions *PodCondition; 3 message s; 4 reason s; 11 nominatedNodeName s; 5 hostIP s; 16 hostIPs *HostIP; 6 podIP s; 12 podIPs *PodIP; 7 startTime T?; 9 qosClass s; 8 containerStatuses *ContainerStatus; 10 initContainerStatuses *ContainerStatus",
    "ContainerStatus": "1 name s; 2 state ContainerState; 3 lastState ContainerState; 4 ready b; 5 restartCount i; 6 image s; 7 imageID s; 8 containerID s; 9 started b!",
    "ContainerState": "1 waiting ContainerStateWaiting?; 2 running ContainerStateRunning?; 3 terminated ContainerStateTerminated?",
    "ContainerStateWaiting": "1 reason s; 2 message s",
    "ContainerStateRunning": "1 startedAt T",
    "ContainerStateTerminated": "1 exitCode i; 2 signal i; 3 reason s; 4 message s; 5 startedAt T; 6 finishedAt T; 7 containerID s",
    "PodCondition": "1 type s; 7 observedGeneration i; 2 status s; 3 lastProbeTime T; 4 lastTransitionTime T; 5 reason s; 6 message s",
    "PodIP": "1 ip s",
    "HostIP": "1 ip s",
    "PodSpec": "1 volumes *Volume; 20 initContainers *Container; 2 containers *Container; 3 restartPolicy s; 4 terminationGracePeriodSeconds i!; 5 activeDeadlineSeconds i?; 6 dnsPolicy s; 7 nodeSelector {s; 8 serviceAccountName s; 9 serviceAccount s; 21 automountServiceAccountToken b!; 10 nodeName s; 11 hostNetwork b; 12 hostPID b; 13 hostIPC b; 27 shareProcessNamespace b?; 15 imagePullSecrets *LocalObjectReference; 16 hostname s; 17 subdomain s; 19 schedulerName s; 22 tolerations *Toleration; 24 priorityClassName s; 25 priority i?; 29 runtimeClassName s?; 30 enableServiceLinks b!; 31 preemptionPolicy s?; 32 overhead {Q; 35 setHostnameAsFQDN b?; 37 hostUsers b?; 40 resources ResourceRequirements?; 41 hostnameOverride s?",
    "Container": "1 name s; 2 image s; 3 command *s; 4 args *s; 5 workingDir s; 6 ports *ContainerPort; 19 envFrom *EnvFromSource; 7 env *EnvVar; 8 resources ResourceRequirements; 24 restartPolicy s?; 9 volumeMounts *VolumeMount; 13 terminationMessagePath s; 20 terminationMessagePolicy s; 14 imagePullPolicy s; 15 securityContext SecurityContext?; 16 stdin b; 17 stdinOnce b; 18 tty b",
    "SecurityContext": "1 capabilities Capabilities?; 2 privileged b!; 4 runAsUser i!; 5 runAsNonRoot b!; 6 readOnlyRootFilesystem b!; 7 allowPrivilegeEscalation b!; 8 runAsGroup i!; 9 procMount s?",
    "Capabilities": "1 add *s; 2 drop *s",
    "ContainerPort": "1 name s; 2 hostPort i; 3 containerPort i; 4 protocol s; 5 hostIP s",
    "EnvVar": "1 name s; 2 value s; 3 valueFrom EnvVarSource?",
    "EnvVarSource": "1 fieldRef ObjectFieldSelector?; 3 configMapKeyRef ConfigMapKeySelector?; 4 secretKeyRef SecretKeySelector?",
    "EnvFromSource": "1 prefix s; 2 configMapRef ConfigMapEnvSource?; 3 secretRef SecretEnvSource?",
    "ConfigMapEnvSource": "1 localObjectReference ^LocalObjectReference; 2 optional b!",
    "SecretEnvSource": "1 localObjectReference ^LocalObjectReference; 2 optional b!",
    "ConfigMapKeySelector": "1 localObjectReference ^LocalObjectReference; 2 key s; 3 optional b!",
    "SecretKeySelector": "1 localObjectReference ^LocalObjectReference; 2 key s; 3 optional b!",
    "ObjectFieldSelector": "1 apiVersion s; 2 fieldPath s",
    "ResourceRequirements": "1 limits {Q; 2 requests {Q",
    "VolumeMount": "1 name s; 2 readOnly b; 7 recursiveReadOnly s?; 3 mountPath s; 4 subPath s; 5 mountPropagation s?; 6 subPathExpr s; 8 bindMountOptions *s",
    "Volume": "1 name s; 2 volumeSource ^VolumeSource",
    "VolumeSource": "1 hostPath HostPathVolumeSource?; 2 emptyDir EmptyDirVolumeSource?; 6 secret SecretVolumeSource?; 10 persistentVolumeClaim PersistentVolumeClaimVolumeSource?; 19 configMap ConfigMapVolumeSource?",
    "ConfigMapVolumeSource": "1 localObjectReference ^LocalObjectReference; 2 items *KeyToPath; 3 defaultMode i?; 4 optional b!; 5 defaultUser i?",
    "SecretVolumeSource": "1 secretName s; 2 items *KeyToPath; 3 defaultMode i?; 4 optional b!; 5 defaultUser i?",
    "EmptyDirVolumeSource": "1 medium s; 2 sizeLimit Q?; 3 mode i?",
    "HostPathVolumeSource": "1 path s; 2 type s?",
    "PersistentVolumeClaimVolumeSource": "1 claimName s; 2 readOnly b",
    "KeyToPath": "1 key s; 2 path s; 3 mode i?; 4 user i?",
    "LocalObjectReference": "1 name s",
    "Toleration": "1 key s; 2 operator s; 3 value s; 4 effect s; 5 tolerationSeconds i?",
    "PodTemplateSpec": "1 metadata ObjectMeta; 2 spec PodSpec",
    "Deployment": "1 metadata ObjectMeta; 2 spec DeploymentSpec; 3 status DeploymentStatus",
    "DeploymentStatus": "1 observedGeneration i; 2 replicas i; 3 updatedReplicas i; 7 readyReplicas i; 4 availableReplicas i; 5 unavailableReplicas i; 9 terminatingReplicas i?; 6 conditions *DeploymentCondition; 8 collisionCount i?",
    "DeploymentCondition": "1 type s; 2 status s; 6 lastUpdateTime T; 7 lastTransitionTime T; 4 reason s; 5 message s",
    "DeploymentSpec": "1 replicas i!; 2 selector LabelSelector?; 3 template PodTemplateSpec; 4 strategy DeploymentStrategy; 5 minReadySeconds i; 6 revisionHistoryLimit i!; 7 paused b; 9 progressDeadlineSeconds i!",
    "DeploymentStrategy": "1 type s; 2 rollingUpdate RollingUpdateDeployment?",
    "RollingUpdateDeployment": "1 maxUnavailable I?; 2 maxSurge I?",
    "ReplicaSet": "1 metadata ObjectMeta; 2 spec ReplicaSetSpec; 3 status ReplicaSetStatus",
    "ReplicaSetSpec": "1 replicas i!; 4 minReadySeconds i; 2 selector LabelSelector?; 3 template PodTemplateSpec",
    "ReplicaSetStatus": "1 replicas i; 2 fullyLabeledReplicas i; 4 readyReplicas i; 5 availableReplicas i; 7 terminatingReplicas i?; 3 observedGeneration i; 6 conditions *ReplicaSetCondition",
    "ReplicaSetCondition": "1 type s; 2 status s; 3 lastTransitionTime T; 4 reason s; 5 message s",
    "ReplicationController": "1 metadata ObjectMeta; 2 spec ReplicationControllerSpec; 3 status ReplicationControllerStatus",
    "ReplicationControllerStatus": "1 replicas i; 2 fullyLabeledReplicas i; 4 readyReplicas i; 5 availableReplicas i; 3 observedGeneration i; 6 conditions *ReplicationControllerCondition",
    "ReplicationControllerCondition": "1 type s; 2 status s; 3 lastTransitionTime T; 4 reason s; 5 message s",
    "ReplicationControllerSpec": "1 replicas i!; 4 minReadySeconds i; 2 selector {s; 3 template PodTemplateSpec?",
    "ResourceQuota": "1 metadata ObjectMeta; 2 spec ResourceQuotaSpec; 3 status ResourceQuotaStatus",
    "ResourceQuotaSpec": "1 hard {Q; 2 scopes *s; 3 scopeSelector ScopeSelector?",
    "ScopeSelector": "1 matchExpressions *ScopedResourceSelectorRequirement",
    "ScopedResourceSelectorRequirement": "1 scopeName s; 2 operator s; 3 values *s",
    "ResourceQuotaStatus": "1 hard {Q; 2 used {Q",
    "NetworkPolicy": "1 metadata ObjectMeta; 2 spec NetworkPolicySpec",
    "NetworkPolicySpec": "1 podSelector LabelSelector; 2 ingress *NetworkPolicyIngressRule; 3 egress *NetworkPolicyEgressRule; 4 policyTypes *s",
    "NetworkPolicyIngressRule": "1 ports *NetworkPolicyPort; 2 from *NetworkPolicyPeer",
    "NetworkPolicyEgressRule": "1 ports *NetworkPolicyPort; 2 to *NetworkPolicyPeer",
    "NetworkPolicyPeer": "1 podSelector LabelSelector?; 2 namespaceSelector LabelSelector?; 3 ipBlock IPBlock?",
    "NetworkPolicyPort": "1 protocol s?; 2 port I?; 3 endPort i!",
    "IPBlock": "1 cidr s; 2 except *s",
    "Endpoints": "1 metadata ObjectMeta; 2 subsets *EndpointSubset",
    "EndpointSubset": "1 addresses *EndpointAddress; 2 notReadyAddresses *EndpointAddress; 3 ports *EndpointPort",
    "EndpointAddress": "1 ip s; 3 hostname s; 4 nodeName s?; 2 targetRef ObjectReference?",
    "EndpointPort": "1 name s; 2 port i; 3 protocol s; 4 appProtocol s?",
    "ObjectReference": "1 kind s; 2 namespace s; 3 name s; 4 uid s; 5 apiVersion s; 6 resourceVersion s; 7 fieldPath s",
    "ObjectMeta": "1 name s; 2 generateName s; 3 namespace s; 4 selfLink s; 5 uid s; 6 resourceVersion s; 7 generation i; 8 creationTimestamp T; 9 deletionTimestamp T?; 10 deletionGracePeriodSeconds i?; 11 labels {s; 12 annotations {s; 13 ownerReferences *OwnerReference; 14 finalizers *s; 17 managedFields *ManagedFieldsEntry",
    "OwnerReference": "5 apiVersion s; 1 kind s; 3 name s; 4 uid s; 6 controller b?; 7 blockOwnerDeletion b?",
    "ManagedFieldsEntry": "1 manager s; 2 operation s; 3 apiVersion s; 4 time T?; 6 fieldsType s; 7 fieldsV1 J?; 8 subresource s",
    "LabelSelector": "1 matchLabels {s; 2 matchExpressions *LabelSelectorRequirement",
    "LabelSelectorRequirement": "1 key s; 2 operator s; 3 values *s",
    "Status": "1 metadata ListMeta; 2 status s; 3 message s; 4 reason s; 5 details StatusDetails?; 6 code i",
    "StatusDetails": "1 name s; 2 group s; 3 kind s; 6 uid s; 4 causes *StatusCause; 5 retryAfterSeconds i",
    "StatusCause": "1 reason s; 2 message s; 3 field s",
    "Condition": "1 type s; 2 status s; 3 observedGeneration i; 4 lastTransitionTime T; 5 reason s; 6 message s",
    "WatchEvent": "1 type s; 2 object RawExtension",
    "RawExtension": "1 raw y",
    "ListMeta": "1 selfLink s; 2 resourceVersion s; 3 continue s; 4 remainingItemCount i?",
    # rbac.authorization.k8s.io/v1 (kubectl create rolebinding/clusterrole/clusterrolebinding)
    "ClusterRole": "1 metadata ObjectMeta; 2 rules *PolicyRule; 3 aggregationRule AggregationRule?",
    "Role": "1 metadata ObjectMeta; 2 rules *PolicyRule",
    "AggregationRule": "1 clusterRoleSelectors *LabelSelector",
    "PolicyRule": "1 verbs *s; 2 apiGroups *s; 3 resources *s; 4 resourceNames *s; 5 nonResourceURLs *s",
    "RoleBinding": "1 metadata ObjectMeta; 2 subjects *Subject; 3 roleRef RoleRef",
    "ClusterRoleBinding": "1 metadata ObjectMeta; 2 subjects *Subject; 3 roleRef RoleRef",
    "Subject": "1 kind s; 2 apiGroup s; 3 name s; 4 namespace s",
    "RoleRef": "1 apiGroup s; 2 kind s; 3 name s",
    # authorization/v1 and authentication/v1 reviews (read as requests; the answers go back as JSON)
    "SelfSubjectAccessReview": "1 metadata ObjectMeta; 2 spec SelfSubjectAccessReviewSpec; 3 status SubjectAccessReviewStatus",
    "SelfSubjectAccessReviewSpec": "1 resourceAttributes ResourceAttributes?; 2 nonResourceAttributes NonResourceAttributes?",
    "SubjectAccessReview": "1 metadata ObjectMeta; 2 spec SubjectAccessReviewSpec; 3 status SubjectAccessReviewStatus",
    "SubjectAccessReviewSpec": "1 resourceAttributes ResourceAttributes?; 2 nonResourceAttributes NonResourceAttributes?; 3 user s; 4 groups *s; 6 uid s",
    "SubjectAccessReviewStatus": "1 allowed b; 4 denied b; 2 reason s; 3 evaluationError s",
    "ResourceAttributes": "1 namespace s; 2 verb s; 3 group s; 4 version s; 5 resource s; 6 subresource s; 7 name s",
    "NonResourceAttributes": "1 path s; 2 verb s",
    "SelfSubjectRulesReview": "1 metadata ObjectMeta; 2 spec SelfSubjectRulesReviewSpec; 3 status SubjectRulesReviewStatus",
    "SelfSubjectRulesReviewSpec": "1 namespace s",
    "SubjectRulesReviewStatus": "1 resourceRules *ResourceRule; 2 nonResourceRules *NonResourceRule; 3 incomplete b; 4 evaluationError s",
    "ResourceRule": "1 verbs *s; 2 apiGroups *s; 3 resources *s; 4 resourceNames *s",
    "NonResourceRule": "1 verbs *s; 2 nonResourceURLs *s",
    "SelfSubjectReview": "1 metadata ObjectMeta; 2 status SelfSubjectReviewStatus",
    "SelfSubjectReviewStatus": "1 userInfo UserInfo",
    "UserInfo": "1 username s; 2 uid s; 3 groups *s",
    # authentication/v1 TokenRequest (kubectl create token; the answer goes back as JSON)
    "TokenRequest": "1 metadata ObjectMeta; 2 spec TokenRequestSpec; 3 status TokenRequestStatus",
    "TokenRequestSpec": "1 audiences *s; 4 expirationSeconds i?; 3 boundObjectRef BoundObjectReference?",
    "BoundObjectReference": "1 kind s; 2 apiVersion s; 3 name s; 4 uid s",
    "TokenRequestStatus": "1 token s; 2 expirationTimestamp T",
    "TokenReview": "1 metadata ObjectMeta; 2 spec TokenReviewSpec; 3 status TokenReviewStatus",
    "TokenReviewSpec": "1 token s; 2 audiences *s",
    "TokenReviewStatus": "1 authenticated b; 2 user UserInfo; 4 audiences *s; 3 error s",
}

# The kinds a protobuf body may carry: (apiVersion, kind) -> message.
KINDS: dict[tuple[str, str], str] = {
    ("v1", "Namespace"): "Namespace", ("v1", "ConfigMap"): "ConfigMap", ("v1", "Service"): "Service",
    ("v1", "Secret"): "Secret", ("v1", "ServiceAccount"): "ServiceAccount",
    ("v1", "Pod"): "Pod", ("v1", "ReplicationController"): "ReplicationController", ("v1", "Endpoints"): "Endpoints",
    ("apps/v1", "Deployment"): "Deployment", ("networking.k8s.io/v1", "NetworkPolicy"): "NetworkPolicy",
    ("apps/v1", "ReplicaSet"): "ReplicaSet", ("v1", "ResourceQuota"): "ResourceQuota",
    **{("rbac.authorization.k8s.io/v1", k): k for k in ("ClusterRole", "Role", "RoleBinding", "ClusterRoleBinding")},
}
# The review requests kubectl's typed clients send (not stored kinds: only the review routes read them).
REVIEW_KINDS: dict[tuple[str, str], str] = {
    **{(f"authorization.k8s.io/{v}", k): "SubjectAccessReview" if k == "LocalSubjectAccessReview" else k
       for v in ("v1",) for k in ("SelfSubjectAccessReview", "SubjectAccessReview", "LocalSubjectAccessReview",
                                  "SelfSubjectRulesReview")},
    **{(f"authentication.k8s.io/{v}", "SelfSubjectReview"): "SelfSubjectReview" for v in ("v1", "v1beta1")},
    ("authentication.k8s.io/v1", "TokenReview"): "TokenReview",
}
TOKEN_REQUEST_KINDS = {("authentication.k8s.io/v1", "TokenRequest"): "TokenRequest"}


@dataclass(frozen=True)
class FieldDef:
    name: str
    type: str
    repeated: bool = False
    map: bool = False
    inline: bool = False
    keep_zero: bool = False
    pointer: bool = False


def _parse(spec: str) -> dict[int, FieldDef]:
    fields = {}
    for part in filter(None, (p.strip() for p in spec.split(";"))):
        num, name, code = part.split()
        keep, pointer = code.endswith("!"), code[-1] in "!?"
        code = code.rstrip("!?")
        fields[int(num)] = FieldDef(name, code.lstrip("*{^"), code.startswith("*"), code.startswith("{"),
                                    code.startswith("^"), keep, pointer)
    return dict(sorted(fields.items()))   # field-number order: the order Go's marshaller writes


SCHEMA: dict[str, dict[int, FieldDef]] = {name: _parse(spec) for name, spec in MESSAGES.items()}


# ---- wire format ------------------------------------------------------------------------------
def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise BadRequestError("protobuf body: truncated or overlong varint")
        byte = data[pos]
        result |= (byte & 0x7F) << shift
        pos += 1
        if not byte & 0x80:
            return result, pos
        shift += 7


def _fields(data: bytes) -> list[tuple[int, int, Any]]:
    """(number, wire type, value) of every field; a length-delimited value is its bytes."""
    out, pos = [], 0
    while pos < len(data):
        tag, pos = _varint(data, pos)
        number, wire = tag >> 3, tag & 7
        value: Any
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 2:
            length, pos = _varint(data, pos)
            if pos + length > len(data):
                raise BadRequestError("protobuf body: a field runs past the end of its message")
            value, pos = data[pos:pos + length], pos + length
        elif wire in (1, 5):
            size = 8 if wire == 1 else 4
            value, pos = data[pos:pos + size], pos + size
        else:
            raise BadRequestError(f"protobuf body: unsupported wire type {wire} (field {number})")
        out.append((number, wire, value))
    return out


# ---- decoding ---------------------------------------------------------------------------------
def _signed(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def _scalar(kind: str, wire: int, value: Any, where: str) -> Any:
    if kind in ("s", "y", "J", "T", "Q", "I") and wire != 2 or kind in ("i", "b") and wire != 0:
        raise BadRequestError(f"protobuf body: {where} has wire type {wire}")
    if kind == "s":
        return bytes(value).decode("utf-8", errors="strict")
    if kind == "i":
        return _signed(value)
    if kind == "b":
        return bool(value)
    if kind == "y":
        return base64.b64encode(value).decode()
    if kind == "d":
        return struct.unpack("<d", value)[0]
    if kind == "J":
        raw = dict((n, v) for n, _, v in _fields(value)).get(1, b"")
        return json.loads(raw) if raw else None
    if kind == "T":
        parts = {n: v for n, _, v in _fields(value)}
        seconds = _signed(parts.get(1, 0))
        return timestamps.format_time(seconds) if seconds else None
    if kind == "Q":
        return bytes({n: v for n, _, v in _fields(value)}.get(1, b"")).decode() or None
    return _int_or_string(value)


def _int_or_string(data: bytes) -> Any:
    parts = {n: v for n, _, v in _fields(data)}
    if parts.get(1, 0) == 1:
        return bytes(parts.get(3, b"")).decode()
    return _signed(parts.get(2, 0))


def _empty(value: Any, keep_zero: bool) -> bool:
    if value is None or value == "" or value == {} or value == []:
        return True
    return not keep_zero and (value is False or (value == 0 and not isinstance(value, bool)))


def decode_message(data: bytes, message: str) -> Obj:
    """The JSON form of `data`, a `message` of the table."""
    schema = SCHEMA[message]
    out: Obj = {}
    for number, wire, value in _fields(data):
        fd = schema.get(number)
        if fd is None:
            if wire == 2 and not value or wire == 0 and not value:
                continue   # a zero value of a field osdn does not know: nothing is lost
            raise UnsupportedMediaTypeError(f"protobuf body: field {number} of {message} is not supported by osdn "
                                            f"over protobuf; send the object as JSON")
        item = _value(fd, wire, value, f"{message}.{fd.name}")
        if fd.inline:
            out.update(item)
        elif fd.map:
            out.setdefault(fd.name, {}).update(item)
        elif fd.repeated:
            out.setdefault(fd.name, []).append(item)
        else:
            out[fd.name] = item
    return {k: v for k, v in out.items() if not _empty(v, _keeps_zero(schema, k))}


def _keeps_zero(schema: dict[int, FieldDef], name: str) -> bool:
    return any(fd.keep_zero for fd in schema.values() if fd.name == name)


def _value(fd: FieldDef, wire: int, value: Any, where: str) -> Any:
    if fd.map:
        entry = {n: (w, v) for n, w, v in _fields(value)}
        key = bytes(entry.get(1, (2, b""))[1]).decode()
        w, v = entry.get(2, (2, b""))
        return {key: _typed(fd.type, w, v, where)}
    return _typed(fd.type, wire, value, where)


def _typed(kind: str, wire: int, value: Any, where: str) -> Any:
    if kind in SCHEMA:
        if wire != 2:
            raise BadRequestError(f"protobuf body: {where} has wire type {wire}")
        return decode_message(value, kind)
    return _scalar(kind, wire, value, where)


def decode_object(body: bytes, kinds: dict[tuple[str, str], str] = KINDS) -> Obj:
    """A request body: the object inside the `k8s\\x00` + runtime.Unknown envelope, as JSON; `kinds`
    are those accepted (`ENCODABLE` reads what `encode_object` writes: also lists and Status)."""
    if not body.startswith(MAGIC):
        raise BadRequestError('protobuf body: it does not start with the magic "k8s\\x00"')
    unknown = {n: v for n, _, v in _fields(body[len(MAGIC):])}
    type_meta = {n: bytes(v).decode() for n, _, v in _fields(unknown.get(1, b""))}
    api_version, kind = type_meta.get(1, ""), type_meta.get(2, "")   # runtime.TypeMeta
    if unknown.get(3):
        raise UnsupportedMediaTypeError(f"protobuf body: content encoding {bytes(unknown[3]).decode()!r} "
                                        "is not supported")
    message = kinds.get((api_version, kind))
    if message is None:
        raise UnsupportedMediaTypeError(f'protobuf body: kind "{kind}" of "{api_version}" is not supported '
                                        "over protobuf by osdn; send it as JSON")
    return {"apiVersion": api_version, "kind": kind, **decode_message(bytes(unknown.get(2, b"")), message)}


# ---- encoding ---------------------------------------------------------------------------------
# Go's generated marshaller writes every non-pointer field, zero or not, and a pointer field only when
# it is set; fields go out in field-number order and map entries sorted by key. The encoder does the
# same, so encode(decode(b)) == b for what client-go sends, and decode(encode(o)) == o for an object
# in its JSON form (whose zero values of non-pointer fields are absent, as omitempty writes them).
_LISTS = {(v, k + "List"): m + "List" for (v, k), m in KINDS.items()}
ENCODABLE: dict[tuple[str, str], str] = {**KINDS, **_LISTS, ("v1", "Status"): "Status"}
SCHEMA.update({m: _parse(f"1 metadata ListMeta; 2 items *{m[:-4]}") for m in _LISTS.values()})
_TOP_LEVEL = set(ENCODABLE.values())


def _refuse(where: str, why: str) -> NotAcceptableError:
    return NotAcceptableError(f"{where}: {why}; osdn cannot answer it as {MEDIA_TYPE}, ask for application/json")


def _put_varint(out: bytearray, value: int) -> None:
    value &= (1 << 64) - 1
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)


def _put_bytes(out: bytearray, number: int, data: bytes) -> None:
    _put_varint(out, number << 3 | 2)
    _put_varint(out, len(data))
    out += data


def _int(value: Any, where: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not -(1 << 63) <= value < 1 << 63:
        raise _refuse(where, f"{value!r} is not a 64-bit integer")
    return value


def _str(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise _refuse(where, f"{value!r} is not a string")
    return value


def _encode_time(value: Any, where: str) -> bytes:
    if value is None:
        return b""                       # Go's zero Time has no fields
    seconds = timestamps.parse(value)
    if seconds is None:
        raise _refuse(where, f"{value!r} is not an RFC 3339 time")
    whole = int(seconds // 1)
    out = bytearray(b"\x08")
    _put_varint(out, whole)
    out.append(0x10)
    _put_varint(out, round((seconds - whole) * 1e9))
    return bytes(out)


def _encode_int_or_string(value: Any, where: str) -> bytes:
    out = bytearray()
    if isinstance(value, str):
        out += b"\x08\x01\x10\x00"
        _put_bytes(out, 3, value.encode())
        return bytes(out)
    out += b"\x08\x00\x10"
    _put_varint(out, _int(value if value is not None else 0, where))
    return bytes(out + b"\x1a\x00")


def _encode_scalar(out: bytearray, number: int, kind: str, value: Any, where: str) -> None:
    """One field of a scalar or special type; `value` None is its zero value."""
    if kind in ("i", "b"):
        if kind == "b" and not isinstance(value if value is not None else False, bool):
            raise _refuse(where, f"{value!r} is not a boolean")
        _put_varint(out, number << 3)
        _put_varint(out, int(bool(value)) if kind == "b" else _int(value or 0, where))
    elif kind == "d":
        if not isinstance(value if value is not None else 0.0, (int, float)) or isinstance(value, bool):
            raise _refuse(where, f"{value!r} is not a number")
        _put_varint(out, number << 3 | 1)
        out += struct.pack("<d", float(value or 0.0))
    else:
        _put_bytes(out, number, _scalar_bytes(kind, value, where))


def _scalar_bytes(kind: str, value: Any, where: str) -> bytes:
    if kind == "s":
        return _str(value or "", where).encode()
    if kind == "y":
        try:
            return base64.b64decode(_str(value or "", where), validate=True)
        except ValueError:
            raise _refuse(where, "is not base64") from None
    if kind == "J":
        raw = b"" if value is None else json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
        return b"\x0a" + _len_prefixed(raw) if raw else b""
    if kind == "T":
        return _encode_time(value, where)
    if kind == "Q":   # kube's decoder takes a number (`cpu: 1`) and writes it back as a string
        number = isinstance(value, int | float) and not isinstance(value, bool)
        return b"\x0a" + _len_prefixed((str(value) if number else _str(value or "0", where)).encode())
    return _encode_int_or_string(value, where)


def _len_prefixed(data: bytes) -> bytes:
    out = bytearray()
    _put_varint(out, len(data))
    return bytes(out + data)


def _encode_one(out: bytearray, number: int, kind: str, value: Any, where: str) -> None:
    if kind in SCHEMA:
        if value is not None and not isinstance(value, dict):
            raise _refuse(where, f"{value!r} is not an object")
        _put_bytes(out, number, encode_message(value or {}, kind, where))
    else:
        _encode_scalar(out, number, kind, value, where)


def _encode_field(out: bytearray, number: int, fd: FieldDef, obj: Obj, where: str) -> None:
    value = obj.get(fd.name)
    if fd.inline:
        _put_bytes(out, number, encode_message(obj, fd.type, where, strict=False))
    elif fd.map:
        entries = value if value is not None else {}
        if not isinstance(entries, dict):
            raise _refuse(where, f"{value!r} is not a map")
        for key in sorted(entries):
            entry = bytearray()
            _put_bytes(entry, 1, _str(key, where).encode())
            _encode_one(entry, 2, fd.type, entries[key], f"{where}[{key}]")
            _put_bytes(out, number, bytes(entry))
    elif fd.repeated:
        if not isinstance(value if value is not None else [], list):
            raise _refuse(where, f"{value!r} is not a list")
        for i, item in enumerate(value or []):
            _encode_one(out, number, fd.type, item, f"{where}[{i}]")
    elif value is not None or not fd.pointer:
        _encode_one(out, number, fd.type, value, where)


def _names(message: str) -> set[str]:
    """The JSON names a message reads, with those of its inlined structs."""
    out = set()
    for fd in SCHEMA[message].values():
        out |= _names(fd.type) if fd.inline else {fd.name}
    return out


def encode_message(obj: Obj, message: str, where: str = "", strict: bool = True) -> bytes:
    """`obj` (JSON form) as a `message` of the table; a field the table lacks is a 406 naming it."""
    if strict:
        skip = {"apiVersion", "kind"} if message in _TOP_LEVEL else set()
        unknown = sorted(set(obj) - _names(message) - skip)
        if unknown:
            raise _refuse(f"{where}.{unknown[0]}".lstrip("."), f"field {unknown[0]!r} of {message} is not in "
                          "osdn's protobuf table")
    out = bytearray()
    for number, fd in SCHEMA[message].items():
        _encode_field(out, number, fd, obj, f"{where}.{fd.name}".lstrip("."))
    return bytes(out)


def encode_object(obj: Obj) -> bytes:
    """A response body: `k8s\\x00` + runtime.Unknown{typeMeta, raw, contentEncoding "", contentType ""}."""
    api_version, kind = obj.get("apiVersion", ""), obj.get("kind", "")
    message = ENCODABLE.get((api_version, kind))
    if message is None:
        raise _refuse(f'kind "{kind}" of "{api_version}"', "not in osdn's protobuf table")
    type_meta = bytearray()
    _put_bytes(type_meta, 1, str(api_version).encode())
    _put_bytes(type_meta, 2, str(kind).encode())
    unknown = bytearray()
    _put_bytes(unknown, 1, bytes(type_meta))
    _put_bytes(unknown, 2, encode_message(obj, message))
    return MAGIC + bytes(unknown) + b"\x1a\x00\x22\x00"


def encode_watch_event(event_type: str, obj: Obj) -> bytes:
    """One frame of a protobuf watch stream, as kube-apiserver writes it: a 4-byte big-endian length,
    then a bare meta/v1 WatchEvent{type, object: RawExtension{raw: the object's envelope}} (the stream
    serializer adds no envelope of its own)."""
    raw = base64.b64encode(encode_object(obj)).decode()
    event = encode_message({"type": event_type, "object": {"raw": raw}}, "WatchEvent")
    return struct.pack(">I", len(event)) + event
