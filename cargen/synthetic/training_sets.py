"""The renderer's pictures that the classifier recipe of `make pretrained` and of the
leave-one-domain-out benchmark mixes into the real photos: one home for what each set holds.

- `other`: 500 (+100 validation) rendered close-ups, interiors and scenery, labelled `other`;
- `views`: 300 (+60 validation) rendered cars of each of the eight views, so a model learns
  each view also from cars unlike any photo source's (tightly framed, on many backgrounds).

All are drawn landscape (PORTRAIT_SHARE = 0): a third drawn upright (240x320, like phone
shots) was measured in docs/results.md and not kept.

  python -m cargen.synthetic.training_sets --other data/pretrained_other \\
      --views data/pretrained_views
"""

import argparse
import json
from pathlib import Path

from cargen.cli import run_main
from cargen.synthetic.synthetic_dataset import MARKER, Options, write_dataset
from cargen.views import CAR_VIEWS

RENDERER_SETS = {"other": (("other",), 500), "views": (CAR_VIEWS, 300)}
PORTRAIT_SHARE = 0.0


def set_options(kind):
    """The synthetic-dataset Options of the renderer's `kind` set."""
    views, per_view = RENDERER_SETS[kind]
    return Options(per_view=per_view, validation_per_view=per_view // 5, pictures=0,
                   views=views, portrait=PORTRAIT_SHARE)


def _rendered_options(folder):
    try:
        options = json.loads((folder / MARKER).read_text())["options"]
        return {**Options().summary(), **options}  # options added since take their defaults
    except (OSError, ValueError, KeyError, TypeError):
        return None


def renderer_set(folder, kind, workers=2):
    """The renderer's `kind` set ("other" or "views") at `folder`, rendered there first when it
    is missing (a killed rendering leaves none); returns the folder as a Path. A rendering made
    with other options (say by data/synthesize.py) is used as it is, with a note. A folder that
    is there without the renderer's synthesis.json is refused, never replaced."""
    folder = Path(folder)
    options = set_options(kind)
    wanted, rendered = options.summary(), _rendered_options(folder)
    if rendered is None:
        print(f"rendering the renderer's {kind} set into {folder}", flush=True)
        write_dataset(folder, options, workers=workers, overwrite=True)
    elif rendered != wanted:
        differ = ", ".join(f"{key} {rendered.get(key)} (recipe: {value})"
                           for key, value in wanted.items() if rendered.get(key) != value)
        print(f"note: {folder} was rendered with other options than the recipe's {kind} set: "
              f"{differ}; using it as it is", flush=True)
    return folder


def main(argv=None):
    """Render the sets named on the command line that are not there yet."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    for kind, (views, per_view) in RENDERER_SETS.items():
        parser.add_argument(f"--{kind}", type=Path, metavar="DIR",
                            help=f"folder of the {kind} set ({per_view} training pictures per "
                                 f"view; default: not made)")
    parser.add_argument("--workers", type=int, default=2,
                        help="rendering processes (default: %(default)s)")
    args = parser.parse_args(argv)
    for kind in RENDERER_SETS:
        if getattr(args, kind) is not None:
            renderer_set(getattr(args, kind), kind, args.workers)
    return 0


if __name__ == "__main__":
    run_main(main)
