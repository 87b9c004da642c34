"""Route/Endpoints builders shared by the router's unit tests."""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]


def route(name: str, host: str, ns: str = "p1", tls: Obj | None = None, path: str | None = None,
          annotations: dict[str, str] | None = None, created: str = "00", service: str = "web",
          **spec: Any) -> Obj:
    body: Obj = {"host": host, "to": {"kind": "Service", "name": service, "weight": 100}, **spec}
    if tls is not None:
        body["tls"] = tls
    if path is not None:
        body["path"] = path
    return {"apiVersion": "route.openshift.io/v1", "kind": "Route",
            "metadata": {"name": name, "namespace": ns, "annotations": annotations or {}, "uid": f"u-{ns}-{name}",
                         "creationTimestamp": f"2026-01-01T00:00:{created}Z", "resourceVersion": "1"},
            "spec": body}


def endpoints(name: str, ips: list[str], ports: list[Obj], ns: str = "p1") -> Obj:
    return {"metadata": {"name": name, "namespace": ns},
            "subsets": [{"addresses": [{"ip": ip} for ip in ips], "ports": ports}] if ips else []}
