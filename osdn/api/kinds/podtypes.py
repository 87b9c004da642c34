"""The core/v1 pod-spec models osdn validates: containers, resources, volumes, probes, tolerations.

Pure data. `PodSpec`, `Container` and `SecurityContext` model part of their upstream types (the rest is
kept, unchecked: `osdn.api.fields._OPEN`); every other model here carries all fields of its upstream
type, so an unknown field under it is reported as kube-apiserver reports it. Volume sources osdn does
not inspect are typed as opaque objects (one per upstream source, so "exactly one source" can be counted).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, PlainValidator

from osdn.api.kinds.meta import Int32, IntOrString, KubeModel

Opaque = dict[str, Any]


def _quantity(value: Any) -> str | int | float:
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return value
    raise ValueError("must be a quantity (a string or a number)")


# kube's decoder takes a quantity as a string or a number; whether it parses is validation's business
QuantityValue = Annotated[str | int | float, PlainValidator(_quantity, json_schema_input_type=str | int | float)]
ResourceList = dict[str, QuantityValue]


class ContainerPort(KubeModel):
    name: str | None = None
    container_port: Int32 | None = None
    host_port: Int32 | None = None
    host_ip: str | None = Field(None, alias="hostIP")
    protocol: str | None = None


class KeySelector(KubeModel):
    name: str | None = None
    key: str | None = None
    optional: bool | None = None


class ObjectFieldSelector(KubeModel):
    api_version: str | None = None
    field_path: str | None = None


class ResourceFieldSelector(KubeModel):
    container_name: str | None = None
    resource: str | None = None
    divisor: QuantityValue | None = None


class EnvVarSource(KubeModel):
    field_ref: ObjectFieldSelector | None = None
    resource_field_ref: ResourceFieldSelector | None = None
    config_map_key_ref: KeySelector | None = None
    secret_key_ref: KeySelector | None = None


class EnvVar(KubeModel):
    name: str | None = None
    value: str | None = None
    value_from: EnvVarSource | None = None


class ConfigMapEnvSource(KubeModel):
    name: str | None = None
    optional: bool | None = None


class SecretEnvSource(KubeModel):
    name: str | None = None
    optional: bool | None = None


class EnvFromSource(KubeModel):
    prefix: str | None = None
    config_map_ref: ConfigMapEnvSource | None = None
    secret_ref: SecretEnvSource | None = None


class SecurityContext(KubeModel):
    privileged: bool | None = None
    run_as_user: int | None = None
    run_as_group: int | None = None
    allow_privilege_escalation: bool | None = None


class ResourceRequirements(KubeModel):
    limits: ResourceList | None = None
    requests: ResourceList | None = None
    claims: list[Opaque] | None = None


class VolumeMount(KubeModel):
    name: str | None = None
    read_only: bool | None = None
    recursive_read_only: str | None = None
    mount_path: str | None = None
    sub_path: str | None = None
    mount_propagation: str | None = None
    sub_path_expr: str | None = None


class ExecAction(KubeModel):
    command: list[str] | None = None


class HTTPGetAction(KubeModel):
    path: str | None = None
    port: IntOrString | None = None
    host: str | None = None
    scheme: str | None = None
    http_headers: list[Opaque] | None = None


class TCPSocketAction(KubeModel):
    port: IntOrString | None = None
    host: str | None = None


class GRPCAction(KubeModel):
    port: Int32 | None = None
    service: str | None = None


class SleepAction(KubeModel):
    seconds: int | None = None


class Probe(KubeModel):
    exec: ExecAction | None = None
    http_get: HTTPGetAction | None = None
    tcp_socket: TCPSocketAction | None = None
    grpc: GRPCAction | None = None
    initial_delay_seconds: Int32 | None = None
    timeout_seconds: Int32 | None = None
    period_seconds: Int32 | None = None
    success_threshold: Int32 | None = None
    failure_threshold: Int32 | None = None
    termination_grace_period_seconds: int | None = None


class LifecycleHandler(KubeModel):
    exec: ExecAction | None = None
    http_get: HTTPGetAction | None = None
    tcp_socket: TCPSocketAction | None = None
    sleep: SleepAction | None = None


class Lifecycle(KubeModel):
    post_start: LifecycleHandler | None = None
    pre_stop: LifecycleHandler | None = None
    stop_signal: str | None = None


class Container(KubeModel):
    name: str | None = None
    image: str | None = None
    command: list[str] | None = None
    args: list[str] | None = None
    ports: list[ContainerPort] | None = None
    env: list[EnvVar] | None = None
    env_from: list[EnvFromSource] | None = None
    resources: ResourceRequirements | None = None
    volume_mounts: list[VolumeMount] | None = None
    liveness_probe: Probe | None = None
    readiness_probe: Probe | None = None
    startup_probe: Probe | None = None
    lifecycle: Lifecycle | None = None
    restart_policy: str | None = None
    termination_message_policy: str | None = None
    image_pull_policy: str | None = None
    security_context: SecurityContext | None = None


class KeyToPath(KubeModel):
    key: str | None = None
    path: str | None = None
    mode: Int32 | None = None


class EmptyDirVolumeSource(KubeModel):
    medium: str | None = None
    size_limit: QuantityValue | None = None


class HostPathVolumeSource(KubeModel):
    path: str | None = None
    type: str | None = None


class SecretVolumeSource(KubeModel):
    secret_name: str | None = None
    items: list[KeyToPath] | None = None
    default_mode: Int32 | None = None
    optional: bool | None = None


class ConfigMapVolumeSource(KubeModel):
    name: str | None = None
    items: list[KeyToPath] | None = None
    default_mode: Int32 | None = None
    optional: bool | None = None


class PersistentVolumeClaimVolumeSource(KubeModel):
    claim_name: str | None = None
    read_only: bool | None = None


class NFSVolumeSource(KubeModel):
    server: str | None = None
    path: str | None = None
    read_only: bool | None = None


class Volume(KubeModel):
    """core/v1 Volume: a name and exactly one of the upstream volume sources (all listed)."""

    name: str | None = None
    empty_dir: EmptyDirVolumeSource | None = None
    host_path: HostPathVolumeSource | None = None
    secret: SecretVolumeSource | None = None
    config_map: ConfigMapVolumeSource | None = None
    persistent_volume_claim: PersistentVolumeClaimVolumeSource | None = None
    nfs: NFSVolumeSource | None = None
    git_repo: Opaque | None = None
    gce_persistent_disk: Opaque | None = None
    aws_elastic_block_store: Opaque | None = None
    iscsi: Opaque | None = None
    glusterfs: Opaque | None = None
    flocker: Opaque | None = None
    rbd: Opaque | None = None
    cinder: Opaque | None = None
    cephfs: Opaque | None = None
    quobyte: Opaque | None = None
    downward_api: Opaque | None = Field(None, alias="downwardAPI")
    fc: Opaque | None = None
    flex_volume: Opaque | None = None
    azure_file: Opaque | None = None
    vsphere_volume: Opaque | None = None
    photon_persistent_disk: Opaque | None = None
    portworx_volume: Opaque | None = None
    azure_disk: Opaque | None = None
    storageos: Opaque | None = None
    projected: Opaque | None = None
    scale_io: Opaque | None = Field(None, alias="scaleIO")
    csi: Opaque | None = None
    ephemeral: Opaque | None = None
    image: Opaque | None = None


class Toleration(KubeModel):
    key: str | None = None
    operator: str | None = None
    value: str | None = None
    effect: str | None = None
    toleration_seconds: int | None = None


class PodSpec(KubeModel):
    volumes: list[Volume] | None = None
    containers: list[Container] | None = None
    init_containers: list[Container] | None = None
    ephemeral_containers: list[Opaque] | None = None
    restart_policy: str | None = None
    termination_grace_period_seconds: int | None = None
    active_deadline_seconds: int | None = None
    dns_policy: str | None = None
    dns_config: Opaque | None = None
    node_selector: dict[str, str] | None = None
    service_account_name: str | None = None
    node_name: str | None = None
    host_network: bool | None = None
    hostname: str | None = None
    subdomain: str | None = None
    tolerations: list[Toleration] | None = None
