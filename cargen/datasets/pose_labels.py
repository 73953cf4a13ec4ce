"""View labels from published 3D pose annotations (yangyi02/finegrained-pose, Stanford Cars).

The annotations are a pickle: {file name: {"azimuth": radians, "elevation": ..., ...}}. A pickle
can run any code while it loads, so `load_plain_pickle` uses an unpickler that refuses every
global (class, function) and accepts only plain dicts, lists, strings and numbers.

Their azimuth convention lines up with ours without a shift: 0 is a side view with the car's
front toward the image left (our `left`, 0 degrees in cargen.views.VIEW_AZIMUTH_DEGREES), pi/2 the
front (`front`, 90), pi the other side (`right`, 180), 3pi/2 the rear (`rear`, 270), and in
between the three-quarter views (pi/4 is `front_left`: front and left side, front toward the
image left). `azimuth_to_view` gives the nearest view centre and the angle to it; a picture
further than `max_offset` degrees from every centre is ambiguous and dropped.
"""

import csv
import io
import json
import math
import pickle
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from PIL import Image

from cargen.cli import UsageError
from cargen.images import is_image_name, load_rgb
from cargen.labelled_sets import Placement, split_placements, write_labelled_set
from cargen.safe_files import write_json, write_text
from cargen.views import VIEW_AZIMUTH_DEGREES

PLAIN_TYPES = (dict, list, str, int, float, bool, type(None))
MAX_OFFSET_LIMIT = 22.5  # half the 45 degrees between view centres
_TOLERANCE = 1e-9  # degrees; radians -> degrees round trips are not exact


class RefusedPickleError(UsageError):
    """A pickle that asks for anything but plain data; `str()` names the file and what it asked."""


class _Refused(pickle.UnpicklingError):
    pass


class _PlainDataUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        raise _Refused(f"it asks to load {module}.{name}")

    def persistent_load(self, pid):
        raise _Refused("it refers to an external object (persistent id)")


def _check_plain(data, path):
    stack, seen = [data], set()
    while stack:
        value = stack.pop()
        if type(value) in (dict, list):
            if id(value) in seen:  # shared or self-referencing containers: look once
                continue
            seen.add(id(value))
        if type(value) not in PLAIN_TYPES:
            raise RefusedPickleError(
                f"{path}: refused: it holds a {type(value).__name__}; only plain dicts, lists, "
                "strings and numbers are allowed")
        if type(value) is dict:
            stack.extend(value.keys())
            stack.extend(value.values())
        elif type(value) is list:
            stack.extend(value)


def load_plain_pickle(path):
    """Load a pickle holding only dicts, lists, strings and numbers (Python 2 pickles too).

    Anything else - a class, a function, a callable to run, a set, bytes - raises
    `RefusedPickleError` naming the file, before any of it is run.
    """
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            data = _PlainDataUnpickler(handle, encoding="latin1").load()
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no such file") from None
    except _Refused as error:
        raise RefusedPickleError(
            f"{path}: refused: {error}; only plain dicts, lists, strings and numbers are "
            "allowed (the file may be malicious, or not an annotation file)") from None
    except pickle.UnpicklingError as error:
        raise UsageError(f"{path}: not a readable pickle ({error})") from None
    except (EOFError, ValueError, TypeError, IndexError, KeyError, AttributeError,
            OverflowError, RecursionError, MemoryError) as error:
        raise UsageError(f"{path}: not a readable pickle ({type(error).__name__}: {error})") \
            from None
    _check_plain(data, path)
    return data


def angle_difference(a, b):
    """Smallest absolute difference between two angles in degrees (0..180)."""
    difference = (a - b) % 360.0
    return min(difference, 360.0 - difference)


def azimuth_to_view(azimuth_radians, max_offset=15.0):
    """`(view, offset_degrees)`: the view whose centre is nearest to the annotation's azimuth.

    `view` is None when the offset is more than `max_offset` degrees (an exact `max_offset` is
    kept). A tie halfway between two centres goes to the one with the smaller azimuth.
    """
    degrees = math.degrees(azimuth_radians) % 360.0
    view, centre = min(VIEW_AZIMUTH_DEGREES.items(),
                       key=lambda pair: (angle_difference(degrees, pair[1]), pair[1]))
    offset = angle_difference(degrees, centre)
    if offset > max_offset + _TOLERANCE:
        return None, offset
    return view, offset


@dataclass
class LabelledPicture(Placement):
    """One picture to write (source, name, view, split) and why it has that view."""

    azimuth_degrees: float = 0.0
    offset_degrees: float = 0.0


@dataclass
class ImportPlan:
    """The pictures to write, and counts of what was left out."""

    pictures: list = field(default_factory=list)
    off_centre: int = 0
    missing: list = field(default_factory=list)
    bad: list = field(default_factory=list)  # (key, reason)


def _safe_key(key):
    if not isinstance(key, str) or not key:
        return None, "the file name is not a string"
    parts = PurePosixPath(key.replace("\\", "/"))
    if parts.is_absolute() or ".." in parts.parts or ":" in key:
        return None, "the file name leaves the images folder"
    if not is_image_name(parts.name):
        return None, "not an image file name"
    return parts, None


def plan_import(sources, max_offset=15.0, val_share=0.15, seed=0):
    """Plan the labelled set from `sources`: a list of (images folder, annotations dict).

    Each annotated picture gets the view nearest its azimuth, or is counted as off-centre;
    listed files missing from the folder and entries without a numeric azimuth are counted and
    listed. The split is cargen.labelled_sets' stratified, seeded split by view (share
    `val_share`). Output names are `<images folder name>_<file name>`.
    """
    plan = ImportPlan()
    pictures = []
    names = [Path(images_dir).resolve().name for images_dir, _ in sources]
    clashes = sorted({name for name in names if names.count(name) > 1})
    if clashes:
        raise UsageError(f"two --images folders are both named {clashes[0]!r}; output names "
                         "start with the folder name, so rename one of them")
    for (images_dir, annotations), folder_name in zip(sources, names):
        images_dir = Path(images_dir)
        if not isinstance(annotations, dict):
            raise UsageError(f"annotations for {images_dir}: expected a dict of file name -> "
                             f"annotation, found a {type(annotations).__name__}")
        for key in sorted(annotations, key=str):
            relative, reason = _safe_key(key)
            entry = annotations[key]
            azimuth = entry.get("azimuth") if isinstance(entry, dict) else None
            if relative is None:
                plan.bad.append((str(key), reason))
                continue
            if isinstance(azimuth, bool) or not isinstance(azimuth, (int, float)) \
                    or not math.isfinite(azimuth):
                plan.bad.append((key, "no numeric azimuth"))
                continue
            source = images_dir.joinpath(*relative.parts)
            if not source.is_file():
                plan.missing.append(str(source))
                continue
            view, offset = azimuth_to_view(azimuth, max_offset)
            if view is None:
                plan.off_centre += 1
                continue
            name = f"{folder_name}_{'_'.join(relative.parts)}"
            pictures.append(LabelledPicture(source, name, view, azimuth_degrees=math.degrees(
                azimuth) % 360.0, offset_degrees=offset))
    plan.pictures = split_placements(pictures, val_share, seed)
    return plan


def _swap_red_blue(source, destination):
    pixels = load_rgb(source)
    Image.fromarray(pixels[:, :, ::-1].copy()).save(destination, "JPEG", quality=95)


def write_labelled(plan, out, swap_rb=False, progress=None):
    """Write `plan` into `out/train/<view>/` and `out/validation/<view>/` plus `out/labels.csv`.

    Files are placed by cargen.labelled_sets.write_labelled_set: hard links to the originals (a
    copy where linking fails), or re-encoded JPEGs with red and blue swapped when `swap_rb`; a
    killed run leaves no half file and a re-run skips what is there. Returns its counts:
    {"linked": n, "copied": n, "encoded": n, "present": n, "unreadable": [(path, reason)], ...}.
    """
    out = Path(out)
    counts = write_labelled_set(out, plan.pictures, _swap_red_blue if swap_rb else None,
                                progress=progress)
    unreadable = {path for path, _ in counts["unreadable"]}
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["file", "view", "split", "azimuth_degrees", "offset_degrees", "source"])
    for picture in plan.pictures:
        if str(picture.source) not in unreadable:
            writer.writerow([picture.destination, picture.view, picture.split,
                             f"{picture.azimuth_degrees:.2f}", f"{picture.offset_degrees:.2f}",
                             picture.source])
    write_text(out / "labels.csv", buffer.getvalue())
    return counts


def check_options(out, options):
    """Record `options` in `out/import_options.json`, or refuse if `out` was made with others."""
    out = Path(out)
    path = out / "import_options.json"
    if path.exists():
        try:
            previous = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            previous = None
        if previous != options:
            changed = sorted(k for k in set(options) | set(previous or {})
                             if (previous or {}).get(k) != options.get(k))
            raise UsageError(f"{out}: made by an earlier import with other options "
                             f"({', '.join(changed)}); give a new --out folder")
        return
    out.mkdir(parents=True, exist_ok=True)
    write_json(path, options)
