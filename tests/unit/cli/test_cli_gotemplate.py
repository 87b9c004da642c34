"""The go-template printer's engine: Go text/template semantics for the subset kubectl users write.

Expectations are Go's (text/template exec_test.go, fmt) and the OpenShift/kubectl docs' examples.
"""

from __future__ import annotations

from typing import Any

import pytest

from osdn.cli.gofmt import sprint, sprintf
from osdn.cli.gotemplate import TemplateError, execute

PODS = {"kind": "List", "items": [
    {"metadata": {"name": "web", "labels": {"app": "web", "tier": "front"},
                  "annotations": {"openshift.io/sa.scc.uid-range": "1000/10000"}},
     "spec": {"nodeName": "node1", "containers": [{"name": "c1"}, {"name": "c2"}]},
     "status": {"phase": "Running", "podIP": "10.128.0.5",
                "conditions": [{"type": "Ready", "status": "True"}]}},
    {"metadata": {"name": "db"}, "spec": {"containers": [{"name": "c"}]}, "status": {"phase": "Pending"}},
]}
WEB = PODS["items"][0]

CASES: list[tuple[str, str, Any, str]] = [
    ("text", "hello", None, "hello"),
    ("field", "{{.metadata.name}}", WEB, "web"),
    ("dot", "{{.}}", "x", "x"),
    ("map prints as Go", "{{.metadata.labels}}", WEB, "map[app:web tier:front]"),
    ("list prints as Go", "{{.spec.containers}}", WEB, "[map[name:c1] map[name:c2]]"),
    ("missing key", "{{.metadata.nope}}", WEB, "<no value>"),
    ("range items", '{{range .items}}{{.metadata.name}}{{"\\n"}}{{end}}', PODS, "web\ndb\n"),
    ("range else", "{{range .nothing}}x{{else}}empty{{end}}", PODS, "empty"),
    ("range vars", "{{range $i, $p := .items}}{{$i}}:{{$p.metadata.name}} {{end}}", PODS, "0:web 1:db "),
    ("range one var", "{{range $p := .items}}{{$p.status.phase}} {{end}}", PODS, "Running Pending "),
    ("range map sorted", "{{range $k, $v := .metadata.labels}}{{$k}}={{$v}};{{end}}", WEB, "app=web;tier=front;"),
    ("root inside range", "{{range .items}}{{$.kind}} {{end}}", PODS, "List List "),
    ("if eq", '{{range .items}}{{if eq .status.phase "Running"}}{{.metadata.name}}{{end}}{{end}}', PODS, "web"),
    ("if else if else",
     '{{range .items}}{{if eq .status.phase "Failed"}}F{{else if eq .status.phase "Pending"}}P{{else}}R{{end}}{{end}}',
     PODS, "RP"),
    ("eq several", '{{if eq .status.phase "Pending" "Running"}}yes{{end}}', WEB, "yes"),
    ("ne and not", '{{if ne .status.phase "Running"}}a{{end}}{{if not .spec.missing}}b{{end}}', WEB, "b"),
    ("and or", "{{and .metadata.name .status.phase}} {{or .nope .metadata.name}}", WEB, "Running web"),
    ("lt gt", "{{if lt 1 2}}a{{end}}{{if gt 1.5 2}}b{{end}}{{if ge 2 2}}c{{end}}{{if le 3 2}}d{{end}}", None, "ac"),
    ("len", "{{len .items}} {{len .items | printf \"%d items\"}}", PODS, "2 2 items"),
    ("index map", '{{index .metadata.annotations "openshift.io/sa.scc.uid-range"}}', WEB, "1000/10000"),
    ("index list", "{{index .items 1 \"metadata\" \"name\"}}", PODS, "db"),
    ("index of sub-expression", '{{(index .items 0).metadata.name}}', PODS, "web"),
    ("printf", '{{printf "%s\\t%s\\n" .metadata.name .status.podIP}}', WEB, "web\t10.128.0.5\n"),
    ("printf width", '{{printf "%-6s|%4d|%.2f|%q" "ab" 7 3.14159 "x"}}', None, 'ab    |   7|3.14|"x"'),
    ("printf missing value", '{{printf "%s" .nope}}', WEB, "%!s(<nil>)"),
    ("with", "{{with .status}}{{.phase}}{{end}}{{with .nope}}x{{else}}none{{end}}", WEB, "Runningnone"),
    ("variable", "{{$n := .metadata.name}}{{$n}}-{{$n}}", WEB, "web-web"),
    ("trim markers", "a  {{- .metadata.name -}}  \n b", WEB, "awebb"),
    ("comment", "a{{/* nothing */}}b", None, "ab"),
    ("raw string", "{{`a\\n`}}", None, "a\\n"),
    ("print", '{{print 1 2 "x" 3}}', None, "1 2x3"),
    ("println", "{{println 1 2}}", None, "1 2\n"),
    ("base64decode", '{{base64decode "aGVsbG8="}}', None, "hello"),
    ("nested range", '{{range .items}}{{.metadata.name}}:{{range .spec.containers}}{{.name}},{{end}};{{end}}',
     PODS, "web:c1,c2,;db:c,;"),
    ("conditions filter", '{{range .status.conditions}}{{if eq .type "Ready"}}{{.status}}{{end}}{{end}}', WEB, "True"),
    ("docs: names and IPs",
     '{{range .items}}{{.metadata.name}}{{"\\t"}}{{.status.podIP}}{{"\\n"}}{{end}}', PODS,
     "web\t10.128.0.5\ndb\t<no value>\n"),
]

ERRORS: list[tuple[str, str, Any, str]] = [
    ("undefined function", "{{nope 1}}", None, 'function "nope" not defined'),
    ("unclosed", "{{.a", None, "unclosed action"),
    ("missing end", "{{range .a}}x", {}, "missing {{end}}"),
    ("stray end", "x{{end}}", None, "unexpected {{end}}"),
    ("undefined variable", "{{$x}}", None, "undefined variable: \\$x"),
    ("incomparable", '{{eq 1 "a"}}', None, "incompatible types for comparison"),
    ("index out of range", "{{index .items 5}}", PODS, "index out of range: 5"),
    ("argument to non-function", "{{.a 1}}", {}, "can't give argument to non-function"),
    ("range over a string", "{{range .metadata.name}}{{end}}", WEB, "range can't iterate over web"),
    ("field of a string", "{{.metadata.name.x}}", WEB, "can't evaluate field x"),
]


@pytest.mark.parametrize("template,data,expect", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_go_template_renders_as_go(template: str, data: Any, expect: str) -> None:
    assert execute(template, data) == expect


@pytest.mark.parametrize("template,data,message", [c[1:] for c in ERRORS], ids=[c[0] for c in ERRORS])
def test_go_template_errors(template: str, data: Any, message: str) -> None:
    with pytest.raises(TemplateError, match=message.replace("{", r"\{").replace("}", r"\}")):
        execute(template, data)


@pytest.mark.parametrize("value,expect", [
    (True, "true"), (3, "3"), (2.5, "2.5"), (2.0, "2"), (1e21, "1e+21"), (None, "<nil>"),
    ({"b": 1, "a": [1, "x"]}, "map[a:[1 x] b:1]"),
])
def test_values_print_as_go_fmt(value: Any, expect: str) -> None:
    assert sprint(value) == expect


@pytest.mark.parametrize("fmt,args,expect", [
    ("%s|%v|%d", ("a", [1], 5), "a|[1]|5"), ("%5s|%-5s|", ("a", "b"), "    a|b    |"),
    ("%05d|%+d|%x|%X", (42, 3, 255, 255), "00042|+3|ff|FF"), ("%.1f|%e", (2.25, 1234.5), "2.2|1.234500e+03"),
    ("%d%%", (50,), "50%"), ("%s %s", ("a",), "a %!s(MISSING)"), ("%s", ("a", "b"), "a%!(EXTRA b)"),
    ("%d", ("x",), "%!d(x)"), ("%t", (True,), "true"),
])
def test_sprintf_as_go(fmt: str, args: tuple[Any, ...], expect: str) -> None:
    assert sprintf(fmt, *args) == expect
