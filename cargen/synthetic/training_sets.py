"""The renderer's pictures that the classifier recipe of `make pretrained` and of the
leave-one-domain-out benchmark mixes into the real photos: one home for what each set holds.

- `other`: 500 (+100 validation) rendered close-ups, interiors and scenery, labelled `other`;
- `views`: 300 (+60 validation) rendered cars of each of the eight views, so a model learns
  each view also from cars unlike any photo source's (tightly framed, on many backgrounds).

  python -m cargen.synthetic.training_sets --other data/pretrained_other \\
      --views data/pretrained_views
"""

import argparse
from pathlib import Path

from cargen.cli import run_main
from cargen.synthetic.synthetic_dataset import Options, write_dataset
from cargen.views import CAR_VIEWS

RENDERER_SETS = {"other": (("other",), 500), "views": (CAR_VIEWS, 300)}


def renderer_set(folder, kind, workers=2):
    """The renderer's `kind` set ("other" or "views") at `folder`, rendered there first when it
    is missing (a killed rendering leaves none); returns the folder as a Path. A folder that is
    there without the renderer's synthesis.json is refused, never replaced."""
    folder = Path(folder)
    if not (folder / "synthesis.json").is_file():
        views, per_view = RENDERER_SETS[kind]
        options = Options(per_view=per_view, validation_per_view=per_view // 5, pictures=0,
                          views=views)
        print(f"rendering the renderer's {kind} set into {folder}", flush=True)
        write_dataset(folder, options, workers=workers, overwrite=True)
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
