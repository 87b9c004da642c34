"""Every command teaches by example: `--help` has a one-line summary, a description and an
`Examples:` section whose command lines parse as written (options, arguments, subcommands)."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from osdn.cli.main import cli
from tests.cli.clitree import COMMANDS, Command

IDS = [c.name for c in COMMANDS]


def paragraphs(cmd: Command) -> list[str]:
    doc = (cmd.command.help or "").split("Examples:", 1)[0]
    return [p.strip() for p in doc.split("\n\n") if p.strip() and p.strip() != "\b"]


def test_the_tree_is_walked() -> None:
    names = {c.name for c in COMMANDS}
    assert {"get", "edit", "adm policy add-role-to-user", "lab up", "lab run", "create configmap"} <= names
    assert len(COMMANDS) >= 40


@pytest.mark.parametrize("cmd", COMMANDS, ids=IDS)
def test_help_has_summary_description_and_examples(cmd: Command) -> None:
    parts = paragraphs(cmd)
    assert parts, f"osdn {cmd.name}: no help text"
    summary = parts[0]
    assert "\n" not in summary and summary.endswith("."), f"osdn {cmd.name}: summary {summary!r} is not one line"
    assert len(parts) >= 2, f"osdn {cmd.name}: no description after the summary"
    assert cmd.examples(), f"osdn {cmd.name}: no `Examples:` section with `osdn ...` lines"
    shown = CliRunner().invoke(cli, [*cmd.path, "--help"])
    assert shown.exit_code == 0 and "Examples:" in shown.output and summary.split()[0] in shown.output


def resolve(argv: list[str]) -> click.Command:
    """Parse `osdn ARGV` as click would run it, down to the leaf command; UsageError if it does not."""
    ctx = cli.make_context("osdn", list(argv))
    cmd: click.Command = cli
    while isinstance(cmd, click.Group):
        rest = ctx._protected_args + ctx.args  # what the group passes on to its subcommand
        if not rest:
            break
        _, sub, rest = cmd.resolve_command(ctx, rest)
        assert sub is not None
        ctx = sub.make_context(sub.name, rest, parent=ctx)
        cmd = sub
    return cmd


def provide_files(argv: list[str], where: Path) -> None:
    """The files and directories an example names (relative paths), so options that must name an
    existing file parse as they would where the user has them."""
    for word in argv:
        value = word.split("=", 1)[-1]
        if value.endswith("/") and not value.startswith("/"):
            (where / value).mkdir(parents=True, exist_ok=True)
        elif value.endswith((".yaml", ".json", ".txt", ".conf")) and not value.startswith("/"):
            (where / value).write_text("{}\n")


@pytest.mark.parametrize("cmd", COMMANDS, ids=IDS)
def test_examples_parse_as_shown(cmd: Command, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for argv in cmd.examples():
        provide_files(argv, tmp_path)
        try:
            leaf = resolve(argv)
        except click.UsageError as e:
            raise AssertionError(f"osdn {cmd.name}: example `osdn {' '.join(argv)}` does not parse: {e}") from None
        assert leaf is cmd.command, f"`osdn {' '.join(argv)}` is not an example of osdn {cmd.name}"
