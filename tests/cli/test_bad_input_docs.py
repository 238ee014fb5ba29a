"""docs/errors.md is the rendering of the declared bad-input cases (so it cannot drift)."""

from __future__ import annotations

from bad_input import CASES, DOC, render


def test_errors_page_lists_every_case_as_the_tests_check_it():
    expected = render()
    assert len(CASES) >= 50
    assert DOC.read_text() == expected, (
        "docs/errors.md is out of date: regenerate it with `.venv/bin/python tests/cli/bad_input.py`"
    )
