"""Resuming a run with its own options: the one check both training scripts make."""

from cargen.cli import UsageError


def check_same_options(options_file, saved, given, keys, defaults=None, normalise=None,
                       flags=None, hint=""):
    """Raise UsageError unless `given` has the run's `saved` value of every option in `keys`.

    A key missing from either side counts as its value in `defaults`; `normalise(key, value)`
    makes values comparable (e.g. paths resolved). The one-line error names the file and, for
    every option that differs, its flag (`flags[key]`, else `--key-name`), the run's value and
    the given one; `hint` is added after the first clause.
    """
    defaults, flags = defaults or {}, flags or {}
    normalise = normalise or (lambda key, value: value)

    def value(settings, key):
        return settings.get(key, defaults.get(key))

    differ = [key for key in keys
              if normalise(key, value(saved, key)) != normalise(key, value(given, key))]
    if differ:
        shown = "; ".join(f"{flags.get(key, '--' + key.replace('_', '-'))} {value(saved, key)!r} "
                          f"(given {value(given, key)!r})" for key in differ)
        raise UsageError(f"{options_file}: --resume needs the run's own options{hint}; it was "
                         f"started with {shown}")
