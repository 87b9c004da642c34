"""The editor session behind `osdn edit`: like kubectl's, it never loses the user's work.

The object is written to a temporary file under a comment header and the editor is started on it.
After the editor exits:
- no change (comments aside) on the first pass: "Edit cancelled, no changes made.", exit 0;
- an empty file: "Edit cancelled, saved file was empty.", exit 0;
- text that does not parse, or that the server rejects (validation, unknown fields, conflicts,
  admission): the editor reopens on the user's own text with the error as a comment at the top;
- after such an error, no further change, or an editor that exits non-zero: the file is kept, its
  path is printed ("A copy of your changes has been stored to ...") and the command fails (exit 1).
An editor that cannot be started is one clear error line. Not pure: runs the editor, writes files.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import yaml

from osdn.errors import OsdnError

Obj = dict[str, Any]
HEADER = ("# Please edit the object below. Lines beginning with a '#' will be ignored,\n"
          "# and an empty file will abort the edit. If an error occurs while saving this file will be\n"
          "# reopened with the relevant failures.\n#\n")


class EditAbortedError(OsdnError):
    """The edit ended without saving; the message says why and where the user's text is kept."""


class InvalidEditError(OsdnError):
    """The edited text is not an object osdn can send (syntax, not an object, renamed)."""


def strip_comments(text: str) -> str:
    """The text without the lines that start with '#' (the header and the error notes). Pure."""
    return "".join(line for line in text.splitlines(keepends=True) if not line.lstrip().startswith("#"))


def parse_edited(text: str, original: Obj) -> Obj:
    """The edited object; InvalidEditError if it is not one, or names another object. Pure."""
    try:
        obj = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise InvalidEditError(f"The edited file had a syntax error: {e}") from None
    if not isinstance(obj, dict):
        raise InvalidEditError(f"The edited file is not an object (it holds a {type(obj).__name__})")
    for path, was in (("kind", original.get("kind")), ("metadata.name", original["metadata"].get("name"))):
        now = obj.get("kind") if path == "kind" else (obj.get("metadata") or {}).get("name")
        if now != was:
            raise InvalidEditError(f"{path}: cannot be changed by edit (was {was!r}, now {now!r})")
    return obj


def error_comment(title: str, error: OsdnError) -> str:
    """The error as comment lines for the top of the reopened file (every line a comment). Pure."""
    items = [error.message, *(str(c) for c in error.causes if c.field and c.field not in error.message)]
    text = "\n".join([title, *(f"* {item}" for item in items)]) if title else "\n".join(items)
    return "".join(f"# {line}".rstrip() + "\n" for line in text.splitlines()) + "#\n"


def run_editor(editor: str, path: str) -> None:
    """Run `editor path` in the user's terminal; EditAbortedError unless it starts and exits 0."""
    argv = [*shlex.split(editor), path]
    try:
        code = subprocess.run(argv, check=False).returncode
    except OSError as e:
        raise EditAbortedError(f'cannot start the editor "{editor}": {e.strerror} (set OSDN_EDITOR or '
                               "EDITOR to an editor that exists)") from None
    if code != 0:
        raise EditAbortedError(f'there was a problem with the editor "{editor}" (exit status {code})')


def default_editor() -> str:
    return os.environ.get("OSDN_EDITOR") or os.environ.get("EDITOR") or "vi"


@dataclass
class EditSession:
    """One `osdn edit`: the object as fetched, how to show it, how to save it."""

    original: Obj
    title: str  # e.g. configmaps "ed": used in error notes
    save: Callable[[Obj], Obj]
    fmt: str = "yaml"
    editor: str = field(default_factory=default_editor)

    def render(self) -> str:
        if self.fmt == "json":
            return json.dumps(self.original, indent=2) + "\n"
        return str(yaml.safe_dump(self.original, sort_keys=False))

    def run(self, say: Callable[[str], None]) -> Obj | None:
        """Loop until saved (the stored object), cancelled (None) or given up (EditAbortedError)."""
        shown = self.render()
        fd, path = tempfile.mkstemp(prefix="osdn-edit-", suffix=f".{self.fmt}")
        os.close(fd)
        notes, text, failed_text, last_error = "", shown, None, ""
        while True:
            with open(path, "w") as fh:
                fh.write(HEADER + notes + text)
            try:
                run_editor(self.editor, path)
            except EditAbortedError as e:
                raise _kept(e.message, path) from None
            with open(path) as fh:
                text = strip_comments(fh.read())
            if failed_text is not None and text == failed_text:
                raise _kept(f"{last_error}\nEdit cancelled, no valid changes were saved.", path)
            cancelled = _cancel_reason(text, strip_comments(shown))
            if cancelled:
                os.unlink(path)
                say(cancelled)
                return None
            try:
                saved = self.save(parse_edited(text, self.original))
            except OsdnError as e:
                title = "" if isinstance(e, InvalidEditError) else f"{self.title} was not valid:"
                notes, failed_text, last_error = error_comment(title, e), text, e.message
                continue
            os.unlink(path)
            return saved


def _kept(why: str, path: str) -> EditAbortedError:
    return EditAbortedError(f'{why}\nA copy of your changes has been stored to "{path}"')


def _cancel_reason(text: str, shown: str) -> str:
    if text == shown:
        return "Edit cancelled, no changes made."
    return "" if text.strip() else "Edit cancelled, saved file was empty."
