"""What of a pod spec reaches past the pod's own sandbox, and which security context constraint allows it.

Pure. As OpenShift's SecurityContextConstraints (SCC): every user may use `restricted`; the others
must be granted (RBAC verb `use` on `securitycontextconstraints` NAME in `security.openshift.io`,
what `oc adm policy add-scc-to-user NAME` binds). osdn knows four, with upstream's names and rules
for what osdn's nodes honour:

| SCC | host network, host ports | host PID/IPC, hostPath volumes | privileged containers, added capabilities |
|---|---|---|---|
| restricted | no | no | no (only NET_BIND_SERVICE may be added) |
| hostnetwork | yes | no | no (as restricted) |
| hostaccess | yes | yes | no (as restricted) |
| privileged | yes | yes | yes |

`host_access(spec, path)` lists each field that needs more than `restricted`, as `Need`s naming
the field, the value and the least SCC that allows it, with OpenShift's messages; `refusals(needs,
usable)` keeps those no usable SCC allows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

Obj = dict[str, Any]
GROUP = "security.openshift.io"
RESOURCE = "securitycontextconstraints"
RESTRICTED, HOSTNETWORK, HOSTACCESS, PRIVILEGED = "restricted", "hostnetwork", "hostaccess", "privileged"
# Each SCC allows what the ones before it allow.
LADDER = (RESTRICTED, HOSTNETWORK, HOSTACCESS, PRIVILEGED)
GRANTABLE = LADDER[1:]
DEFAULT_ADDABLE_CAPABILITIES = frozenset({"NET_BIND_SERVICE"})


@dataclass(frozen=True)
class Need:
    """One field of a pod spec that `restricted` refuses: the least SCC that allows it, and why not."""

    field: str
    value: Any
    scc: str
    message: str

    def __str__(self) -> str:
        shown = f'"{self.value}"' if isinstance(self.value, str) else str(self.value).lower() \
            if isinstance(self.value, bool) else str(self.value)
        return f"{self.field}: Invalid value: {shown}: {self.message}"


def _list(obj: Obj, key: str) -> list[Any]:
    value = obj.get(key)
    return value if isinstance(value, list) else []


def _dict(obj: Obj, key: str) -> Obj:
    value = obj.get(key)
    return value if isinstance(value, dict) else {}


def _containers(spec: Obj, path: str) -> list[tuple[str, Obj]]:
    return [(f"{path}.{key}[{i}]", c) for key in ("initContainers", "containers", "ephemeralContainers")
            for i, c in enumerate(_list(spec, key)) if isinstance(c, dict)]


def _container_needs(where: str, container: Obj) -> list[Need]:
    needs = []
    sc = _dict(container, "securityContext")
    if sc.get("privileged") is True:
        needs.append(Need(f"{where}.securityContext.privileged", True, PRIVILEGED,
                          "Privileged containers are not allowed"))
    added = _list(_dict(sc, "capabilities"), "add")
    needs += [Need(f"{where}.securityContext.capabilities.add", cap, PRIVILEGED, "capability may not be added")
              for cap in added if str(cap).upper().removeprefix("CAP_") not in DEFAULT_ADDABLE_CAPABILITIES]
    needs += [Need(f"{where}.ports[{i}].hostPort", p["hostPort"], HOSTNETWORK,
                   "Host ports are not allowed to be used")
              for i, p in enumerate(_list(container, "ports")) if isinstance(p, dict) and p.get("hostPort")]
    return needs


def host_access(spec: Any, path: str = "spec") -> list[Need]:
    """The fields of a pod spec (at `path`) that need more than the `restricted` SCC."""
    if not isinstance(spec, dict):
        return []
    needs = []
    for field, scc, words in (("hostNetwork", HOSTNETWORK, "Host network"), ("hostPID", HOSTACCESS, "Host PID"),
                              ("hostIPC", HOSTACCESS, "Host IPC")):
        if spec.get(field) is True:
            needs.append(Need(f"{path}.securityContext.{field}", True, scc, f"{words} is not allowed to be used"))
    needs += [Need(f"{path}.volumes[{i}]", "hostPath", HOSTACCESS, "hostPath volumes are not allowed to be used")
              for i, v in enumerate(_list(spec, "volumes")) if isinstance(v, dict) and v.get("hostPath") is not None]
    for where, container in _containers(spec, path):
        needs += _container_needs(where, container)
    return needs


def refusals(needs: list[Need], usable: set[str]) -> list[Need]:
    """The needs no SCC in `usable` allows (an SCC allows what it and those below it on the ladder allow)."""
    best = max((LADDER.index(s) for s in usable if s in LADDER), default=0)
    return [n for n in needs if LADDER.index(n.scc) > best]


def least_scc(needs: list[Need]) -> str:
    """The least SCC that allows all of `needs`."""
    return LADDER[max((LADDER.index(n.scc) for n in needs), default=0)]
