"""ServiceAccounts controller: every namespace has the ServiceAccounts `default` (as Kubernetes'
serviceaccounts-controller makes it) and OpenShift's `builder` and `deployer`.

Key: a namespace name. Level-triggered: a namespace is reconciled when it is added or changed and
when one of its ServiceAccounts is deleted; the accounts it misses are created (one deleted by hand
comes back, with a new uid, so tokens of the old one stay revoked). A namespace being deleted is
left alone (kube's controller skips namespaces that are not Active); a create the API server refuses
because the namespace started terminating meanwhile is not retried (any other refusal, such as a
quota, is retried with the worker's backoff). The informer's cache says what
exists; a reconcile that runs before the echo of its own create gets AlreadyExists, which is success.
"""

from __future__ import annotations

import logging
from collections.abc import Hashable, Mapping
from typing import Any

from osdn.api.kinds.serviceaccount import DEFAULT_ACCOUNTS as ACCOUNTS
from osdn.client import Client
from osdn.errors import AlreadyExistsError, ForbiddenError, NotFoundError
from osdn.master.controller import Controller, Informers

log = logging.getLogger(__name__)
Obj = dict[str, Any]


def active(namespace: Mapping[str, Any] | None) -> bool:
    """Pure: the namespace exists and is not being deleted."""
    if namespace is None:
        return False
    meta, status = namespace.get("metadata") or {}, namespace.get("status") or {}
    return not meta.get("deletionTimestamp") and status.get("phase", "Active") == "Active"


def terminating(err: ForbiddenError) -> bool:
    """Pure: the API server refused a create because the namespace is being deleted (its
    NamespaceLifecycle message), not for another reason such as a quota."""
    return "because it is being terminated" in err.message


def missing_accounts(namespace: Mapping[str, Any] | None, present: set[str]) -> list[str]:
    """Pure: the accounts to create in this namespace (none while it is not active)."""
    return [name for name in ACCOUNTS if name not in present] if active(namespace) else []


class ServiceAccountsController(Controller):
    name = "serviceaccounts"

    def __init__(self, client: Client, informers: Informers) -> None:
        super().__init__(client)
        self.namespaces = informers.on("Namespace", self._on_namespace)
        self.accounts = informers.on("ServiceAccount", self._on_account)

    def _on_namespace(self, type_: str, new: Obj | None, _old: Obj | None) -> None:
        if type_ != "DELETED" and new is not None:
            self.enqueue(new["metadata"]["name"])

    def _on_account(self, type_: str, _new: Obj | None, old: Obj | None) -> None:
        if type_ == "DELETED" and old is not None:
            self.enqueue(old["metadata"].get("namespace", ""))

    def prepare(self) -> None:
        for ns in self.namespaces.items():
            self.enqueue(ns["metadata"]["name"])

    def reconcile(self, key: Hashable) -> None:
        namespace = str(key)
        present = {n for n in ACCOUNTS if self.accounts.get(n, namespace) is not None}
        for name in missing_accounts(self.namespaces.get(namespace), present):
            self._create(namespace, name)

    def _create(self, namespace: str, name: str) -> None:
        body = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name, "namespace": namespace}}
        try:
            self.client.create(body, namespace)
            log.info("serviceaccounts: created %s/%s", namespace, name)
        except AlreadyExistsError:
            log.debug("serviceaccounts: %s/%s exists already", namespace, name)
        except NotFoundError as err:                     # the namespace is gone
            log.debug("serviceaccounts: not creating %s/%s: %s", namespace, name, err.message)
        except ForbiddenError as err:                    # terminating: done; anything else (a quota): retried
            if not terminating(err):
                raise
            log.debug("serviceaccounts: not creating %s/%s: %s", namespace, name, err.message)
