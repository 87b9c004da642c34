"""`osdn get` output as kubectl's, against a real server: -o formats, table options, events, pods.

Pods are created with the status the lab kubelet writes (osdn/lab/lifecycle.py: container states,
ready, restartCount, conditions, pod reason) so READY and STATUS are checked on real objects.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from osdn.cli.main import cli
from tests.conftest import ServerProc, start_server

NS = "out"
T0 = "2026-01-01T00:00:00Z"


def running(ready: bool = True, restarts: int = 0) -> dict[str, Any]:
    cs: dict[str, Any] = {"name": "c", "ready": ready, "restartCount": restarts,
                          "state": {"running": {"startedAt": T0}}}
    if restarts:
        cs["lastState"] = {"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": T0}}
    return {"phase": "Running", "containerStatuses": [cs],
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}


def waiting(reason: str) -> dict[str, Any]:
    return {"phase": "Pending", "containerStatuses": [{"name": "c", "ready": False, "restartCount": 0,
                                                       "state": {"waiting": {"reason": reason}}}]}


def terminated(phase: str, code: int, pod_reason: str = "") -> dict[str, Any]:
    state = {"terminated": {"exitCode": code, "reason": "Completed" if code == 0 else "Error", "finishedAt": T0}}
    status: dict[str, Any] = {"phase": phase, "containerStatuses": [{"name": "c", "ready": False, "restartCount": 0,
                                                                    "state": state}]}
    if pod_reason:
        status["reason"] = pod_reason
    return status


PODS: dict[str, tuple[dict[str, Any], str, str]] = {  # name: (status, READY, STATUS)
    "a-running": (running(), "1/1", "Running"),
    "b-creating": (waiting("ContainerCreating"), "0/1", "ContainerCreating"),
    "c-completed": (terminated("Succeeded", 0), "0/1", "Completed"),
    "d-error": (terminated("Failed", 2), "0/1", "Error"),
    "e-deadline": (terminated("Failed", 137, "DeadlineExceeded"), "0/1", "DeadlineExceeded"),
    "f-unschedulable": ({"phase": "Pending", "conditions": [
        {"type": "PodScheduled", "status": "False", "reason": "Unschedulable"}]}, "0/1", "Pending (Unschedulable)"),
    "g-crashloop": ({**running(restarts=3), "containerStatuses": [{
        "name": "c", "ready": False, "restartCount": 3, "state": {"waiting": {"reason": "CrashLoopBackOff"}},
        "lastState": {"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": T0}}}]}, "0/1",
        "CrashLoopBackOff"),
}
IPS = {name: f"10.128.0.{20 - i}" for i, name in enumerate(sorted(PODS))}


def pod(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "labels": {"app": name.split("-")[1], "tier": "t" + name[0]}},
            "spec": {"nodeName": "node1", "containers": [{"name": "c", "image": "busybox"}]},
            "status": {**PODS[name][0], "podIP": IPS[name]}}


def event(name: str, reason: str, last: str, count: int = 1) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Event", "metadata": {"name": name},
            "involvedObject": {"kind": "Pod", "name": "a-running", "namespace": NS},
            "type": "Warning" if reason == "Failed" else "Normal", "reason": reason, "message": f"{reason} happened",
            "source": {"component": "osdn-kubelet", "host": "node1"}, "count": count,
            "firstTimestamp": "2026-01-01T00:00:00Z", "lastTimestamp": last}


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProc]:
    s = start_server(tmp_path_factory.mktemp("output"))
    try:
        s.cli("new-project", NS, check=True)
        objs = [pod(n) for n in sorted(PODS)] + [
            event("e2", "Started", "2026-01-01T00:05:00Z"), event("e1", "Scheduled", "2026-01-01T00:01:00Z"),
            event("e3", "Failed", "2026-01-01T00:03:00Z", count=4)]
        s.cli("create", "-f", "-", "-n", NS, input=json.dumps({"kind": "List", "items": objs}), check=True)
        yield s
    finally:
        s.stop()


def get(s: ServerProc, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--config", str(s.config), "get", *args, "-n", NS], catch_exceptions=False)


def ok(s: ServerProc, *args: str) -> str:
    r = get(s, *args)
    assert r.exit_code == 0, r.output
    return r.output


NAMES = " ".join(sorted(PODS))


def test_jsonpath_on_a_list_and_on_an_object(srv: ServerProc) -> None:
    assert ok(srv, "pods", "-o", "jsonpath={.items[*].metadata.name}") == NAMES  # no newline added, as kubectl
    assert ok(srv, "pod", "a-running", "-o", "jsonpath={.status.podIP}") == IPS["a-running"]
    assert ok(srv, "pods", "-o", "jsonpath={.kind} {.apiVersion}") == "List v1"


def test_jsonpath_range_filters_and_newlines(srv: ServerProc) -> None:
    out = ok(srv, "pods", "-o", 'jsonpath={range .items[?(@.status.phase=="Failed")]}{.metadata.name}{"\\n"}{end}')
    assert out == "d-error\ne-deadline\n"
    out = ok(srv, "pods", "-o", "jsonpath={.items[?(@.metadata.labels.tier=='ta')].status.containerStatuses[0].ready}")
    assert out == "true"


def test_jsonpath_and_go_template_files(srv: ServerProc, tmp_path: Path) -> None:
    jp = tmp_path / "t.jsonpath"
    jp.write_text("{.items[0].metadata.name}")
    assert ok(srv, "pods", "-o", f"jsonpath-file={jp}") == "a-running"
    gt = tmp_path / "t.tmpl"
    gt.write_text('{{range .items}}{{if eq .status.phase "Running"}}{{.metadata.name}} {{end}}{{end}}')
    assert ok(srv, "pods", "-o", f"go-template-file={gt}") == "a-running g-crashloop "


def test_go_template_as_in_the_docs(srv: ServerProc) -> None:
    out = ok(srv, "pods", "-o", 'go-template={{range .items}}{{printf "%-16s %s\\n" .metadata.name '
                                '(index .metadata.labels "app")}}{{end}}')
    assert out.splitlines()[0] == "a-running        running"
    assert ok(srv, "pods", "-o", "go-template={{len .items}}") == str(len(PODS))


def test_custom_columns_and_no_headers(srv: ServerProc, tmp_path: Path) -> None:
    out = ok(srv, "pods", "-o", "custom-columns=NAME:.metadata.name,IP:.status.podIP,MISSING:.spec.nope")
    assert out.splitlines()[0].split() == ["NAME", "IP", "MISSING"]
    assert out.splitlines()[1].split() == ["a-running", IPS["a-running"], "<none>"]
    spec = tmp_path / "cols"
    spec.write_text("NAME            PHASE\n.metadata.name  {.status.phase}\n")
    out = ok(srv, "pods", "-o", f"custom-columns-file={spec}", "--no-headers")
    assert out.splitlines()[0].split() == ["a-running", "Running"] and len(out.splitlines()) == len(PODS)


@pytest.mark.parametrize("output,message", [
    ("bogus", 'unable to match a printer suitable for the output format "bogus", allowed formats are: '
              "custom-columns, custom-columns-file, go-template, go-template-file, json, jsonpath"),
    ("jsonpath", "jsonpath format specified but no template given"),
    ("custom-columns=NAME", "unexpected custom-columns spec: NAME, expected <header>:<json-path-expr>"),
    ("jsonpath={.items[0", "error executing template"),
    ("go-template={{nope}}", 'function "nope" not defined'),
])
def test_bad_output_formats_exit_1_and_say_why(srv: ServerProc, output: str, message: str) -> None:
    r = get(srv, "pods", "-o", output)
    assert r.exit_code == 1 and message in r.output, r.output


def test_json_list_and_name(srv: ServerProc) -> None:
    data = json.loads(ok(srv, "pods", "-o", "json"))
    assert (data["kind"], data["apiVersion"], data["metadata"]) == ("List", "v1", {"resourceVersion": ""})
    assert [p["metadata"]["name"] for p in data["items"]] == sorted(PODS)
    assert ok(srv, "pods", "-o", "name").split() == [f"pod/{n}" for n in sorted(PODS)]


def test_sort_by_label_columns_and_show_kind(srv: ServerProc) -> None:
    out = ok(srv, "pods", "--sort-by=.status.podIP", "-L", "app,tier", "--show-kind")
    header, *rows = out.splitlines()
    assert header.split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "APP", "TIER"]
    assert [r.split()[0] for r in rows] == [f"pod/{n}" for n in sorted(PODS, key=lambda n: IPS[n])]
    assert rows[0].split()[-2:] == ["crashloop", "tg"]


def test_pod_ready_and_status_as_kubectl(srv: ServerProc) -> None:
    rows = {line.split()[0]: line for line in ok(srv, "pods", "--no-headers").splitlines()}
    for name, (_, ready, status) in PODS.items():
        cells = rows[name].split("   ")
        cells = [c.strip() for c in cells if c.strip()]
        assert cells[1:3] == [ready, status], rows[name]
    assert "3 (" in rows["g-crashloop"] and " ago)" in rows["g-crashloop"]


def test_events_read_like_kubectl_oldest_first(srv: ServerProc) -> None:
    header, *rows = ok(srv, "events").splitlines()
    assert [h.strip() for h in header.split("   ") if h.strip()] == ["LAST SEEN", "TYPE", "REASON", "OBJECT",
                                                                    "MESSAGE"]
    assert [r.split()[2] for r in rows] == ["Scheduled", "Failed", "Started"]
    assert rows[1].split()[1:] == ["Warning", "Failed", "pod/a-running", "Failed", "happened"]
    wide = ok(srv, "events", "-o", "wide").splitlines()[0]
    assert all(c in wide for c in ("SUBOBJECT", "SOURCE", "FIRST SEEN", "COUNT", "NAME"))


def test_describe_ends_with_the_objects_events(srv: ServerProc) -> None:
    r = CliRunner().invoke(cli, ["--config", str(srv.config), "describe", "pod", "a-running", "-n", NS])
    assert r.exit_code == 0, r.output
    lines = r.output.rstrip().splitlines()
    start = lines.index("Events:")
    assert lines[start + 1].split() == ["Type", "Reason", "Age", "From", "Message"]
    assert lines[start + 2].split() == ["----", "------", "----", "----", "-------"]
    body = lines[start + 3:]
    assert [line.split()[1] for line in body] == ["Scheduled", "Failed", "Started"]
    assert "(x4 over" in body[1] and "osdn-kubelet" in body[1] and "node1" not in body[1]  # From: as kubectl
