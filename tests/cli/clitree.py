"""The `osdn` click command tree for tests: every command, its help text and its examples."""

from __future__ import annotations

import shlex
from collections.abc import Iterator
from dataclasses import dataclass

import click

from osdn.cli.main import cli

# Commands that start long-running processes or change machine state when they succeed: their
# examples are parsed but not executed by the tests.
PROCESS_COMMANDS = {("server",), ("master",), ("node",), ("router",), ("egress-router",),
                    ("egress-router", "http-proxy"), ("egress-router", "dns-proxy"), ("logs",),
                    ("lab", "up"), ("lab", "down"), ("lab", "restart"), ("lab", "demo"), ("lab", "kubelet"),
                    ("lab", "stop-node"), ("lab", "start-node"), ("lab", "dns", "set"), ("lab", "dns", "del"),
                    ("lab", "kill-server"), ("lab", "start-server"), ("lab", "kill-etcd"), ("lab", "start-etcd"),
                    ("lab", "outside", "add"), ("lab", "outside", "run"),
                    ("adm", "capture"), ("adm", "diagnose", "throughput")}


@dataclass(frozen=True)
class Command:
    path: tuple[str, ...]
    command: click.Command

    @property
    def name(self) -> str:
        return " ".join(("osdn", *self.path))

    def help_text(self) -> str:
        return self.command.get_help(click.Context(self.command, info_name=self.name))

    def examples(self) -> list[list[str]]:
        """The argv (without `osdn`) of each example line in the Examples: section."""
        doc = self.command.help or ""
        if "Examples:" not in doc:
            return []
        out = []
        for line in doc.split("Examples:", 1)[1].splitlines():
            words = shlex.split(line.split(" # ")[0].split(" | ")[0], comments=False)
            while words and "=" in words[0] and not words[0].startswith("-"):
                words = words[1:]  # VAR=value prefixes
            if words[:1] == ["osdn"]:
                out.append(words[1:])
        return out


def walk(cmd: click.Command = cli, path: tuple[str, ...] = (), groups: bool = False) -> Iterator[Command]:
    """Every visible command that runs; with `groups`, every group as well (`osdn`, `osdn adm`, ...)."""
    if isinstance(cmd, click.Group):
        if (path and cmd.invoke_without_command) or groups:
            yield Command(path, cmd)
        ctx = click.Context(cmd)
        for name in cmd.list_commands(ctx):  # loads lazily imported commands (osdn.cli.main.LazyGroup)
            sub = cmd.get_command(ctx, name)
            if sub is not None and not sub.hidden:
                yield from walk(sub, (*path, name), groups)
    elif path:
        yield Command(path, cmd)


COMMANDS = list(walk())  # what runs: leaves, and groups that run on their own (e.g. `create -f`)
TREE = list(walk(groups=True))  # everything `--help` can be asked of
