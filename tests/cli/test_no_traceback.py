"""No command prints a Python traceback for a user error.

Every command of the tree runs (in-process, through click's runner) with its own examples, with no
arguments and with bogus arguments, against (1) a server that is not there (connection refused),
(2) a real server that rejects the request (a user without rights; names that do not exist) and
(3) the same server as its admin, with an editor that fails (requests get further, some succeed).
An uncaught exception (what a user sees as a traceback) fails the test, naming the command line.
Commands that would start processes or build labs get only the arguments that fail before that.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from osdn.cli.main import cli
from tests.cli.clitree import COMMANDS, PROCESS_COMMANDS, Command
from tests.conftest import ServerProc, free_port, start_server

BOGUS = (["bogus-1", "bogus-2"], ["-n", "no-such-project", "bogus"], ["--no-such-flag"])


def argvs(cmd: Command) -> Iterator[list[str]]:
    bare = cmd.path not in PROCESS_COMMANDS
    if bare:
        yield list(cmd.path)
        yield from cmd.examples()
    for extra in BOGUS:
        if bare or extra == ["--no-such-flag"]:
            yield [*cmd.path, *extra]


CASES = [(cmd, argv) for cmd in COMMANDS for argv in argvs(cmd)]
ADMIN_CASES = [(cmd, argv) for cmd, argv in CASES if cmd.path[0] != "lab"] + \
    [(cmd, [*cmd.path, "namespace", "default"]) for cmd in COMMANDS if cmd.path == ("edit",)]


@pytest.fixture(scope="module")
def rejecting(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProc, Path]]:
    srv = start_server(tmp_path_factory.mktemp("reject"))
    conf = srv.data_dir.parent / "nobody.conf"
    srv.cli("adm", "token", "create", "nobody", "--write-config", str(conf), check=True)
    try:
        yield srv, conf
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def missing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    conf = tmp_path_factory.mktemp("missing") / "missing.conf"
    conf.write_text(f"server: https://127.0.0.1:{free_port()}\ntoken: nothing-listens-there\n")
    return conf


def invoke(argv: list[str], conf: Path, tmp: Path, editor: str = "true") -> None:
    env = {"OSDN_CONFIG": str(conf), "OSDN_EDITOR": editor, "HOME": str(tmp), "KUBECONFIG": "", "TMPDIR": str(tmp)}
    here, tempdir = os.getcwd(), tempfile.tempdir
    os.chdir(tmp)  # examples write files (`--write-config bob.conf`): never into the checkout
    tempfile.tempdir = str(tmp)  # in process, TMPDIR is read once: a refused edit's kept copy goes here
    try:
        result = CliRunner().invoke(cli, argv, env=env, catch_exceptions=True, input="")
    finally:
        os.chdir(here)
        tempfile.tempdir = tempdir
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        import traceback
        shown = "".join(traceback.format_exception(result.exception))
        raise AssertionError(f"osdn {' '.join(argv)} raised a traceback:\n{shown}\n{result.output}")
    assert "Traceback" not in result.output, f"osdn {' '.join(argv)}:\n{result.output}"


@pytest.mark.parametrize(("cmd", "argv"), CASES, ids=[" ".join(a) for _, a in CASES])
def test_no_traceback_without_a_server(cmd: Command, argv: list[str], missing: Path, tmp_path: Path) -> None:
    invoke(argv, missing, tmp_path)


@pytest.mark.parametrize(("cmd", "argv"), CASES, ids=[" ".join(a) for _, a in CASES])
def test_no_traceback_when_the_server_rejects(cmd: Command, argv: list[str], rejecting: tuple[ServerProc, Path],
                                              tmp_path: Path) -> None:
    invoke(argv, rejecting[1], tmp_path)


@pytest.mark.parametrize(("cmd", "argv"), ADMIN_CASES, ids=[" ".join(a) for _, a in ADMIN_CASES])
def test_no_traceback_as_admin_with_a_failing_editor(cmd: Command, argv: list[str],
                                                     rejecting: tuple[ServerProc, Path], tmp_path: Path) -> None:
    conf = tmp_path / "admin.conf"
    shutil.copy(rejecting[0].config, conf)  # `project` examples switch the project in it
    invoke(argv, conf, tmp_path, editor="false")


def test_a_real_process_prints_one_line_not_a_traceback(missing: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "osdn", "--config", str(missing), "get", "pods"],
                          capture_output=True, text=True, timeout=60, env={**os.environ, "HOME": "/nonexistent"})
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.startswith("error: cannot reach the osdn server at https://127.0.0.1:"), done.stderr
