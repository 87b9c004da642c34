"""`osdn edit` never loses work: errors reopen the editor with a comment, giving up keeps a copy.

The editor is a small script that plays a list of steps, one per invocation (replace text, write
text, keep the file as it is, exit with a status), and records what it was shown each time.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ServerProc, start_server

EDITOR = r'''
import json, os, sys
path, steps_file = sys.argv[1], os.environ["EDIT_STEPS"]
steps = json.load(open(steps_file))
n = len([f for f in os.listdir(os.path.dirname(steps_file)) if f.startswith("seen-")])
text = open(path).read()
open(os.path.join(os.path.dirname(steps_file), "seen-%d" % n), "w").write(text)
step = steps[n]
for old, new in step.get("replace", []):
    assert old in text, old
    text = text.replace(old, new)
    open(path, "w").write(text)
if "write" in step:
    open(path, "w").write(step["write"])
sys.exit(step.get("exit", 0))
'''


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProc]:
    s = start_server(tmp_path_factory.mktemp("edit"))
    s.cli("new-project", "p1", check=True)
    try:
        yield s
    finally:
        s.stop()


class Editing:
    def __init__(self, srv: ServerProc, tmp: Path) -> None:
        self.srv, self.tmp = srv, tmp
        (tmp / "editor.py").write_text(EDITOR)

    def run(self, steps: list[dict[str, Any]], *args: str, editor: str | None = None) -> subprocess.CompletedProcess[str]:
        (self.tmp / "steps.json").write_text(json.dumps(steps))
        env = {**os.environ, "EDIT_STEPS": str(self.tmp / "steps.json"), "TMPDIR": str(self.tmp),
               "OSDN_EDITOR": editor or f"{sys.executable} {self.tmp / 'editor.py'}"}
        return subprocess.run([sys.executable, "-m", "osdn", "--config", str(self.srv.config), "edit", *args],
                              capture_output=True, text=True, env=env, timeout=60)

    def seen(self, n: int) -> str:
        return (self.tmp / f"seen-{n}").read_text()

    def opened(self) -> int:
        return len(list(self.tmp.glob("seen-*")))


@pytest.fixture
def editing(srv: ServerProc, tmp_path: Path) -> Editing:
    return Editing(srv, tmp_path)


def configmap(srv: ServerProc, name: str) -> dict[str, Any]:
    return dict(json.loads(srv.cli("get", "configmap", name, "-n", "p1", "-o", "json", check=True).stdout))


def kept_copy(stderr: str) -> Path:
    m = re.search(r'A copy of your changes has been stored to "([^"]+)"', stderr)
    assert m, stderr
    return Path(m.group(1))


def test_invalid_yaml_reopens_with_the_error_and_keeps_the_text(srv: ServerProc, editing: Editing) -> None:
    srv.cli("create", "configmap", "e1", "--from-literal=k=v1", "-n", "p1", check=True)
    r = editing.run([{"replace": [["k: v1", "k: v2\n  broken: [unclosed"]]}, {"replace": [["[unclosed", "closed"]]}],
                    "configmap", "e1", "-n", "p1")
    assert r.returncode == 0, r.stderr
    second = editing.seen(1)
    assert second.index("# The edited file had a syntax error") < second.index("apiVersion:")
    assert "k: v2" in second, "the user's text is reopened, not the server's object"
    assert configmap(srv, "e1")["data"] == {"k": "v2", "broken": "closed"}
    assert r.stdout.strip() == "configmap/e1 edited" and "Traceback" not in r.stderr


def test_rejected_then_unchanged_keeps_a_copy_and_fails(srv: ServerProc, editing: Editing) -> None:
    srv.cli("create", "configmap", "e2", "--from-literal=k=v1", "-n", "p1", check=True)
    before = configmap(srv, "e2")
    bad = '  name: e2\n  labels: {"bad key!": x}\n'
    r = editing.run([{"replace": [["  name: e2\n", bad]]}, {}], "configmap", "e2", "-n", "p1")
    assert r.returncode == 1
    assert "Edit cancelled, no valid changes were saved." in r.stderr
    second = editing.seen(1)
    assert '# configmaps "e2" was not valid:' in second and "bad key!" in second.split("apiVersion:")[0]
    copy = kept_copy(r.stderr)
    try:
        assert bad in copy.read_text()
    finally:
        copy.unlink()
    assert configmap(srv, "e2")["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]


def test_editor_failure_keeps_the_edited_text(srv: ServerProc, editing: Editing) -> None:
    srv.cli("create", "configmap", "e3", "--from-literal=k=v1", "-n", "p1", check=True)
    r = editing.run([{"replace": [["k: v1", "k: half-done"]], "exit": 3}], "configmap", "e3", "-n", "p1")
    assert r.returncode == 1 and "problem with the editor" in r.stderr and "exit status 3" in r.stderr
    copy = kept_copy(r.stderr)
    try:
        assert "k: half-done" in copy.read_text()
    finally:
        copy.unlink()
    assert configmap(srv, "e3")["data"] == {"k": "v1"}


def test_editor_that_cannot_start_is_one_line(srv: ServerProc, editing: Editing) -> None:
    srv.cli("create", "configmap", "e4", "--from-literal=k=v1", "-n", "p1", check=True)
    r = editing.run([], "configmap", "e4", "-n", "p1", editor="/nonexistent/editor --wait")
    assert r.returncode == 1 and "Traceback" not in r.stderr
    first = r.stderr.splitlines()[0]
    assert first.startswith('error: cannot start the editor "/nonexistent/editor --wait"'), r.stderr
    kept_copy(r.stderr).unlink()


@pytest.mark.parametrize("steps,message", [([{}], "Edit cancelled, no changes made."),
                                           ([{"write": "# only comments\n\n"}], "Edit cancelled, saved file was empty.")],
                         ids=["unchanged", "emptied"])
def test_no_change_cancels_quietly(srv: ServerProc, editing: Editing, steps: list[dict[str, Any]],
                                   message: str) -> None:
    name = f"e5-{len(steps[0])}"
    srv.cli("create", "configmap", name, "--from-literal=k=v1", "-n", "p1", check=True)
    r = editing.run(steps, "configmap", name, "-n", "p1")
    assert r.returncode == 0 and r.stderr.strip() == message
    assert not list(editing.tmp.glob("osdn-edit-*")), "nothing to keep: the temporary file is removed"


def test_renaming_in_the_editor_is_refused_and_reopened(srv: ServerProc, editing: Editing) -> None:
    srv.cli("create", "configmap", "e6", "--from-literal=k=v1", "-n", "p1", check=True)
    r = editing.run([{"replace": [["name: e6", "name: e6-other"]]},
                     {"replace": [["name: e6-other", "name: e6"], ["k: v1", "k: v9"]]}], "configmap", "e6", "-n", "p1")
    assert r.returncode == 0, r.stderr
    assert "metadata.name: cannot be changed" in editing.seen(1)
    assert configmap(srv, "e6")["data"] == {"k": "v9"} and editing.opened() == 2
