"""Which fields a `fieldSelector` may name, per kind, as kube-apiserver allows them. Pure.

Every kind: metadata.name and metadata.namespace; a few kinds add their own (upstream's
`<kind>.GetAttrs`/AddFieldLabelConversionFunc lists). Anything else is a 400
`field label not supported: FIELD`, as kube-apiserver answers.
"""

from __future__ import annotations

from osdn.api.registry import KindInfo
from osdn.errors import BadRequestError

COMMON = ("metadata.name", "metadata.namespace")
BY_KIND: dict[str, tuple[str, ...]] = {
    "Pod": ("spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName",
            "spec.hostNetwork", "status.phase", "status.podIP", "status.nominatedNodeName"),
    "Event": ("involvedObject.kind", "involvedObject.namespace", "involvedObject.name", "involvedObject.uid",
              "involvedObject.apiVersion", "involvedObject.resourceVersion", "involvedObject.fieldPath",
              "reason", "reportingComponent", "source", "type"),
    "Namespace": ("status.phase",),
    "Secret": ("type",),
    "Node": ("spec.unschedulable",),
    "ReplicationController": ("status.replicas",),
    "ReplicaSet": ("status.replicas",),
}


def check(info: KindInfo, fields: dict[str, tuple[str, bool]], selector: str) -> None:
    allowed = COMMON + BY_KIND.get(info.kind, ())
    for path in fields:
        if path not in allowed:
            raise BadRequestError(f'Unable to find "{info.api_version}, Resource={info.plural}" that match label '
                                  f'selector "", field selector "{selector}": field label not supported: {path}')
