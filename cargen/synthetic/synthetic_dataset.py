"""Writing the synthetic dataset: which pictures to make, rendering them in parallel, the layout.

One call writes, inside a hidden temporary folder renamed into place at the end:

    OUT/train/<view>/<view>_00000.jpg        labelled pictures, the layout train_model.py reads
    OUT/validation/<view>/<view>_00000.jpg
    OUT/pictures/Make_Model_Year_..._BodyStyle_abc.jpg   unlabelled, named like The Car
    OUT/pictures_labels.csv                  Connection's pictures; their views (file,view)
    OUT/synthesis.json                       the options, to reproduce the folder

Every picture has its own random generator seeded from (seed, split, view, index), so the same
options give byte-identical files whatever the number of worker processes.
"""

import csv
import ctypes
import io
import json
import multiprocessing
import os
import shutil
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from cargen.cli import Progress, UsageError
from cargen.labelled_sets import SPLITS, TRAIN, VALIDATION
from cargen.safe_files import replace_atomically
from cargen.synthetic.car_names import CATALOGUE, picture_name, sample_model
from cargen.synthetic.car_photo import render_car_photo
from cargen.synthetic.render_scenes import render_other_scene
from cargen.views import VIEWS

MARKER = "synthesis.json"
LABELS = "pictures_labels.csv"
# What an `other` picture shows: close-ups rendered from a car, or painted scenes.
OTHER_KINDS = {"wheel": 0.16, "lamp": 0.1, "badge_car": 0.05, "dashboard": 0.2, "seats": 0.14,
               "engine": 0.1, "badge": 0.05, "cargo": 0.07, "landscape": 0.07, "building": 0.06}
# Views of the flat pictures/ folder: like The Car Connection, many interiors and details.
PICTURE_VIEW_WEIGHTS = {"other": 0.3, **{view: 0.7 / 8 for view in VIEWS if view != "other"}}
_SPLIT_CODES = {TRAIN: 0, VALIDATION: 1, "pictures": 2}


@dataclass(frozen=True)
class Job:
    """One picture to make: where it goes, what it shows, and its seed."""

    path: str
    view: str
    seed: tuple
    model: int = -1   # catalogue row for named pictures, -1 = drawn from the seed
    portrait: bool = False   # drawn upright: width and height swapped


@dataclass(frozen=True)
class Options:
    """What to make. Counts are per view; `views` limits the labelled views; `portrait` is the
    share of the labelled pictures drawn upright (height x width, like phone shots)."""

    per_view: int = 300
    validation_per_view: int = 60
    pictures: int = 300
    width: int = 320
    height: int = 240
    seed: int = 0
    quality: int = 90
    views: tuple = VIEWS
    portrait: float = 0.0

    def summary(self):
        """The options as a JSON-ready dict."""
        return {"per_view": self.per_view, "validation_per_view": self.validation_per_view,
                "pictures": self.pictures, "width": self.width, "height": self.height,
                "seed": self.seed, "quality": self.quality, "views": list(self.views),
                "portrait": self.portrait}


def render_picture(view, seed, width=320, height=240, model=None):
    """Render one picture (uint8 array height x width x 3) of `view` from `seed`.

    `model` (a catalogue row) fixes the car; otherwise the seed picks one.
    """
    rng = np.random.default_rng(seed)
    model = model or sample_model(rng)
    length, car_width, car_height = (d * rng.uniform(0.97, 1.03) for d in model.dimensions)
    if view != "other":
        return render_car_photo(rng, view, width, height, style=model.style,
                                dimensions=(length, car_width, car_height))
    kinds, weights = zip(*OTHER_KINDS.items())
    kind = kinds[rng.choice(len(kinds), p=np.array(weights) / sum(weights))]
    if kind in ("wheel", "lamp", "badge_car"):
        return render_car_photo(rng, view, width, height, style=model.style,
                                close_up=kind.replace("_car", ""),
                                dimensions=(length, car_width, car_height))
    return render_other_scene(rng, kind, width, height)


def plan_jobs(options):
    """Every picture of a dataset, in a fixed order: train, validation, then pictures/."""
    jobs = []
    for split, count in ((TRAIN, options.per_view), (VALIDATION, options.validation_per_view)):
        for view in options.views:
            code = VIEWS.index(view)
            for i in range(count):
                seed = (options.seed, _SPLIT_CODES[split], code, i)
                upright = options.portrait > 0 and \
                    np.random.default_rng((*seed, 1)).random() < options.portrait
                jobs.append(Job(f"{split}/{view}/{view}_{i:05d}.jpg", view, seed,
                                portrait=bool(upright)))
    views, weights = zip(*PICTURE_VIEW_WEIGHTS.items())
    names = set()
    for i in range(options.pictures):
        rng = np.random.default_rng((options.seed, _SPLIT_CODES["pictures"], 99, i))
        view = views[rng.choice(len(views), p=np.array(weights) / sum(weights))]
        model = sample_model(rng)
        name = picture_name(rng, model)
        while name in names:
            name = picture_name(rng, model)
        names.add(name)
        jobs.append(Job(f"pictures/{name}", view,
                        (options.seed, _SPLIT_CODES["pictures"], VIEWS.index(view), i),
                        CATALOGUE.index(model)))
    return jobs


def encode_jpeg(image, quality):
    """JPEG bytes of a uint8 RGB array (fixed encoder settings, so identical input gives
    identical bytes)."""
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, "JPEG", quality=quality, optimize=False,
                                subsampling="4:2:0")
    return buffer.getvalue()


def _make(task):
    job, root, width, height, quality = task
    model = CATALOGUE[job.model] if job.model >= 0 else None
    if job.portrait:
        width, height = height, width
    image = render_picture(job.view, job.seed, width, height, model)
    (Path(root) / job.path).write_bytes(encode_jpeg(image, quality))
    return job.path


def _die_with_parent():
    """Pool worker start-up: on Linux, ask the kernel to kill this worker when the parent
    dies (say by SIGKILL), so no orphan lingers or prints a broken-pipe traceback."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
            if os.getppid() == 1:  # the parent died before the call took effect
                os._exit(0)
        except (OSError, AttributeError):
            pass


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def _remove_stale(out):
    """Remove hidden work folders of earlier runs on `out` whose process is gone."""
    for path in out.parent.glob(f".{out.name}.*-*"):
        kind, _, pid = path.name.rpartition("-")
        if kind.endswith((".partial", ".old")) and pid.isdigit() and not _pid_alive(int(pid)):
            shutil.rmtree(path, ignore_errors=True)


def check_output(out, overwrite):
    """Raise UsageError if `out` may not be written: a file, or a non-empty folder without
    --overwrite, or (with --overwrite) a non-empty folder that is not a synthetic dataset."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out}: exists and is not a folder")
    if out.is_dir() and any(out.iterdir()):
        if not overwrite:
            raise UsageError(f"{out}: folder exists and is not empty; pass --overwrite to "
                             f"replace it, or choose another folder")
        if not (out / MARKER).is_file():
            raise UsageError(f"{out}: not a synthetic dataset made by synthesize.py (no "
                             f"{MARKER}); refusing to replace it even with --overwrite")


def write_dataset(out, options, workers=1, overwrite=False, progress=True):
    """Make the whole dataset in `out` (see the module docstring); returns a summary dict."""
    out = Path(out).absolute()
    check_output(out, overwrite)
    out.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale(out)
    work = out.parent / f".{out.name}.partial-{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    jobs = plan_jobs(options)
    folders = {str(Path(job.path).parent) for job in jobs}
    for folder in ("pictures", *(f"{s}/{v}" for s in SPLITS for v in options.views)):
        folders.add(folder)
    for folder in sorted(folders):
        (work / folder).mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    bar = Progress(len(jobs), "synthesize", always=False) if progress else None
    tasks = [(job, str(work), options.width, options.height, options.quality) for job in jobs]
    try:
        if workers <= 1 or len(jobs) < 2:
            for task in tasks:
                _make(task)
                if bar:
                    bar.update()
        else:
            with multiprocessing.Pool(workers, initializer=_die_with_parent) as pool:
                for _ in pool.imap_unordered(_make, tasks, chunksize=4):
                    if bar:
                        bar.update()
        if bar:
            bar.close()
        seconds = time.perf_counter() - start
        _write_labels(work / LABELS, jobs)
        counts = {split: {view: sum(1 for j in jobs if j.path.startswith(f"{split}/{view}/"))
                          for view in options.views} for split in SPLITS}
        counts["pictures"] = {view: sum(1 for j in jobs if j.path.startswith("pictures/")
                                        and j.view == view) for view in VIEWS}
        info = {"made_by": "data/synthesize.py", "options": options.summary(), "counts": counts}
        (work / MARKER).write_text(json.dumps(info, indent=2) + "\n")
        _move_into_place(work, out, overwrite)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return {"out": str(out), "images": len(jobs), "seconds": seconds,
            "rate": len(jobs) / max(seconds, 1e-9), "counts": counts}


def _write_labels(path, jobs):
    rows = sorted((Path(j.path).name, j.view) for j in jobs if j.path.startswith("pictures/"))
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "view"])
        writer.writerows(rows)


def _move_into_place(work, out, overwrite):
    check_output(out, overwrite)
    old = None
    if out.is_dir():
        if any(out.iterdir()):
            old = out.parent / f".{out.name}.old-{os.getpid()}"
            out.rename(old)
        else:
            out.rmdir()
    work.rename(out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _label_font(size):
    try:
        return ImageFont.load_default(size)
    except TypeError:  # Pillow < 10.1 has only the small bitmap font
        return ImageFont.load_default()


def contact_sheet(path, options, columns=6, thumb_width=160):
    """Draw a grid of example pictures (rows: the views; columns: the first train pictures
    of each view, as the dataset holds them) with the view names, and save it as `path`."""
    thumb_height = round(thumb_width * options.height / options.width)
    label_width = 110
    gap = 4
    rows = list(options.views)
    sheet = Image.new("RGB", (label_width + columns * (thumb_width + gap) + gap,
                              len(rows) * (thumb_height + gap) + gap), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    font = _label_font(16)
    for r, view in enumerate(rows):
        y = gap + r * (thumb_height + gap)
        draw.text((8, y + thumb_height / 2), view, fill=(20, 20, 20), font=font, anchor="lm")
        for c in range(columns):
            seed = (options.seed, _SPLIT_CODES[TRAIN], VIEWS.index(view), c)
            image = Image.fromarray(render_picture(view, seed, options.width, options.height))
            image = image.resize((thumb_width, thumb_height), Image.LANCZOS)
            sheet.paste(image, (label_width + gap + c * (thumb_width + gap), y))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return replace_atomically(path, lambda temporary: sheet.save(temporary, format="PNG"))
