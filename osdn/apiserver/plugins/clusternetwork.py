"""ClusterNetwork admission: the network plugin mode of a running cluster cannot be changed.

Switching between subnet, multitenant and networkpolicy would need every NetID, flow and pod to be
rebuilt; the master and node agents read the mode once. Spelling changes that keep the mode
(`multitenant` <-> `redhat/openshift-ovs-multitenant`) are allowed.
"""

from __future__ import annotations

from osdn.apiserver.admission import AdmissionContext
from osdn.errors import FieldError, ObjectRef, ValidationError
from osdn.model.sdnconfig import parse_mode


def mode_change_problem(old_plugin: str, new_plugin: str) -> str | None:
    """The refusal message if the mode changes, else None. Pure."""
    old, new = parse_mode(old_plugin), parse_mode(new_plugin)
    if old is None or new is None or old is new:
        return None
    return (f"changing the network plugin of a running cluster is not supported: pluginName is "
            f"{old.plugin_name!r} ({old.value}), the update asks for {new_plugin!r} ({new.value}); "
            "keep the old pluginName, or rebuild the cluster with the new mode")


class ClusterNetworkMode:
    name = "ClusterNetworkMode"

    def admit(self, ctx: AdmissionContext) -> None:
        if ctx.operation != "UPDATE" or ctx.info.kind != "ClusterNetwork" or ctx.old is None:
            return
        problem = mode_change_problem(str(ctx.old.get("pluginName") or ""), str(ctx.obj.get("pluginName") or ""))
        if problem:
            ref = ObjectRef("ClusterNetwork", ctx.obj["metadata"]["name"], group=ctx.info.group)
            raise ValidationError.of(ref, [FieldError("pluginName", problem, "FieldValueForbidden")])
