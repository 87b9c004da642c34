"""Shared building blocks of the kind models: the lenient `KubeModel` base, `ObjectMeta`,
`LabelSelector`, and `parse_strict`, which turns an object dict into its model or kube-style
FieldErrors (wrong types, with the field path).

Pure. Models keep unknown fields (`extra="allow"` at every level) and make every field optional, so
`Model.model_validate(obj)` works on any well-formed object, partial or complete; required-ness
is the validators' business, with kube messages. The API validates with `strict=True` (no "80" for
an int, no `true` for a string); other code may use the lenient default.
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

import pydantic
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PlainValidator
from pydantic.alias_generators import to_camel

from osdn.api import labels
from osdn.errors import FieldError

Obj = dict[str, Any]
M = TypeVar("M", bound=BaseModel)


class KubeModel(BaseModel):
    """Base of every API model: camelCase aliases, unknown fields kept, snake_case also accepted."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, alias_generator=to_camel)

    def to_obj(self) -> Obj:
        """Back to the API dict: aliases, only fields that were set (so nothing is invented)."""
        return self.model_dump(by_alias=True, exclude_unset=True)


class ObjectReference(KubeModel):
    """core/v1 ObjectReference (an endpoint's targetRef, a ServiceAccount's secrets)."""

    kind: str | None = None
    namespace: str | None = None
    name: str | None = None
    uid: str | None = None
    api_version: str | None = None
    resource_version: str | None = None
    field_path: str | None = None


INT32_MIN, INT32_MAX = -2**31, 2**31 - 1


def _int32(value: int) -> int:
    if not INT32_MIN <= value <= INT32_MAX:
        raise ValueError(f"must fit in a 32-bit integer ({INT32_MIN} to {INT32_MAX})")
    return value


def _int_or_string(value: Any) -> int | str:
    if isinstance(value, int) and not isinstance(value, bool):
        return _int32(value)
    if isinstance(value, str):
        return value
    raise ValueError("must be an integer or a string")


# Upstream's int32 fields: a larger number is refused naming the field, as kube's decoder refuses it.
Int32 = Annotated[int, AfterValidator(_int32)]
# Upstream's intstr.IntOrString: an int32 or a string.
IntOrString = Annotated[int | str, PlainValidator(_int_or_string, json_schema_input_type=int | str)]


class OwnerReference(KubeModel):
    api_version: str | None = None
    kind: str | None = None
    name: str | None = None
    uid: str | None = None
    controller: bool | None = None


class ObjectMeta(KubeModel):
    name: str | None = None
    generate_name: str | None = None
    namespace: str | None = None
    uid: str | None = None
    resource_version: str | None = None
    generation: int | None = None
    creation_timestamp: str | None = None
    deletion_timestamp: str | None = None
    labels: dict[str, str] | None = None
    annotations: dict[str, str] | None = None
    owner_references: list[OwnerReference] | None = None
    finalizers: list[str] | None = None


class LabelSelectorRequirement(KubeModel):
    key: str | None = None
    operator: str | None = None
    values: list[str] | None = None


class LabelSelector(KubeModel):
    match_labels: dict[str, str] | None = None
    match_expressions: list[LabelSelectorRequirement] | None = None


class TypedObject(KubeModel):
    """Fields every top-level object has."""

    api_version: str | None = None
    kind: str | None = None
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)


# ---- strict parsing with kube-style errors

_TYPE_WORDS = {
    "string_type": "must be a string", "int_type": "must be an integer", "bool_type": "must be a boolean",
    "float_type": "must be a number", "list_type": "must be a list", "dict_type": "must be an object",
    "model_type": "must be an object", "model_attributes_type": "must be an object",
}


def loc_path(loc: tuple[int | str, ...], prefix: str = "") -> str:
    """('spec', 'egress', 3, 'to') -> 'spec.egress[3].to'."""
    out = prefix
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _type_message(err: Any) -> str:
    words = _TYPE_WORDS.get(err["type"], err["msg"].removeprefix("Value error, "))
    got = err.get("input")
    shown = repr(got) if not isinstance(got, (dict, list)) else type(got).__name__
    hint = " (quote it in YAML)" if err["type"] == "string_type" and isinstance(got, (bool, int, float)) else ""
    return f"{words}, got {shown}{hint}"


def parse_strict(model: type[M], obj: Any) -> tuple[M | None, list[FieldError]]:
    """`model` for `obj` in strict mode, or None and one FieldError per wrongly typed field."""
    try:
        return model.model_validate(obj, strict=True), []
    except pydantic.ValidationError as e:
        return None, [FieldError(loc_path(err["loc"]), _type_message(err)) for err in e.errors()]


# ---- label selectors and label maps

def validate_selector(selector: LabelSelector | None, path: str) -> list[FieldError]:
    """A LabelSelector's expressions and matchLabels, as FieldErrors."""
    if selector is None:
        return []
    from osdn.api.objects import validate_labels

    errs = validate_labels(selector.match_labels, f"{path}.matchLabels")
    for problem in labels.validate_label_selector(selector.to_obj(), path):
        field, _, message = problem.partition(": ")
        errs.append(FieldError(field, message))
    for i, expr in enumerate(selector.match_expressions or []):
        if not expr.key:
            errs.append(FieldError(f"{path}.matchExpressions[{i}].key", "Required value", "FieldValueRequired"))
    return errs


def selector_matches(selector: LabelSelector | None, target: dict[str, str] | None) -> bool:
    if selector is None:
        return False
    return labels.from_label_selector(selector.to_obj()).matches(target or {})


def validate_label_map(value: dict[str, str] | None, path: str) -> list[FieldError]:
    from osdn.api.objects import validate_labels

    return validate_labels(value, path)


# ---- defaulting helpers (dicts, before validation: tolerate any shape)

def sub(obj: Any, key: str) -> Obj | None:
    """obj[key] if obj is a dict and obj[key] is a dict, else None."""
    if isinstance(obj, dict):
        value = obj.get(key)
        if isinstance(value, dict):
            return value
    return None


def items(obj: Any, key: str) -> list[Obj]:
    """The dict entries of list obj[key] (non-dicts skipped), else []."""
    if isinstance(obj, dict) and isinstance(obj.get(key), list):
        return [x for x in obj[key] if isinstance(x, dict)]
    return []


def set_default(obj: Obj, key: str, value: Any) -> None:
    """obj[key] = value when absent or null."""
    if obj.get(key) is None:
        obj[key] = value


def default_load_balancer_status(obj: Obj) -> None:
    """status.loadBalancer {} (kube's empty ServiceStatus/IngressStatus is written so), so typed
    clients read `status.load_balancer.ingress` as None rather than failing on a missing status."""
    status = obj.setdefault("status", {})
    if isinstance(status, dict):
        set_default(status, "loadBalancer", {})
