"""docs/deploy.md and deploy/: the systemd units pass `systemd-analyze verify`, every variable a unit
uses is set in its example environment file, every `osdn` command line in the doc and the units
uses only subcommands and flags that `osdn ... --help` lists, the files the doc names exist, and the
conflist is what the node unit serves."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from osdn.cli.main import cli

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "deploy.md"
UNITS = sorted((ROOT / "deploy" / "systemd").glob("*.service"))
INSTALLED = "/usr/local/bin/osdn"
ENV_FILES = {"/etc/osdn/server.env": ROOT / "deploy/env/server.env", "/etc/osdn/node.env": ROOT / "deploy/env/node.env"}


def unit_lines(unit: Path) -> list[str]:
    """The unit's lines with backslash continuations joined."""
    return unit.read_text().replace("\\\n", " ").splitlines()


def exec_starts(unit: Path) -> list[str]:
    return [line.split("=", 1)[1].lstrip("-") for line in unit_lines(unit) if line.startswith("ExecStart=")]


def doc_snippets() -> list[str]:
    """Every code line of the doc (fenced blocks, continuations joined) and every inline code span."""
    text = DOC.read_text()
    blocks = re.findall(r"```[a-z]*\n(.*?)```", text, re.S)
    lines = [line for block in blocks for line in block.replace("\\\n", " ").splitlines()]
    spans = re.findall(r"`([^`]+)`", re.sub(r"```.*?```", "", text, flags=re.S))
    assert not [s for s in spans if "\n" in s], "an inline code span runs over a line end"  # keep them checkable
    return lines + spans


def osdn_argvs(snippets: list[str]) -> list[list[str]]:
    """The argv after `osdn` of each command line that starts with osdn (after a `host#` prompt)."""
    out = []
    for snippet in snippets:
        for part in snippet.split("&&"):
            part = re.sub(r"^\s*[\w.-]+#\s*", "", part).strip()
            if re.match(rf"(osdn|{INSTALLED})\s", part):
                out.append(shlex.split(part, comments=True)[1:])
    return out


def check_argv(argv: list[str]) -> tuple[tuple[str, ...], list[str]]:
    """Walk the click tree: (the subcommand path, the flags it does not know)."""
    command: click.Command = cli
    path: list[str] = []
    unknown, words = [], list(argv)
    while words:
        word = words.pop(0)
        params = {opt: p for p in command.params if isinstance(p, click.Option) for opt in (*p.opts, *p.secondary_opts)}
        if word.startswith("-"):
            flag = word.split("=", 1)[0]
            param = params.get(flag)
            if param is None and flag not in ("-h", "--help"):
                unknown.append(flag)
            elif param is not None and not param.is_flag and "=" not in word and words:
                words.pop(0)  # its value
        elif isinstance(command, click.Group) and word in command.list_commands(click.Context(command)):
            command = command.get_command(click.Context(command), word) or command
            path.append(word)
    return tuple(path), unknown


def test_the_doc_names_every_unit_and_only_files_that_exist() -> None:
    text = DOC.read_text()
    assert UNITS, "no units in deploy/systemd"
    for unit in UNITS:
        assert f"deploy/systemd/{unit.name}" in text, f"{unit.name} is not in docs/deploy.md"
    for name in set(re.findall(r"`((?:deploy|tests|docs)/[\w./-]+)`", text)):
        assert (ROOT / name).exists(), f"docs/deploy.md names {name}, which does not exist"


def test_every_osdn_command_in_the_doc_and_the_units_uses_known_subcommands_and_flags() -> None:
    argvs = osdn_argvs(doc_snippets()) + [shlex.split(line)[1:] for unit in UNITS for line in exec_starts(unit)
                                          if line.startswith(INSTALLED)]
    paths = set()
    for argv in argvs:
        path, unknown = check_argv(argv)
        assert path, f"no osdn subcommand in: osdn {' '.join(argv)}"
        assert unknown == [], f"osdn {' '.join(path)} does not accept {unknown} (osdn {' '.join(argv)})"
        paths.add(path)
    assert {("server",), ("node",), ("adm", "token", "create"), ("get",), ("whoami",), ("version",)} <= paths
    runner = CliRunner()
    for path in sorted(paths):
        result = runner.invoke(cli, [*path, "--help"], prog_name="osdn")
        assert result.exit_code == 0, (path, result.output)


def test_the_checker_sees_a_flag_that_does_not_exist() -> None:
    assert check_argv(["node", "--name", "n1", "--no-such-flag"]) == (("node",), ["--no-such-flag"])
    assert check_argv(["--config", "a.conf", "adm", "token", "create", "u", "--group", "g"]) == \
        (("adm", "token", "create"), [])


@pytest.mark.parametrize("unit", UNITS, ids=[u.name for u in UNITS])
def test_every_unit_variable_is_set_in_the_example_environment(unit: Path) -> None:
    env_paths = [line.split("=", 1)[1].lstrip("-") for line in unit_lines(unit) if line.startswith("EnvironmentFile=")]
    assert env_paths, f"{unit.name} reads no EnvironmentFile"
    defined = set()
    for path in env_paths:
        defined |= {line.split("=", 1)[0] for line in ENV_FILES[path].read_text().splitlines()
                    if line and not line.startswith("#")}
    used = set(re.findall(r"\$\{(\w+)\}", unit.read_text()))
    assert used and used <= defined, f"{unit.name}: {sorted(used - defined)} not set in {env_paths}"


def test_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is absent (Debian: package systemd)")
    osdn = Path(sys.executable).with_name("osdn")
    assert osdn.exists(), f"{osdn}: the osdn console script is not installed next to the interpreter"
    for unit in UNITS:  # the installed path does not exist on a test machine: verify against ours
        (tmp_path / unit.name).write_text(unit.read_text().replace(INSTALLED, str(osdn)))
    done = subprocess.run([analyze, "verify", *sorted(str(p) for p in tmp_path.glob("*.service"))],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stderr.strip() == "", done.stderr


def test_the_conflist_talks_to_the_socket_the_node_unit_serves() -> None:
    conflist = json.loads((ROOT / "deploy/cni/10-osdn.conflist").read_text())
    plugin = conflist["plugins"][0]
    assert conflist["cniVersion"] == "1.0.0" and plugin["type"] == "osdn-cni"
    argv = shlex.split(exec_starts(ROOT / "deploy/systemd/osdn-node.service")[0])
    assert argv[argv.index("--cni-socket") + 1] == plugin["socket"]
