"""Helpers every cargen command-line script uses: quiet TensorFlow, one-line errors, progress."""

import argparse
import os
import sys
import time


class UsageError(Exception):
    """A problem with the user's input; printed as one line, exit status 2."""


def quiet_tensorflow():
    """Import TensorFlow without its start-up log noise and return the module.

    TensorFlow's C++ start-up lines (oneDNN, CUDA probing) are written to file descriptor 2
    before any log level applies, so stderr is pointed at /dev/null while it is imported and
    while the GPUs are probed. GPU memory growth is turned on (TensorFlow would otherwise take
    all GPU memory at start).
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    if "tensorflow" not in sys.modules:
        sys.stderr.flush()
        saved = os.dup(2)
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, 2)
            import tensorflow
            for gpu in tensorflow.config.list_physical_devices("GPU"):
                tensorflow.config.experimental.set_memory_growth(gpu, True)
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            os.close(devnull)
    import logging

    import tensorflow as tf
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    logging.getLogger("absl").setLevel(logging.ERROR)
    return tf


def run_main(main, argv=None):
    """Call `main(argv)`; user errors and Ctrl-C become one line on stderr, not a traceback."""
    from cargen.images import ImageDecodeError
    try:
        status = main(argv)
    except (UsageError, ImageDecodeError, FileNotFoundError, NotADirectoryError,
            FileExistsError) as error:
        print(f"error: {error}", file=sys.stderr)
        status = 2
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        status = 130
    except BrokenPipeError:
        # Output piped into a program that stopped reading (`| head`): not an error.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        status = 0
    sys.exit(status or 0)


class Progress:
    """A one-line text progress bar with a rate, written to stderr; quiet when not a terminal
    unless `always` is set (then it prints at most one line every few seconds)."""

    def __init__(self, total, label="", unit="img", width=30, stream=None, always=False):
        self.total, self.label, self.unit, self.width = total, label, unit, width
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.always = always
        self.count = 0
        self.start = time.perf_counter()
        self._last = 0.0

    def update(self, n=1, suffix=""):
        """Advance by `n` items and redraw (rate-limited)."""
        self.count += n
        now = time.perf_counter()
        finished = self.count >= self.total
        if not finished and now - self._last < (0.1 if self.tty else 5.0):
            return
        if not (self.tty or self.always):
            return
        self._last = now
        self.stream.write(("\r" if self.tty else "") + self.line(suffix) + ("" if self.tty else "\n"))
        self.stream.flush()

    def line(self, suffix=""):
        """The bar as text."""
        elapsed = max(time.perf_counter() - self.start, 1e-9)
        share = min(self.count / self.total, 1.0) if self.total else 1.0
        filled = int(share * self.width)
        bar = "#" * filled + "." * (self.width - filled)
        rate = self.count / elapsed
        text = f"{self.label} [{bar}] {self.count}/{self.total} {rate:,.0f} {self.unit}/s"
        return text + (f" {suffix}" if suffix else "")

    def close(self, suffix=""):
        """Finish the line."""
        if self.tty:
            self.stream.write("\r" + self.line(suffix) + "\n")
            self.stream.flush()

    @property
    def rate(self):
        """Items per second so far."""
        return self.count / max(time.perf_counter() - self.start, 1e-9)


def add_old_spelling(parser, old, new):
    """Accept `old` as a hidden alias of the option `new` already on `parser` (kept for one
    release after a rename); using it prints a one-line note naming the new spelling."""
    action = next(a for a in parser._actions if new in a.option_strings)

    class OldSpelling(argparse.Action):
        def __call__(self, parser, namespace, values, option_string=None):
            print(f"note: {old} is now spelled {new}", file=sys.stderr)
            action(parser, namespace, values, new)

    parser.add_argument(old, action=OldSpelling, dest=action.dest, nargs=action.nargs,
                        type=action.type, choices=action.choices, metavar=action.metavar,
                        default=argparse.SUPPRESS, help=argparse.SUPPRESS)
