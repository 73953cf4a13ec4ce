"""Grid search: `--sweep latent_dim=10,20 batch=8,16` trains every combination in turn.

Each configuration gets its own run folder (the swept keys are in its name). A configuration
that fails is reported at the end with its error, and the others still run.
"""

import itertools
import traceback

from cargen.cli import UsageError


def parse_sweep(specs, converters):
    """['latent_dim=10,20', 'batch=8,16'] -> {'latent_dim': [10, 20], 'batch': [8, 16]}.

    `converters` maps each option name that may be swept to a function parsing one value.
    """
    grid = {}
    for spec in specs:
        key, _, values = spec.partition("=")
        key = key.strip().replace("-", "_")
        if not values or key not in converters:
            known = ", ".join(sorted(converters))
            raise UsageError(f"--sweep {spec!r}: expected KEY=V1,V2,... with KEY one of {known}")
        try:
            grid[key] = [converters[key](v.strip()) for v in values.split(",") if v.strip()]
        except ValueError as error:
            raise UsageError(f"--sweep {spec!r}: {error}") from None
    return grid


def configurations(grid):
    """Every combination of the grid's values, as dicts (the first key varies slowest)."""
    keys = list(grid)
    return [dict(zip(keys, values)) for values in itertools.product(*grid.values())]


def run_sweep(options, grid, train, say=print):
    """Train each configuration of `grid` over `options`; returns [(config, error text)] of the
    ones that failed (their traceback is printed when they fail)."""
    failures = []
    configs = configurations(grid)
    for number, config in enumerate(configs, 1):
        label = " ".join(f"{k}={v}" for k, v in config.items())
        say(f"=== sweep {number}/{len(configs)}: {label}")
        try:
            folder = train({**options, **config}, tuple(grid))
            say(f"=== {label}: done -> {folder.path}")
        except Exception as error:  # noqa: BLE001  every failure is reported, the sweep goes on
            text = f"{type(error).__name__}: {error}".splitlines()[0]
            if not isinstance(error, (UsageError, ValueError)):
                traceback.print_exc()
            say(f"=== {label}: FAILED - {text}")
            failures.append((config, text))
    say(f"sweep finished: {len(configs) - len(failures)} of {len(configs)} configurations trained")
    for config, text in failures:
        say("  failed: " + " ".join(f"{k}={v}" for k, v in config.items()) + f" - {text}")
    return failures
