"""A pod's `volumes` and its containers' `volumeMounts`, checked as kube-apiserver checks them. Pure.

Upstream's ValidateVolumes / validateVolumeSource / ValidateVolumeMounts: volume names are unique DNS-1123
labels; each volume has exactly one source (the second is "may not specify more than 1 volume type");
the sources osdn models get upstream's per-source checks (emptyDir, hostPath, secret, configMap,
persistentVolumeClaim, nfs); a mount names a volume of the pod, has a unique mountPath, and relative
subPaths without '..'. Paths in messages are upstream's, quirks included (`volumeMounts.subPath`).
"""

from __future__ import annotations

import posixpath

from osdn.api import validation as v
from osdn.api.kinds.podtypes import KeyToPath, Volume, VolumeMount
from osdn.api.quantity import QuantityError, parse_quantity, quantity_text
from osdn.errors import FieldError

HOST_PATH_TYPES = ("", "BlockDevice", "CharDevice", "Directory", "DirectoryOrCreate", "File", "FileOrCreate",
                   "Socket")
PROPAGATIONS = ("Bidirectional", "HostToContainer", "None")
RECURSIVE_READ_ONLY = ("Disabled", "Enabled", "IfPossible")
FILE_MODE_MSG = "must be a number between 0 and 0777 (octal), both inclusive"


def _sources(vol: Volume) -> list[str]:
    """The JSON names of the sources `vol` sets, in upstream's order of checking."""
    data = vol.model_dump(by_alias=True, exclude_none=True)
    return [alias for alias in _SOURCE_ORDER if alias in data]


_SOURCE_ORDER = ("emptyDir", "hostPath", "gitRepo", "gcePersistentDisk", "awsElasticBlockStore", "secret", "nfs",
                 "iscsi", "glusterfs", "flocker", "persistentVolumeClaim", "rbd", "cinder", "cephfs", "quobyte",
                 "downwardAPI", "fc", "flexVolume", "configMap", "azureFile", "vsphereVolume",
                 "photonPersistentDisk", "portworxVolume", "azureDisk", "storageos", "projected", "scaleIO", "csi",
                 "ephemeral", "image")


def no_backsteps(target: str, path: str) -> list[FieldError]:
    if ".." in target.replace("\\", "/").split("/"):
        return [v.invalid(path, target, "must not contain '..'")]
    return []


def local_descending(target: str, path: str) -> list[FieldError]:
    errs = [v.invalid(path, target, "must be a relative path")] if posixpath.isabs(target) else []
    return errs + no_backsteps(target, path)


def local_non_reserved(target: str, path: str) -> list[FieldError]:
    errs = local_descending(target, path)
    if target.startswith("..") and not target.startswith("../"):
        errs.append(v.invalid(path, target, "must not start with '..'"))
    return errs


def _mode(mode: int | None, path: str) -> list[FieldError]:
    return [v.invalid(path, mode, FILE_MODE_MSG)] if mode is not None and not 0 <= mode <= 0o777 else []


def _items(items: list[KeyToPath] | None, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    for i, kp in enumerate(items or []):
        p = f"{path}.items[{i}]"
        errs += [] if kp.key else [v.required(f"{p}.key")]
        errs += [] if kp.path else [v.required(f"{p}.path")]
        errs += local_non_reserved(kp.path or "", f"{p}.path") + _mode(kp.mode, f"{p}.mode")
    return errs


def _source_errors(vol: Volume, source: str, path: str) -> list[FieldError]:
    """The checks of one source (those osdn models; the others are only counted)."""
    p = f"{path}.{source}"
    if source == "emptyDir" and vol.empty_dir and vol.empty_dir.size_limit is not None:
        try:
            negative = parse_quantity(quantity_text(vol.empty_dir.size_limit)).amount < 0
        except QuantityError:
            return [v.invalid(f"{p}.sizeLimit", vol.empty_dir.size_limit, "quantities must match the regular "
                              "expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")]
        return [v.forbidden(f"{p}.sizeLimit", "SizeLimit field must be a valid resource quantity")] if negative else []
    if source == "hostPath" and vol.host_path:
        if not vol.host_path.path:
            return [v.required(f"{p}.path")]
        errs = no_backsteps(vol.host_path.path, f"{p}.path")
        kind = vol.host_path.type
        return errs + ([v.not_supported(f"{p}.type", kind, HOST_PATH_TYPES)] if kind not in (None, *HOST_PATH_TYPES)
                       else [])
    if source == "secret" and vol.secret:
        errs = [] if vol.secret.secret_name else [v.required(f"{p}.secretName")]
        return errs + _mode(vol.secret.default_mode, f"{p}.defaultMode") + _items(vol.secret.items, p)
    if source == "configMap" and vol.config_map:
        errs = [] if vol.config_map.name else [v.required(f"{p}.name")]
        return errs + _mode(vol.config_map.default_mode, f"{p}.defaultMode") + _items(vol.config_map.items, p)
    if source == "persistentVolumeClaim" and vol.persistent_volume_claim:
        return [] if vol.persistent_volume_claim.claim_name else [v.required(f"{p}.claimName")]
    if source == "nfs" and vol.nfs:
        errs = [] if vol.nfs.server else [v.required(f"{p}.server")]
        errs += [] if vol.nfs.path else [v.required(f"{p}.path")]
        return errs + ([] if posixpath.isabs(vol.nfs.path or "") else
                       [v.invalid(f"{p}.path", vol.nfs.path or "", "must be an absolute path")])
    return []


def validate_volumes(volumes: list[Volume] | None, path: str) -> tuple[dict[str, Volume], list[FieldError]]:
    """ValidateVolumes: the valid volumes by name, and the errors."""
    by_name: dict[str, Volume] = {}
    errs: list[FieldError] = []
    for i, vol in enumerate(volumes or []):
        p = f"{path}[{i}]"
        sources = _sources(vol)
        el: list[FieldError] = [] if sources else [v.required(p, "must specify a volume type")]
        for extra in sources[1:]:
            el.append(v.forbidden(f"{p}.{extra}", "may not specify more than 1 volume type"))
        el += _source_errors(vol, sources[0], p) if sources else []
        name = vol.name or ""
        el += v.invalid_each(f"{p}.name", name, v.dns1123_label_problems(name)) if name else [v.required(f"{p}.name")]
        if name in by_name:
            el.append(v.duplicate(f"{p}.name", name))
        if el:
            errs += el
        else:
            by_name[name] = vol
    return by_name, errs


def _mount_options(m: VolumeMount, privileged: bool, path: str) -> list[FieldError]:
    """mountPropagation and recursiveReadOnly (upstream's paths: under `volumeMounts`, not the index)."""
    errs: list[FieldError] = []
    if m.mount_propagation is not None:
        if m.mount_propagation not in PROPAGATIONS:
            errs.append(v.not_supported(f"{path}.mountPropagation", m.mount_propagation, PROPAGATIONS))
        if m.mount_propagation == "Bidirectional" and not privileged:
            errs.append(v.forbidden(f"{path}.mountPropagation",
                                    "Bidirectional mount propagation is available only to privileged containers"))
    rro = m.recursive_read_only
    if rro in ("Enabled", "IfPossible"):
        if not m.read_only:
            errs.append(v.forbidden(f"{path}.recursiveReadOnly", "may only be specified when readOnly is true"))
        if m.mount_propagation not in (None, "None"):
            errs.append(v.forbidden(f"{path}.recursiveReadOnly",
                                    "may only be specified when mountPropagation is None or not specified"))
    elif rro not in (None, "Disabled"):
        errs.append(v.not_supported(f"{path}.recursiveReadOnly", rro, RECURSIVE_READ_ONLY))
    return errs


def validate_mounts(mounts: list[VolumeMount] | None, volumes: dict[str, Volume], privileged: bool,
                    path: str) -> list[FieldError]:
    """ValidateVolumeMounts for one container."""
    errs: list[FieldError] = []
    seen: set[str] = set()
    for i, m in enumerate(mounts or []):
        p = f"{path}[{i}]"
        name, mount_path = m.name or "", m.mount_path or ""
        errs += [] if name else [v.required(f"{p}.name")]
        errs += [] if name in volumes else [v.not_found(f"{p}.name", name)]
        errs += [] if mount_path else [v.required(f"{p}.mountPath")]
        errs += [v.invalid(f"{p}.mountPath", mount_path, "must be unique")] if mount_path in seen else []
        seen.add(mount_path)
        if m.sub_path:
            errs += local_descending(m.sub_path, f"{path}.subPath")
        if m.sub_path_expr:
            if m.sub_path:
                errs.append(v.invalid(f"{p}.subPathExpr", m.sub_path_expr,
                                      "subPathExpr and subPath are mutually exclusive"))
            errs += local_descending(m.sub_path_expr, f"{path}.subPathExpr")
        errs += _mount_options(m, privileged, path)
    return errs
