"""The JSONPath engine against the table of k8s.io/client-go/util/jsonpath/jsonpath_test.go.

Go structs are written as the JSON they marshal to. Cases whose output depends on Go's random map
order are compared as sorted words, as upstream does.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from osdn.cli.jsonpath import JSONPath, JSONPathError, relaxed

TYPES = {
    "bools": [True, False, True, False],
    "integers": [1, 2, 3, 4],
    "floats": [1.0, 2.2, 3.3, 4.0],
    "strings": ["one", "two", "three", "four"],
    "interfaces": [True, "one", 1, 1.1],
    "maps": [{"name": "one", "value": 1}, {"name": "two", "value": 2.02}, {"name": "three", "value": 3.03},
             {"name": "four", "value": 4.04}],
}
STORE = {
    "Name": "jsonpath",
    "Book": [{"Category": "reference", "Author": "Nigel Rees", "Title": "Sayings of the Centurey", "Price": 8.95},
             {"Category": "fiction", "Author": "Evelyn Waugh", "Title": "Sword of Honour", "Price": 12.99},
             {"Category": "fiction", "Author": "Herman Melville", "Title": "Moby Dick", "Price": 8.99}],
    "Bicycle": [{"Color": "red", "Price": 19.95, "IsNew": True}, {"Color": "green", "Price": 20.01, "IsNew": False}],
    "Labels": {"engieer": 10, "web/html": 15, "k8s-app": 20},
    "Employees": {"jason": "manager", "dan": "clerk"},
}
POINTS = [{"id": "i1", "x": 4, "y": -5}, {"id": "i2", "x": -2, "y": -5, "z": 1}, {"id": "i3", "x": 8, "y": 3},
          {"id": "i4", "x": -6, "y": -1}, {"id": "i5", "x": 0, "y": 2, "z": 1}, {"id": "i6", "x": 1, "y": 4}]
NODES = {
    "kind": "List",
    "items": [
        {"kind": "None", "metadata": {"name": "127.0.0.1", "labels": {"kubernetes.io/hostname": "127.0.0.1"}},
         "status": {"capacity": {"cpu": "4"}, "ready": True,
                    "addresses": [{"type": "LegacyHostIP", "address": "127.0.0.1"}]}},
        {"kind": "None", "metadata": {"name": "127.0.0.2", "labels": {"kubernetes.io/hostname": "127.0.0.2"}},
         "status": {"capacity": {"cpu": "8"}, "ready": False,
                    "addresses": [{"type": "LegacyHostIP", "address": "127.0.0.2"},
                                  {"type": "another", "address": "127.0.0.3"}]}},
    ],
    "users": [{"name": "myself", "user": {}}, {"name": "e2e", "user": {"username": "admin", "password": "secret"}}],
}
PODS = {"items": [
    {"metadata": {"name": "pod1"}, "spec": {"containers": [
        {"name": "foo", "another": [{"name": "value1"}, {"name": "value2"}]},
        {"name": "bar", "another": [{"name": "value1"}, {"name": "value2"}]}]}},
    {"metadata": {"name": "pod2"}, "spec": {"containers": [
        {"name": "baz", "another": [{"name": "value1"}, {"name": "value2"}]}]}}]}
CONTAINERS = {"kind": "Pod", "spec": {"containers": [{"name": f"fake{i}"} for i in range(4)]}}
SIX = {"kind": "Pod", "spec": {"containers": [{"name": f"fake{i}"} for i in range(6)]}}
ANNOTATED = {"kind": "List", "items": [
    {"kind": "Pod", "metadata": {"name": "pod1", "annotations": {"color": "blue"}}},
    {"kind": "Pod", "metadata": {"name": "pod2"}},
    {"kind": "Pod", "metadata": {"name": "pod3", "annotations": {"color": "green"}}},
    {"kind": "Pod", "metadata": {"name": "pod4", "annotations": {"color": "blue"}}}]}
RUNNING = {"kind": "List", "items": [
    {"kind": "Pod", "metadata": {"name": f"pod{i}"}, "status": {"phase": "Running"}} for i in (1, 2, 3)
] + [{"resourceVersion": ""}]}

CASES: list[tuple[str, str, Any, str]] = [
    ("boolSlice", "{ .bools }", TYPES, "[true,false,true,false]"),
    ("boolSliceIndex", "{ .bools[0] }", TYPES, "true"),
    ("boolSliceIndexLast", "{ .bools[-1] }", TYPES, "false"),
    ("boolSubSlice", "{ .bools[0:2] }", TYPES, "true false"),
    ("boolSubSliceFirst2", "{ .bools[:2] }", TYPES, "true false"),
    ("boolSubSliceStep2", "{ .bools[:4:2] }", TYPES, "true true"),
    ("integerSlice", "{ .integers }", TYPES, "[1,2,3,4]"),
    ("integerSliceIndexReverse", "{ .integers[-2] }", TYPES, "3"),
    ("integerSubSliceStep2", "{ .integers[:4:2] }", TYPES, "1 3"),
    ("floatSlice", "{ .floats }", TYPES, "[1,2.2,3.3,4]"),
    ("floatSliceIndex", "{ .floats[0] }", TYPES, "1"),
    ("floatSubSliceFirst2", "{ .floats[0:2] }", TYPES, "1 2.2"),
    ("stringSlice", "{ .strings }", TYPES, '["one","two","three","four"]'),
    ("stringSliceIndexReverse", "{ .strings[-2] }", TYPES, "three"),
    ("stringSubSliceStep2", "{ .strings[:4:2] }", TYPES, "one three"),
    ("interfaceSlice", "{ .interfaces }", TYPES, '[true,"one",1,1.1]'),
    ("interfaceSubSliceStep2", "{ .interfaces[:4:2] }", TYPES, "true 1"),
    ("mapSliceIndex", "{ .maps[0] }", TYPES, '{"name":"one","value":1}'),
    ("mapSubSliceStepOdd", "{ .maps[::2] }", TYPES, '{"name":"one","value":1} {"name":"three","value":3.03}'),
    ("mapSubSliceStepEven", "{ .maps[1::2] }", TYPES, '{"name":"two","value":2.02} {"name":"four","value":4.04}'),
    ("plain", "hello jsonpath", None, "hello jsonpath"),
    ("recursive", "{..}", [1, 2, 3], "[1,2,3]"),
    ("filter", "{[?(@<5)]}", [2, 6, 3, 7], "2 3"),
    ("quote", '{"{"}', None, "{"),
    ("union", "{[1,3,4]}", [0, 1, 2, 3, 4], "1 3 4"),
    ("array", "{[0:2]}", ["Monday", "Tudesday"], "Monday Tudesday"),
    ("variable", "hello {.Name}", STORE, "hello jsonpath"),
    ("dict/", "{$.Labels.web/html}", STORE, "15"),
    ("dict/jason", "{$.Employees.jason}", STORE, "manager"),
    ("dict-", "{.Labels.k8s-app}", STORE, "20"),
    ("nest", "{.Bicycle[*].Color}", STORE, "red green"),
    ("allarray", "{.Book[*].Author}", STORE, "Nigel Rees Evelyn Waugh Herman Melville"),
    ("allfields", '{range .Bicycle[*]}{ "{" }{ @.* }{ "} " }{end}', STORE, "{red 19.95 true} {green 20.01 false} "),
    ("recurfields", "{..Price}", STORE, "8.95 12.99 8.99 19.95 20.01"),
    ("recurdotfields", "{...Price}", STORE, "8.95 12.99 8.99 19.95 20.01"),
    ("allstructs", '{range .Bicycle[*]}{ @ }{ " " }{end}', STORE,
     '{"Color":"red","IsNew":true,"Price":19.95} {"Color":"green","IsNew":false,"Price":20.01} '),
    ("lastarray", "{.Book[-1:]}", STORE,
     '{"Author":"Herman Melville","Category":"fiction","Price":8.99,"Title":"Moby Dick"}'),
    ("recurarray", "{..Book[2]}", STORE,
     '{"Author":"Herman Melville","Category":"fiction","Price":8.99,"Title":"Moby Dick"}'),
    ("bool", "{.Bicycle[?(@.IsNew==true)]}", STORE, '{"Color":"red","IsNew":true,"Price":19.95}'),
    ("regexp red", "{.Bicycle[?(@.Color=~'.*ed.*')]}", STORE, '{"Color":"red","IsNew":true,"Price":19.95}'),
    ("regexp green", "{.Bicycle[?(@.Color=~'^g.*en.*')]}", STORE, '{"Color":"green","IsNew":false,"Price":20.01}'),
    ("nonexistent field", "{.hello}", STORE, ""),
    ("nonexistent field 2", "before-{.hello}after", STORE, "before-after"),
    ("exists filter", "{[?(@.z)].id}", POINTS, "i2 i5"),
    ("bracket key", "{[0]['id']}", POINTS, "i1"),
    ("range item", "{range .items[*]}{.metadata.name}, {end}{.kind}", NODES, "127.0.0.1, 127.0.0.2, List"),
    ("range item with quote", '{range .items[*]}{.metadata.name}{"\\t"}{end}', NODES, "127.0.0.1\t127.0.0.2\t"),
    ("range addresss", "{.items[*].status.addresses[*].address}", NODES, "127.0.0.1 127.0.0.2 127.0.0.3"),
    ("double range", "{range .items[*]}{range .status.addresses[*]}{.address}, {end}{end}", NODES,
     "127.0.0.1, 127.0.0.2, 127.0.0.3, "),
    ("item name", "{.items[*].metadata.name}", NODES, "127.0.0.1 127.0.0.2"),
    ("union nodes capacity", "{.items[*]['metadata.name', 'status.capacity']}", NODES,
     '127.0.0.1 127.0.0.2 {"cpu":"4"} {"cpu":"8"}'),
    ("range nodes capacity", "{range .items[*]}[{.metadata.name}, {.status.capacity}] {end}", NODES,
     '[127.0.0.1, {"cpu":"4"}] [127.0.0.2, {"cpu":"8"}] '),
    ("user password", '{.users[?(@.name=="e2e")].user.password}', NODES, "secret"),
    ("hostname", "{.items[0].metadata.labels.kubernetes\\.io/hostname}", NODES, "127.0.0.1"),
    ("hostname filter", '{.items[?(@.metadata.labels.kubernetes\\.io/hostname=="127.0.0.1")].kind}', NODES, "None"),
    ("bool item", "{.items[?(@..ready==true)].metadata.name}", NODES, "127.0.0.1"),
    ("empty range", "{range .items[*]}{.metadata.name}{end}", {"items": []}, ""),
    ("nested range", '{range .items[*]}{.metadata.name}{":"}{range @.spec.containers[*]}{.name}{","}{end}{"+"}{end}',
     PODS, "pod1:foo,bar,+pod2:baz,+"),
    ("nested range in nested range",
     '{range .items[*]}{.metadata.name}{"~"}{range @.spec.containers[*]}{.name}{":"}{range @.another[*]}'
     '{.name}{","}{end}{"+"}{end}{"#"}{end}', PODS,
     "pod1~foo:value1,value2,+bar:value1,value2,+#pod2~baz:value1,value2,+#"),
    ("two nested ranges",
     '{range .items[*]}{.metadata.name}{"\\t"}{range @.spec.containers[*]}{.name}{" "}{end}{"\\t"}'
     '{range @.spec.containers[*]}{.name}{" "}{end}{"\\n"}{end}', PODS,
     "pod1\tfoo bar \tfoo bar \npod2\tbaz \tbaz \n"),
    ("filter tolerates missing", '{.items[?(@.metadata.annotations.color=="blue")].metadata.name}', ANNOTATED,
     "pod1 pod4"),
    ("containers[0]", "{.spec.containers[0].name}", CONTAINERS, "fake0"),
    ("containers[0:0]", "{.spec.containers[0:0].name}", CONTAINERS, ""),
    ("containers[0:-1]", "{.spec.containers[0:-1].name}", CONTAINERS, "fake0 fake1 fake2"),
    ("containers[-1]", "{.spec.containers[-1].name}", CONTAINERS, "fake3"),
    ("containers[-1:]", "{.spec.containers[-1:].name}", CONTAINERS, "fake3"),
    ("containers[-2:]", "{.spec.containers[-2:].name}", CONTAINERS, "fake2 fake3"),
    ("containers[-4]", "{.spec.containers[-4].name}", CONTAINERS, "fake0"),
    ("containers[-4:]", "{.spec.containers[-4:].name}", CONTAINERS, "fake0 fake1 fake2 fake3"),
    ("containers[5:5]", "{.spec.containers[5:5].name}", CONTAINERS, ""),
    ("containers[-5:-5]", "{.spec.containers[-5:-5].name}", CONTAINERS, ""),
    ("running pods", '{range .items[?(.status.phase=="Running")]}{.metadata.name}{" is Running\\n"}{end}', RUNNING,
     "pod1 is Running\npod2 is Running\npod3 is Running\n"),
    ("step [0:]", "{.spec.containers[0:].name}", SIX, "fake0 fake1 fake2 fake3 fake4 fake5"),
    ("step [0:6:]", "{.spec.containers[0:6:].name}", SIX, "fake0 fake1 fake2 fake3 fake4 fake5"),
    ("step [1:4:2]", "{.spec.containers[1:4:2].name}", SIX, "fake1 fake3"),
    ("step [1:4:4]", "{.spec.containers[1:4:4].name}", SIX, "fake1"),
    ("step [0:6:5]", "{.spec.containers[0:6:5].name}", SIX, "fake0 fake5"),
    ("step [0:6:6]", "{.spec.containers[0:6:6].name}", SIX, "fake0"),
]

ERRORS: list[tuple[str, str, Any, str]] = [
    ("superrecurfields", "{....Price}", STORE, "invalid multiple recursive descent"),
    ("regexp with bool", "{.Bicycle[?(@.IsNew=~'.*ue')]}", STORE, "regexp search only support string"),
    ("regexp with number", "{.Bicycle[?(@.Price=~'.*95')]}", STORE, "regexp search only support string"),
    ("invalid identifier", "{hello}", STORE, "unrecognized identifier hello"),
    ("invalid array", "{.Labels[0]}", STORE, "map[string]interface {} is not array or slice"),
    ("invalid filter operator", "{.Book[?(@.Price<>10)]}", STORE, "unrecognized filter operator <>"),
    ("redundant end", "{range .Labels.*}{@}{end}{end}", STORE, "not in range, nothing to end"),
    ("containers[-1:0]", "{.spec.containers[-1:0].name}", CONTAINERS, "starting index 3 is greater than ending index 0"),
    ("containers[-5]", "{.spec.containers[-5].name}", CONTAINERS, "array index out of bounds"),
    ("containers[3:1]", "{.spec.containers[3:1].name}", CONTAINERS, "starting index 3 is greater"),
    ("containers[-1:-2]", "{.spec.containers[-1:-2].name}", CONTAINERS, "starting index 3 is greater"),
    ("step 0", "{.spec.containers[0:6:0].name}", SIX, "step must be > 0"),
    ("step -1", "{.spec.containers[0:6:-1].name}", SIX, "step must be > 0"),
    ("unclosed action", "{.a", {}, "unclosed action"),
    ("unterminated array", "{.a[0}", {}, "unterminated array"),
    ("unterminated quote", '{"abc}', {}, "unterminated quoted string"),
]


@pytest.mark.parametrize("template,data,expect", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_jsonpath_renders_like_client_go(template: str, data: Any, expect: str) -> None:
    assert JSONPath(template).execute(data) == expect


@pytest.mark.parametrize("template,data,message", [c[1:] for c in ERRORS], ids=[c[0] for c in ERRORS])
def test_jsonpath_errors_like_client_go(template: str, data: Any, message: str) -> None:
    with pytest.raises(JSONPathError, match=message.replace("[", r"\[").replace("{", r"\{")):
        JSONPath(template).execute(data)


def test_missing_keys_are_errors_when_not_allowed() -> None:
    with pytest.raises(JSONPathError, match="hello is not found"):
        JSONPath("{.hello}", allow_missing_keys=False).execute(STORE)
    with pytest.raises(JSONPathError, match="annotations is not found"):
        JSONPath('{.items[?(@.metadata.annotations.color=="blue")].metadata.name}',
                 allow_missing_keys=False).execute(ANNOTATED)


def test_recursive_name_finds_every_name_in_any_order() -> None:
    assert sorted(JSONPath("{..name}").execute(NODES).split()) == sorted(
        ["127.0.0.1", "127.0.0.2", "myself", "e2e"])


def test_whole_object_and_find() -> None:
    pod = {"metadata": {"name": "a"}, "spec": {"containers": [{"name": "x"}, {"name": "y"}]}}
    assert json.loads(JSONPath("{.}").execute(pod)) == pod
    assert JSONPath("{.spec.containers[*].name}").find(pod) == ["x", "y"]


@pytest.mark.parametrize("given,expect", [
    (".metadata.name", "{.metadata.name}"), ("metadata.name", "{.metadata.name}"),
    ("{.metadata.name}", "{.metadata.name}"), ("{metadata.name}", "{.metadata.name}"),
])
def test_relaxed_expressions_as_kubectl(given: str, expect: str) -> None:
    assert relaxed(given) == expect


def test_relaxed_refuses_templates() -> None:
    with pytest.raises(JSONPathError, match="unexpected path string"):
        relaxed("{.a}{.b}")
