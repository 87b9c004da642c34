"""Protobuf request bodies: the bytes kubectl 1.32 (client-go) sent for `kubectl create namespace x`,
`create configmap c --from-literal=a=b -n x`, `create service clusterip s --tcp=80:8080 -n x` and
`create deployment d --image=busybox -n x` (captured from the wire), decoded to the JSON objects
kubectl's `--dry-run=client -o json` shows; then malformed and unsupported bodies."""

from __future__ import annotations

from typing import Any

import pytest

from osdn.api.protobuf import decode_object
from osdn.errors import BadRequestError, UnsupportedMediaTypeError

NAMESPACE = "6b3873000a0f0a02763112094e616d65737061636512190a110a017812001a0022002a0032003800420012001a020a001a002200"
CONFIGMAP = ("6b3873000a0f0a0276311209436f6e6669674d6170121c0a120a016312001a017822002a0032003800420012060a01611201"
             "621a002200")
SERVICE = ("6b3873000a0d0a02763112075365727669636512640a1c0a017312001a017822002a003200380042005a080a03617070120173"
           "12400a1b0a0738302d38303830120354435018502207080010903f1a00280012080a036170701201731a002209436c75737465"
           "7249503a00420052005a00600068001a020a001a002200")
DEPLOYMENT = ("6b3873000a150a07617070732f7631120a4465706c6f796d656e7412a8010a1c0a016412001a017822002a003200380042"
              "005a080a03617070120164127a0801120a0a080a036170701201641a620a1a0a0012001a0022002a003200380042005a08"
              "0a03617070120164124412260a0762757379626f78120762757379626f782a0042006a007200800100880100900100a201"
              "001a00320042004a0052005800600068008201008a01009a0100c2010022020a00280038001a0c08001000180020002800"
              "38001a002200")

CASES: list[tuple[str, str, dict[str, Any]]] = [
    ("namespace", NAMESPACE, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x"}}),
    ("configmap", CONFIGMAP, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "x"},
                              "data": {"a": "b"}}),
    ("service", SERVICE, {"apiVersion": "v1", "kind": "Service",
                          "metadata": {"name": "s", "namespace": "x", "labels": {"app": "s"}},
                          "spec": {"ports": [{"name": "80-8080", "protocol": "TCP", "port": 80, "targetPort": 8080}],
                                   "selector": {"app": "s"}, "type": "ClusterIP"}}),
    ("deployment", DEPLOYMENT, {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "d", "namespace": "x", "labels": {"app": "d"}},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "d"}},
                 "template": {"metadata": {"labels": {"app": "d"}},
                              "spec": {"containers": [{"name": "busybox", "image": "busybox"}]}}}}),
]


@pytest.mark.parametrize(("hexbody", "expected"), [(h, e) for _, h, e in CASES], ids=[c[0] for c in CASES])
def test_kubectl_bodies_decode(hexbody: str, expected: dict[str, Any]) -> None:
    assert decode_object(bytes.fromhex(hexbody)) == expected


def test_zero_replicas_is_kept() -> None:
    # Deployment d with spec.replicas = 0 (a pointer field: 0 is meaningful)
    raw = bytes.fromhex("0a030a0164" "12020800")
    envelope = b"k8s\x00" + bytes.fromhex("0a150a07617070732f7631120a4465706c6f796d656e74") + b"\x12" + \
        bytes([len(raw)]) + raw
    assert decode_object(envelope)["spec"] == {"replicas": 0}


def test_bad_magic_truncation_and_unknown_kind_or_field() -> None:
    with pytest.raises(BadRequestError, match="magic"):
        decode_object(b"{}")
    with pytest.raises(BadRequestError, match="past the end"):
        decode_object(bytes.fromhex(NAMESPACE)[:-10])
    secret = b"k8s\x00" + bytes.fromhex("0a0c0a027631120653656372657412001a002200")
    with pytest.raises(UnsupportedMediaTypeError, match='kind "Secret"'):
        decode_object(secret)
    # a Namespace whose metadata has field 99 (unknown to osdn) with content
    raw = bytes.fromhex("0a06" "9a0603616263")
    body = b"k8s\x00" + bytes.fromhex("0a0f0a02763112094e616d657370616365") + b"\x12" + bytes([len(raw)]) + raw
    with pytest.raises(UnsupportedMediaTypeError, match="field 99 of ObjectMeta"):
        decode_object(body)
