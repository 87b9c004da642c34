"""Protobuf bodies. Requests: the bytes kubectl 1.32 (client-go) sent for `kubectl create namespace x`,
`create configmap c --from-literal=a=b -n x`, `create service clusterip s --tcp=80:8080 -n x` and
`create deployment d --image=busybox -n x` (captured from the wire), decoded to the JSON objects
kubectl's `--dry-run=client -o json` shows; then malformed and unsupported bodies. Responses: the
encoder gives those bytes back, decode(encode(o)) == o for generated objects of every kind, list,
Status and watch frame."""

from __future__ import annotations

import base64
import functools
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from osdn.api import timestamps
from osdn.api.protobuf import (
    ENCODABLE,
    KINDS,
    REVIEW_KINDS,
    SCHEMA,
    FieldDef,
    decode_message,
    decode_object,
    encode_object,
    encode_watch_event,
)
from osdn.errors import BadRequestError, NotAcceptableError, UnsupportedMediaTypeError

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
    unknown = b"k8s\x00" + bytes.fromhex("0a100a027631120a4c696d697452616e676512001a002200")
    with pytest.raises(UnsupportedMediaTypeError, match='kind "LimitRange"'):
        decode_object(unknown)
    # a Namespace whose metadata has field 99 (unknown to osdn) with content
    raw = bytes.fromhex("0a06" "9a0603616263")
    body = b"k8s\x00" + bytes.fromhex("0a0f0a02763112094e616d657370616365") + b"\x12" + bytes([len(raw)]) + raw
    with pytest.raises(UnsupportedMediaTypeError, match="field 99 of ObjectMeta"):
        decode_object(body)


# ---- encoding (responses) ----------------------------------------------------------------------

@pytest.mark.parametrize("hexbody", [h for _, h, _ in CASES], ids=[c[0] for c in CASES])
def test_encoding_what_kubectl_sent_gives_its_bytes_back(hexbody: str) -> None:
    # Go's marshaller: field-number order, every non-pointer field written (zeros too), pointers when set
    body = bytes.fromhex(hexbody)
    assert encode_object(decode_object(body)) == body


def _strategy(fd: FieldDef, element: bool = False) -> st.SearchStrategy[Any]:
    """JSON values of a field as osdn stores them: zero values of dropped fields are absent."""
    nonzero = not fd.keep_zero and not element
    if fd.type in SCHEMA:
        sub = _message(fd.type)
        return sub.filter(bool) if nonzero else sub
    scalars: dict[str, st.SearchStrategy[Any]] = {
        "s": st.text(min_size=1 if nonzero else 0),
        "i": st.integers(-(1 << 63), (1 << 63) - 1).filter(lambda v: v != 0 or not nonzero),
        "b": st.just(True) if nonzero else st.booleans(),
        "y": st.binary(min_size=1 if nonzero else 0).map(lambda b: base64.b64encode(b).decode()),
        "T": st.integers(1, 253402300799).map(timestamps.format_time),
        "Q": st.from_regex(r"\A[1-9][0-9]{0,6}(m|k|Ki|Mi|Gi)?\Z"),
        "I": st.one_of(st.integers(-(1 << 31), (1 << 31) - 1).filter(bool), st.text(min_size=1)),
        "J": st.dictionaries(st.text(min_size=1), st.recursive(
            st.none() | st.integers() | st.text(), lambda c: st.dictionaries(st.text(), c, max_size=2),
            max_leaves=3), min_size=1, max_size=3),
    }
    return scalars[fd.type]


@functools.cache
def _message(name: str) -> st.SearchStrategy[dict[str, Any]]:
    optional: dict[str, st.SearchStrategy[Any]] = {}
    inlined = []
    for fd in SCHEMA[name].values():
        if fd.inline:
            inlined.append(_message(fd.type))
        elif fd.map:
            optional[fd.name] = st.dictionaries(st.text(), _strategy(fd, element=True), min_size=1, max_size=3)
        elif fd.repeated:
            optional[fd.name] = st.lists(_strategy(fd, element=True), min_size=1, max_size=2)
        else:
            optional[fd.name] = _strategy(fd)
    own = st.fixed_dictionaries({}, optional=optional)
    return st.tuples(own, *inlined).map(lambda parts: {k: v for part in parts for k, v in part.items()})


@pytest.mark.parametrize(("api_version", "kind"), sorted(ENCODABLE), ids=[k for _, k in sorted(ENCODABLE)])
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_decode_of_encode_is_the_object(api_version: str, kind: str, data: st.DataObject) -> None:
    obj = {"apiVersion": api_version, "kind": kind, **data.draw(_message(ENCODABLE[(api_version, kind)]))}
    body = encode_object(obj)
    assert decode_object(body, ENCODABLE) == obj
    assert encode_object(decode_object(body, ENCODABLE)) == body


def test_list_items_carry_no_type_meta_and_status_is_v1() -> None:
    listed = {"apiVersion": "v1", "kind": "ConfigMapList", "metadata": {"resourceVersion": "7"},
              "items": [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "b"}}]}
    back = decode_object(encode_object(listed), ENCODABLE)
    assert back["items"] == [{"metadata": {"name": "c"}, "data": {"a": "b"}}]
    status = NotAcceptableError("x").to_status()
    assert decode_object(encode_object(status), ENCODABLE) == {k: v for k, v in status.items() if k != "metadata"}


def test_encoding_refuses_what_the_table_lacks_naming_it() -> None:
    with pytest.raises(NotAcceptableError, match='kind "NetNamespace"'):
        encode_object({"apiVersion": "network.openshift.io/v1", "kind": "NetNamespace"})
    with pytest.raises(NotAcceptableError, match="spec.containers\\[0\\].livenessProbe"):
        encode_object({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                       "spec": {"containers": [{"name": "a", "livenessProbe": {"periodSeconds": 5}}]}})
    with pytest.raises(NotAcceptableError, match="metadata.name: 3 is not a string"):
        encode_object({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": 3}})


def test_watch_frame_is_length_prefixed_bare_watch_event() -> None:
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "x"}}
    frame = encode_watch_event("ADDED", cm)
    assert int.from_bytes(frame[:4], "big") == len(frame) - 4
    event = decode_message(frame[4:], "WatchEvent")
    assert event["type"] == "ADDED"
    assert decode_object(base64.b64decode(event["object"]["raw"])) == cm


# what kubectl 1.32 sends for `kubectl auth can-i delete nodes` (captured with -v=8)
KUBECTL_CAN_I = bytes.fromhex("""
    6b 38 73 00 0a 32 0a 17  61 75 74 68 6f 72 69 7a  61 74 69 6f 6e 2e 6b 38  73 2e 69 6f 2f 76 31 12
    17 53 65 6c 66 53 75 62  6a 65 63 74 41 63 63 65  73 73 52 65 76 69 65 77  12 40 0a 10 0a 00 12 00
    1a 00 22 00 2a 00 32 00  38 00 42 00 12 22 0a 20  0a 07 64 65 66 61 75 6c  74 12 06 64 65 6c 65 74
    65 1a 00 22 00 2a 05 6e  6f 64 65 73 32 00 3a 00  1a 08 08 00 12 00 1a 00  20 00 1a 00 22 00""")


def test_a_review_request_as_kubectl_sends_it() -> None:
    body = decode_object(KUBECTL_CAN_I, REVIEW_KINDS)
    assert body == {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
                    "spec": {"resourceAttributes": {"namespace": "default", "verb": "delete", "resource": "nodes"}}}
    with pytest.raises(UnsupportedMediaTypeError):
        decode_object(KUBECTL_CAN_I, KINDS)  # not a stored kind
