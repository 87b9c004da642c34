"""Ingress objects as routes, the way OpenShift's ingress-to-route controller converts them. Pure.

One route per rule host and HTTP path: `spec.host` the rule's host, `spec.path` the path,
`spec.to` the backend service, `spec.port.targetPort` its port (number or name). A host listed in
`spec.tls[].hosts` becomes an edge route with `insecureEdgeTerminationPolicy: Redirect`; the
annotation `route.openshift.io/termination: reencrypt|passthrough` picks another termination
(passthrough without a path). The routes live only in the router (never stored): they are named
`<ingress>-<8 hex>` and carry the Ingress's creationTimestamp and uid, so host admission treats an
Ingress as the claim of its age (the seed: "a route or ingress object can hijack a host name of a
newer route ... if an ingress object is introduced"). TLS secrets are not read: edge routes made
from an Ingress present the router's default certificate.
"""

from __future__ import annotations

import hashlib
from typing import Any

Obj = dict[str, Any]
TERMINATION_ANNOTATION = "route.openshift.io/termination"


def _port(backend: Obj) -> int | str | None:
    port = ((backend.get("service") or {}).get("port") or {})
    return port.get("number") or port.get("name") or None


def _tls(host: str, ingress: Obj) -> Obj | None:
    hosts = {h for t in (ingress.get("spec") or {}).get("tls") or [] for h in t.get("hosts") or []}
    wanted = ((ingress.get("metadata") or {}).get("annotations") or {}).get(TERMINATION_ANNOTATION)
    if wanted in ("reencrypt", "passthrough"):
        return {"termination": wanted, "insecureEdgeTerminationPolicy": "Redirect"}
    if host in hosts:
        return {"termination": "edge", "insecureEdgeTerminationPolicy": "Redirect"}
    return None


def ingress_routes(ingress: Obj) -> list[Obj]:
    """The routes an Ingress stands for (Route objects, never stored)."""
    meta = ingress.get("metadata") or {}
    routes: list[Obj] = []
    for rule in (ingress.get("spec") or {}).get("rules") or []:
        host = rule.get("host") or ""
        for path in (rule.get("http") or {}).get("paths") or []:
            service = ((path.get("backend") or {}).get("service") or {}).get("name")
            if not host or not service:
                continue
            tls = _tls(host, ingress)
            spec: Obj = {"host": host, "to": {"kind": "Service", "name": service, "weight": 100},
                         "wildcardPolicy": "None"}
            if path.get("path") and path["path"] != "/" and not (tls and tls["termination"] == "passthrough"):
                spec["path"] = path["path"]
            port = _port(path.get("backend") or {})
            if port is not None:
                spec["port"] = {"targetPort": port}
            if tls is not None:
                spec["tls"] = tls
            digest = hashlib.sha256(f"{host}{spec.get('path', '')}{service}".encode()).hexdigest()[:8]
            routes.append({"metadata": {"name": f"{meta.get('name')}-{digest}", "namespace": meta.get("namespace"),
                                        "creationTimestamp": meta.get("creationTimestamp"), "uid": meta.get("uid"),
                                        "annotations": dict(meta.get("annotations") or {})},
                           "spec": spec})
    return routes
