"""Extract upstream field descriptions for osdn's OpenAPI documents (osdn/apiserver/openapi_docs.json).

Input: the `types_swagger_doc_generated.go` files of k8s.io/api, k8s.io/apimachinery (meta/v1) and
openshift/api (`zz_generated.swagger_doc_generated.go`), saved as `<k8s|os>-<package>-v1.go` in one
directory. Output: {"<package>/v1": {"<Type>": {"": type doc, "<jsonField>": field doc}}}, kept to the
types whose names osdn's models use.

    python scripts/gen_openapi_docs.py /tmp/updocs > osdn/apiserver/openapi_docs.json
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from pydantic import BaseModel

from osdn.api.kinds import hooks_for
from osdn.api.registry import all_kinds

MAP = re.compile(r"var map_(\w+) = map\[string\]string\{\n(.*?)\n\}", re.S)
ENTRY = re.compile(r'^\s*"([^"]*)":\s*(".*"),?\s*$')


def model_names() -> set[str]:
    names: set[str] = set()
    todo = [hooks_for(k.kind).model for k in all_kinds() if hooks_for(k.kind).model is not None]
    while todo:
        model = todo.pop()
        if model.__name__ in names:
            continue
        names.add(model.__name__)
        for field in model.model_fields.values():
            todo += [t for t in _types(field.annotation) if isinstance(t, type) and issubclass(t, BaseModel)]
    return names


def _types(annotation: object) -> list[object]:
    args = getattr(annotation, "__args__", ())
    return [annotation, *[t for a in args for t in _types(a)]]


def parse(text: str) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for name, body in MAP.findall(text):
        fields = {}
        for line in body.splitlines():
            if m := ENTRY.match(line):
                fields[m.group(1)] = json.loads(m.group(2))
        out[name] = fields
    return out


def main() -> None:
    wanted = model_names() | {k.kind for k in all_kinds()} | {
        "ObjectMeta", "ListMeta", "LabelSelector", "LabelSelectorRequirement", "OwnerReference",
        "SubjectAccessReview", "SubjectAccessReviewSpec", "SubjectAccessReviewStatus", "ResourceAttributes",
        "NonResourceAttributes", "SelfSubjectAccessReview", "SelfSubjectAccessReviewSpec",
        "LocalSubjectAccessReview", "SelfSubjectRulesReview", "SelfSubjectRulesReviewSpec",
        "SubjectRulesReviewStatus", "ResourceRule", "NonResourceRule", "SelfSubjectReview",
        "SelfSubjectReviewStatus", "UserInfo"}
    docs: dict[str, dict[str, dict[str, str]]] = {}
    for path in sorted(Path(sys.argv[1]).glob("*.go")):
        package = path.stem.split("-", 1)[1].replace("-", "/")
        types = {t: f for t, f in parse(path.read_text()).items() if t in wanted}
        if types:
            docs[package] = types
    json.dump(docs, sys.stdout, indent=0, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
