"""`sciml bench` on the command line: prints the leaderboard; bad names are one-line errors."""

from __future__ import annotations

from bench_profile import write_profile

from sciml.cli import main


def test_sciml_bench_prints_the_leaderboard(tmp_path, capsys):
    write_profile(tmp_path)
    out = tmp_path / "out"
    argv = ["bench", "--profile", str(tmp_path / "tiny.yaml"), "--out", str(out), "--quiet"]
    assert main([*argv, "--models", "fno", "--models", "nclaw", "--seeds", "0"]) == 0
    printed = capsys.readouterr().out
    assert "# Leaderboard: profile `tiny`" in printed
    assert "| 1 | `fno` |" in printed
    assert "- `nclaw`: task 'field_operator'" in printed
    assert (out / "leaderboard.md").is_file() and (out / "leaderboard.json").is_file()


def test_an_unknown_model_is_a_one_line_error_listing_the_models(tmp_path, capsys):
    write_profile(tmp_path)
    code = main(["bench", "--profile", str(tmp_path / "tiny.yaml"), "--models", "fno,fnoo"])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.startswith("sciml bench: error: --models fnoo: unknown models; allowed: ")
    assert "fno" in err and "\n" not in err


def test_list_shows_the_benchmarks_and_models(capsys):
    assert main(["bench", "--list"]) == 0
    printed = capsys.readouterr().out
    assert "benchmarks: burgers1d, darcy2d, poisson2d" in printed
    assert "models: " in printed and "fno" in printed
