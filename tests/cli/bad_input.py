"""The bad-input cases of the ``sciml`` command line, and ``docs/errors.md`` generated from them.

Each ``tests/cli/test_bad_input_<command>.py`` declares its cases as :class:`Case` objects: the
command a user types, the exit status, and the exact message they see (``…`` stands for a part
that varies, such as a long list of allowed values or a temporary path). The tests drive the
real CLI (``sciml.cli.main`` in-process, or ``python -m sciml`` in a subprocess where a second
process or a signal is the point) and :meth:`Case.check` asserts the status, that there is no
traceback, and that stderr is the declared message. ``docs/errors.md`` is rendered from the same
objects, and ``test_bad_input_docs.py`` fails when the file differs from the rendering, so the
page cannot drift from what the CLI prints. Regenerate it with::

    .venv/bin/python tests/cli/bad_input.py
"""

from __future__ import annotations

import importlib
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from sciml.cli import main

HERE = Path(__file__).resolve().parent
DOC = HERE.parent.parent / "docs" / "errors.md"
#: every declared case, in declaration order (module by module)
CASES: list[Case] = []


@dataclass
class Case:
    """One bad input: what the user runs, the exit status and the message on stderr."""

    command: str
    title: str
    shell: str
    message: str
    exit: int = 2

    def __post_init__(self) -> None:
        #: the declaring module: the page lists modules in name order, whatever imported first
        self.module = sys._getframe(2).f_globals.get("__name__", "")
        CASES.append(self)

    def pattern(self, **values: str) -> re.Pattern[str]:
        """The message as a regex: ``…`` matches anything on one line, ``{name}`` is ``values``."""
        parts = re.split(r"(…|\{\w+\})", self.message.strip())
        regex = ""
        for part in parts:
            if part == "…":
                regex += ".*?"
            elif re.fullmatch(r"\{\w+\}", part):
                regex += re.escape(values[part[1:-1]])
            else:
                regex += re.escape(part)
        return re.compile(regex, re.S)

    def check(self, code: int, err: str, **values: str) -> None:
        """Exit status, no traceback, and stderr equal to the declared message."""
        assert "Traceback" not in err, err
        assert code == self.exit, f"exit {code}, expected {self.exit}: {err}"
        shown = "\n".join(line for line in err.strip().splitlines() if line.strip())
        assert self.pattern(**values).fullmatch(shown), (
            f"\n  got:      {shown}\n  expected: {self.message.strip()}"
        )


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """``sciml *argv`` in this process: (exit status, stdout, stderr)."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def render() -> str:
    """``docs/errors.md`` from the cases of every ``test_bad_input_*.py`` module."""
    if str(HERE) not in sys.path:
        sys.path.insert(0, str(HERE))
    for module in sorted(HERE.glob("test_bad_input_*.py")):
        importlib.import_module(module.stem)  # declares its cases (once per process)
    cases = sorted(CASES, key=lambda c: c.module)  # stable: declaration order within a module
    lines = [
        "# Errors a user can meet, and what `sciml` says",
        "",
        "Every bad input ends with one message on stderr naming the file, key or value and what "
        "is allowed, and an exit status (2 for an error; 128 + the signal number for a "
        "generation stopped by Ctrl-C or `SIGTERM`). None prints a traceback, none leaves a "
        "partial file behind, none damages an earlier file. `…` stands for a part that varies "
        "(a temporary path, a long list of allowed values).",
        "",
        "This page is generated from the tests that check each case "
        "(`tests/cli/test_bad_input_*.py`); `tests/cli/test_bad_input_docs.py` fails when it is "
        "out of date. Regenerate it with `.venv/bin/python tests/cli/bad_input.py`.",
        "",
    ]
    by_command: dict[str, list[Case]] = {}
    for case in cases:
        by_command.setdefault(case.command, []).append(case)
    lines.append(f"{len(cases)} cases.")
    for command, cases in by_command.items():
        lines += ["", f"## {command}", ""]
        for case in cases:
            message = case.message.strip().replace("\n", "\n    ")
            lines += [
                f"**{case.title}** (exit {case.exit})",
                "",
                f"    $ {case.shell}",
                f"    {message}",
                "",
            ]
    return "\n".join(lines).rstrip() + "\n"


if __name__ == "__main__":
    # the test modules import this file as `bad_input`: render with that module's registry
    sys.path.insert(0, str(HERE))
    module = importlib.import_module("bad_input")
    module.DOC.write_text(module.render())
    print(f"wrote {module.DOC} ({len(module.CASES)} cases)")
