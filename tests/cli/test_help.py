"""Every command teaches by example: `--help` has a one-line summary, a description and an
`Examples:` section whose command lines parse as written (options, arguments, subcommands)."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from osdn.cli.main import cli
from tests.cli.clitree import TREE, Command

IDS = [c.name for c in TREE]


def paragraphs(cmd: Command) -> list[str]:
    doc = (cmd.command.help or "").split("Examples:", 1)[0]
    return [p.strip() for p in doc.split("\n\n") if p.strip() and p.strip() != "\b"]


def test_the_tree_is_walked() -> None:
    names = {c.name for c in TREE}
    assert {"osdn", "osdn adm", "osdn get", "osdn edit", "osdn adm policy add-role-to-user", "osdn lab up",
            "osdn lab run", "osdn create configmap"} <= names
    assert len(TREE) >= 46


@pytest.mark.parametrize("cmd", TREE, ids=IDS)
def test_help_has_summary_description_and_examples(cmd: Command) -> None:
    parts = paragraphs(cmd)
    assert parts, f"{cmd.name}: no help text"
    summary = parts[0]
    assert "\n" not in summary and summary.endswith("."), f"{cmd.name}: summary {summary!r} is not one line"
    assert len(parts) >= 2, f"{cmd.name}: no description after the summary"
    assert cmd.examples(), f"{cmd.name}: no `Examples:` section with `osdn ...` lines"
    shown = CliRunner().invoke(cli, [*cmd.path, "--help"])
    assert shown.exit_code == 0 and "Examples:" in shown.output and summary.split()[0] in shown.output


def resolve(argv: list[str]) -> list[click.Command]:
    """Parse `osdn ARGV` as click would run it, group by group down to the leaf: the commands met.
    Raises click.UsageError if it does not parse."""
    ctx = cli.make_context("osdn", list(argv))
    chain: list[click.Command] = [cli]
    while isinstance(chain[-1], click.Group):
        rest = ctx._protected_args + ctx.args  # what the group passes on to its subcommand
        if not rest:
            break
        _, sub, rest = chain[-1].resolve_command(ctx, rest)
        assert sub is not None
        ctx = sub.make_context(sub.name, rest, parent=ctx)
        chain.append(sub)
    return chain


def provide_files(argv: list[str], where: Path) -> None:
    """The files and directories an example names (relative paths), so options that must name an
    existing file parse as they would where the user has them."""
    for word in argv:
        value = word.split("=", 1)[-1]
        if value.endswith("/") and not value.startswith("/"):
            (where / value).mkdir(parents=True, exist_ok=True)
        elif value.endswith((".yaml", ".json", ".txt", ".conf")) and not value.startswith("/"):
            (where / value).write_text("{}\n")


@pytest.mark.parametrize("cmd", TREE, ids=IDS)
def test_examples_parse_as_shown(cmd: Command, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for argv in cmd.examples():
        provide_files(argv, tmp_path)
        try:
            chain = resolve(argv)
        except click.UsageError as e:
            raise AssertionError(f"{cmd.name}: example `osdn {' '.join(argv)}` does not parse: {e}") from None
        assert cmd.command in chain, f"`osdn {' '.join(argv)}` is not an example of {cmd.name}"
