"""`--dry-run=none|client|server|impact` for every writing command: one option, one writer.

Every writing command sends its writes through a `Writer`, so no command can forget the flag:
- `none`: the writes go to the server and are stored.
- `server`: each write is sent with `dryRun=All`: authorized, defaulted, validated and admitted by
  the server exactly as a real write, never stored.
- `client`: nothing that writes is sent; the result is computed locally (reads are allowed, so a
  patch is applied to the object as it is now, and a missing object is still an error); unknown
  fields are refused as the server refuses them (fieldValidation=Strict).
- `impact`: as `server`, and the objects the server would store (or delete) are collected; `finish`
  then prints the connections between existing pods that the change would open and close.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import click

from osdn.api import patch as patching
from osdn.api.fields import unknown_fields
from osdn.api.registry import KindInfo, for_object
from osdn.cli.impact import DETAILS_KEY, print_change_impact
from osdn.client import Client, kind_info
from osdn.errors import BadRequestError

Obj = dict[str, Any]
MODES = ("none", "client", "server", "impact")
SUFFIX = {"none": "", "client": " (dry run)", "server": " (server dry run)", "impact": " (server dry run)"}
HELP = ("none: store the change; server: validate and admit it on the server without storing it; "
        "client: only print what would be sent; impact: as server, and list the connections between "
        "existing pods the change would open and close. --dry-run alone means client.")

def _remember_details(cctx: click.Context, _param: click.Parameter, value: bool) -> bool:
    cctx.meta[DETAILS_KEY] = value
    return value


def dry_run_option(fn: Any) -> Any:
    """`--dry-run=MODE` (passed to the command as `dry_run`) and `--details` (impact: list every
    connection, read by `impact.wants_details`)."""
    fn = click.option("--details", is_flag=True, expose_value=False, callback=_remember_details,
                      help="With --dry-run=impact: list every connection, not only the project pairs.")(fn)
    return click.option("--dry-run", "dry_run", type=click.Choice(MODES), default="none", is_flag=False,
                        flag_value="client", show_default=True, help=HELP)(fn)


@dataclass
class Writer:
    """The only way CLI commands write: honours the dry-run mode, remembers what it changed."""

    client: Client
    mode: str = "none"
    changed: list[Obj] = field(default_factory=list)
    deleted: list[Obj] = field(default_factory=list)

    @property
    def dry(self) -> bool:
        return self.mode != "none"

    @property
    def suffix(self) -> str:
        """What kubectl appends to its report line: ` (dry run)`, ` (server dry run)`."""
        return SUFFIX[self.mode]

    def _strict(self, obj: Obj) -> Obj:
        """Client dry runs refuse unknown fields as the server does under fieldValidation=Strict."""
        unknown = unknown_fields(for_object(obj), obj) if self.client.field_validation == "Strict" else []
        if unknown:
            raise BadRequestError("strict decoding error: " + ", ".join(f'unknown field "{p}"' for p in unknown))
        return obj

    def create(self, obj: Obj, namespace: str = "") -> Obj:
        if self.mode == "client":
            result = copy.deepcopy(self._strict(obj))
            if namespace and for_object(obj).namespaced:
                result.setdefault("metadata", {})["namespace"] = namespace
        else:
            result = self.client.create(obj, namespace, dry_run=self.dry)
        self.changed.append(result)
        return result

    def update(self, obj: Obj, namespace: str = "", subresource: str = "") -> Obj:
        if self.mode == "client":
            self.client.get(for_object(obj), (obj.get("metadata") or {}).get("name", ""), namespace)
            result = copy.deepcopy(self._strict(obj))
        else:
            result = self.client.update(obj, namespace, subresource, dry_run=self.dry)
        self.changed.append(result)
        return result

    def patch(self, kind: str | KindInfo, name: str, body: Any, namespace: str = "", patch_type: str = "merge",
              subresource: str = "") -> Obj:
        if self.mode == "client":
            live = self.client.get(kind, name, namespace)
            result = self._strict(patching.json_patch(live, body) if patch_type == "json"
                                  else patching.merge_patch(live, body))
        else:
            result = self.client.patch(kind, name, body, namespace, patch_type, subresource, dry_run=self.dry)
        self.changed.append(result)
        return result

    def delete(self, kind: str | KindInfo, name: str, namespace: str = "") -> Obj:
        info = kind_info(kind)
        if self.mode == "client":
            result = self.client.get(info, name, namespace)
        else:
            result = self.client.delete(info, name, namespace, dry_run=self.dry) or {}
        self.deleted.append({"kind": info.kind, "metadata": {"name": name, "namespace": namespace}})
        return result

    def finish(self) -> None:
        """For `impact`: print what the collected changes would do to connections between pods."""
        if self.mode == "impact":
            print_change_impact(self.client, self.changed, self.deleted)
