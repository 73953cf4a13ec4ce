"""Running a script's `main` in the test process, as `python SCRIPT ARGS` would run it.

A new Python process costs a TensorFlow import (seconds); tests that only need a script's exit
status and output call it here instead. The kill tests and one run per script keep a real
process.
"""

import contextlib
import importlib
import io
import os
import subprocess
import sys
import warnings
from pathlib import Path

from cargen.cli import run_main

REPO = Path(__file__).resolve().parents[1]


def run_in_process(script, *args):
    """Run `script` (relative to the repository, e.g. "generator/generate.py") through its
    `main` and `cargen.cli.run_main` from the repository folder, as its `__main__` block does;
    returns a `subprocess.CompletedProcess` with the exit status and the printed text.

    Python warnings are printed on its stderr under Python's default filters, as a new
    process would print them. The working folder, `sys.argv` and the environment are put back
    afterwards, and Keras' global state (layer names, dtype policy) is cleared.
    """
    argv = [str(arg) for arg in args]
    stdout, stderr = io.StringIO(), io.StringIO()
    saved_environ, saved_argv, saved_cwd = dict(os.environ), sys.argv, os.getcwd()
    status = None
    try:
        os.chdir(REPO)
        sys.argv = [script, *argv]
        with (contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr),
              warnings.catch_warnings()):
            _python_default_warnings()
            module = importlib.import_module(script.removesuffix(".py").replace("/", "."))
            try:
                run_main(module.main, argv)
            except SystemExit as stop:
                status = stop.code
    finally:
        os.chdir(saved_cwd)
        sys.argv = saved_argv
        os.environ.clear()
        os.environ.update(saved_environ)
        if "keras" in sys.modules:
            sys.modules["keras"].backend.clear_session()
    return subprocess.CompletedProcess([sys.executable, script, *argv], status,
                                       stdout.getvalue(), stderr.getvalue())


def _python_default_warnings():
    """Python's own warning filters (not pytest's), each warning printed on sys.stderr."""
    warnings.resetwarnings()
    for category in (DeprecationWarning, PendingDeprecationWarning, ImportWarning,
                     ResourceWarning):
        warnings.simplefilter("ignore", category)

    def show(message, category, filename, lineno, file=None, line=None):
        sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))

    warnings.showwarning = show
