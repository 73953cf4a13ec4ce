"""The command-line helpers every script shares: old option spellings and one-line errors."""

import argparse
import ast
import re
from pathlib import Path

import pytest

from cargen.cli import UsageError, add_old_spelling, run_main
from cargen.safe_files import FolderBusyError


def parser_with_renamed_options():
    parser = argparse.ArgumentParser()
    parser.add_argument("--batch-size", dest="batch", type=int, default=64,
                        help="batch size (default: 64)")
    parser.add_argument("--copy", dest="mode", action="store_const", const="copy",
                        default="move")
    add_old_spelling(parser, "--batch", "--batch-size")
    add_old_spelling(parser, "--duplicate", "--copy")
    return parser


def test_an_old_spelling_still_works_and_names_the_new_one(capsys):
    parser = parser_with_renamed_options()
    assert parser.parse_args([]) == argparse.Namespace(batch=64, mode="move")
    assert parser.parse_args(["--batch", "8", "--duplicate"]) == argparse.Namespace(
        batch=8, mode="copy")
    assert "--batch is now spelled --batch-size" in capsys.readouterr().err
    assert parser.parse_args(["--batch-size", "9"]).batch == 9


def test_old_spellings_stay_out_of_the_help():
    help_text = parser_with_renamed_options().format_help()
    assert "--batch-size" in help_text
    assert "--batch " not in help_text and "--duplicate" not in help_text


@pytest.mark.parametrize("error", [UsageError("data/x: not a folder"),
                                   FolderBusyError("data/x: another sort is running"),
                                   FileNotFoundError("data/x: not found")])
def test_user_errors_are_one_line_and_exit_2(error, capsys):
    def main(argv):
        raise error

    with pytest.raises(SystemExit) as stop:
        run_main(main, [])
    assert stop.value.code == 2
    assert capsys.readouterr().err == f"error: {error}\n"


def test_every_scripts_help_examples_keep_their_line_continuations():
    """A lone backslash ending a line of a docstring joins the next line on: the --help
    example then reads `... --init RUN       --out DIR`, a command that is not what it shows."""
    repo = Path(__file__).resolve().parents[1]
    scripts = [path for folder in ("classifier", "generator", "data", "benchmarks")
               for path in sorted((repo / folder).glob("*.py"))]
    assert len(scripts) > 10
    joined = [f"{path.relative_to(repo)}: {line.strip()}" for path in scripts
              for line in (ast.get_docstring(ast.parse(path.read_text()), clean=False)
                           or "").splitlines()
              if re.search(r"\S {3,}--", line)]
    assert joined == []
