"""Labelled view sets: the one home of their folder layout, their split and their writer.

A labelled folder holds one sub-folder per view (`front/`, `front_left/`, ...). A labelled set
is a folder holding `train/` and `validation/` labelled folders, or one labelled folder that
training splits itself.

- Reading: `read_view_folders` lists a labelled folder as `LabelledFiles`; `find_dataset` finds
  the training and validation files of a set (splitting a single folder).
- Splitting: `assign_splits` is the one stratified split. Every view is shuffled on its own,
  seeded by the seed and the view's name, over its files sorted by name, so the split depends
  on neither the listing order nor the other views; `round(n * share)` of a view is held out,
  at least one on each side when it has two or more files (and `share` > 0).
  `stratified_split` and `split_placements` apply it to `LabelledFiles` and `Placement`s.
- Writing: `write_labelled_set` places files as `OUT/<split>/<view>/<name>`: hard links to the
  originals where the file system allows, else copies, or files made by a given function (a
  re-encoding). A file appears under its name only once complete, nothing already there is
  overwritten, and a re-run after a kill completes the set.
"""

import os
import random
import shutil
from dataclasses import dataclass, field, replace
from pathlib import Path

from cargen.cli import UsageError
from cargen.images import ImageDecodeError, list_images
from cargen.safe_files import fsync_dir, kill_point, remove_temporary_files, replace_atomically
from cargen.views import VIEWS

TRAIN = "train"
VALIDATION = "validation"
SPLITS = (TRAIN, VALIDATION)
DEFAULT_VALIDATION_SHARE = 0.15


@dataclass
class LabelledFiles:
    """Image paths with their view names, in a stable order."""

    paths: list = field(default_factory=list)
    views: list = field(default_factory=list)

    def extend(self, other):
        """Append the files of another `LabelledFiles`."""
        self.paths += other.paths
        self.views += other.views

    def counts(self):
        """{view: number of images} for the views that have images, in VIEWS order."""
        return {view: self.views.count(view) for view in VIEWS if view in self.views}

    def subset(self, indices):
        """A new `LabelledFiles` with the files at `indices`."""
        return LabelledFiles([self.paths[i] for i in indices], [self.views[i] for i in indices])

    def __len__(self):
        return len(self.paths)


def _subfolders(folder):
    return sorted(p for p in Path(folder).iterdir() if p.is_dir() and not p.name.startswith("."))


def read_view_folders(folder):
    """`LabelledFiles` of a folder holding one sub-folder per view (empty view folders allowed).

    A sub-folder whose name is not a view is an error naming it and listing the valid views; a
    folder with no view folders at all is an error too.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise UsageError(f"{folder}: folder not found")
    subfolders = _subfolders(folder)
    if not subfolders:
        raise UsageError(f"{folder}: no view folders inside (expected sub-folders named like "
                         f"{', '.join(VIEWS)})")
    files = LabelledFiles()
    for sub in subfolders:
        if sub.name not in VIEWS:
            raise UsageError(f"{sub}: unknown view folder {sub.name!r}; valid views: "
                             f"{', '.join(VIEWS)}")
        images = list_images(sub)
        files.extend(LabelledFiles([str(p) for p in images], [sub.name] * len(images)))
    return files


def assign_splits(names, views, share, seed):
    """The split (`train` or `validation`) of every file, given its name and view.

    About `share` of every view goes to validation, seeded by `seed` and the view; names must
    be unique within a view. See the module docstring for the exact rule.
    """
    if not 0 <= share < 1:
        raise ValueError(f"validation share must be at least 0 and below 1, not {share}")
    splits = [TRAIN] * len(names)
    by_view = {}
    for index, view in enumerate(views):
        by_view.setdefault(view, []).append(index)
    for view, indices in by_view.items():
        indices.sort(key=lambda i: names[i])
        random.Random(f"{seed}:{view}").shuffle(indices)
        held = round(len(indices) * share)
        if share > 0 and len(indices) >= 2:
            held = min(max(held, 1), len(indices) - 1)
        for index in indices[:held]:
            splits[index] = VALIDATION
    return splits


def stratified_split(files, share, seed):
    """Split `LabelledFiles` into (rest, held) with about `share` of every view held out."""
    splits = assign_splits([str(p) for p in files.paths], files.views, share, seed)
    return (files.subset([i for i, split in enumerate(splits) if split == TRAIN]),
            files.subset([i for i, split in enumerate(splits) if split == VALIDATION]))


def evaluation_folder(data):
    """The view folders to measure a model on inside dataset folder `data`: its validation/,
    else its train/, else `data` itself."""
    data = Path(data)
    for name in (VALIDATION, TRAIN):
        if (data / name).is_dir():
            return data / name
    return data


def every_labelled_photo(data):
    """`LabelledFiles` of every photo of dataset folder `data`: its train/ and validation/
    splits when it has them, else its view folders."""
    data = Path(data)
    splits = [data / name for name in (TRAIN, VALIDATION) if (data / name).is_dir()]
    if not splits:
        return read_view_folders(data)
    files = read_view_folders(splits[0])
    for split in splits[1:]:
        files.extend(read_view_folders(split))
    return files


def find_dataset(data, add=(), validation_split=None, seed=0):
    """Training and validation files of dataset folder `data`, plus `--add` folders.

    `data` holds `train/` and `validation/` view folders, or is one folder of views split with
    `validation_split` (0.15 when not given). Every `add` folder (its `train/` when it has one)
    is mixed into the training files; an `add` dataset's `validation/` joins the validation
    files.
    """
    data = Path(data)
    share = validation_split or DEFAULT_VALIDATION_SHARE
    if not data.is_dir():
        raise UsageError(f"{data}: data folder not found")
    if (data / TRAIN).is_dir():
        train = read_view_folders(data / TRAIN)
        if (data / VALIDATION).is_dir():
            if validation_split is not None:
                raise UsageError(f"{data}: has a validation/ folder; --validation-split is for "
                                 f"a single folder of views")
            validation = read_view_folders(data / VALIDATION)
        else:
            train, validation = stratified_split(train, share, seed)
    else:
        train, validation = stratified_split(read_view_folders(data), share, seed)
    for extra in add:
        extra = Path(extra)
        train.extend(read_view_folders(extra / TRAIN if (extra / TRAIN).is_dir() else extra))
        if (extra / TRAIN).is_dir() and (extra / VALIDATION).is_dir():
            validation.extend(read_view_folders(extra / VALIDATION))
    if not train:
        raise UsageError(f"{data}: no images found in its view folders")
    if not validation:
        raise UsageError(f"{data}: no validation images (add a validation/ folder or more "
                         f"images per view)")
    return train, validation


def validation_sources(data, add=()):
    """{source name: validation folder} of `data` and of every `add` dataset with a
    `validation/` folder (a single split folder is its own source); names are folder names."""
    sources = {}
    for folder in [Path(data), *map(Path, add)]:
        if (folder / TRAIN).is_dir() and (folder / VALIDATION).is_dir():
            found = folder / VALIDATION
        elif folder == Path(data):
            found = folder
        else:
            continue
        name = folder.resolve().name
        while name in sources:
            name += "+"
        sources[name] = found
    return sources


@dataclass
class Placement:
    """One file of a labelled set: its source and where it goes (`split/view/name`)."""

    source: Path
    name: str
    view: str
    split: str = TRAIN

    @property
    def destination(self):
        """Path inside the set's folder, e.g. train/front/cars_train_00001.jpg."""
        return f"{self.split}/{self.view}/{self.name}"


def split_placements(placements, share, seed):
    """Copies of `placements` with their split assigned (`assign_splits` on name and view),
    sorted by view, split and name."""
    placements = list(placements)
    splits = assign_splits([p.name for p in placements], [p.view for p in placements], share,
                           seed)
    assigned = [replace(p, split=split) for p, split in zip(placements, splits)]
    return sorted(assigned, key=lambda p: (p.view, p.split, p.name))


def count_by_view(placements):
    """{view: (n_train, n_validation)} of `placements`, in VIEWS order."""
    counts = {}
    for view in VIEWS:
        splits = [p.split for p in placements if p.view == view]
        if splits:
            counts[view] = (splits.count(TRAIN), splits.count(VALIDATION))
    return counts


def count_table(counts, views=None):
    """Lines of a view | train | validation table of `count_by_view` counts, with a total;
    `views` lists the rows (default: the views counted)."""
    views = list(counts) if views is None else views
    lines = [f"{'view':<12} {'train':>7} {'validation':>11}"]
    for view in views:
        train, validation = counts.get(view, (0, 0))
        lines.append(f"{view:<12} {train:>7,} {validation:>11,}")
    total_train = sum(train for train, _ in counts.values())
    total_validation = sum(validation for _, validation in counts.values())
    lines.append(f"{'total':<12} {total_train:>7,} {total_validation:>11,}")
    return lines


def _place(source, destination, make):
    if make is not None:
        replace_atomically(destination, lambda temporary: make(source, temporary))
        return "encoded"
    try:
        os.link(source, destination)  # the name appears whole or not at all, never replaced
        return "linked"
    except FileExistsError:
        raise
    except OSError:  # another file system, or one without hard links
        replace_atomically(destination, lambda temporary: shutil.copyfile(source, temporary))
        return "copied"


def _remove_unlisted(out, wanted):
    removed = 0
    for split in SPLITS:
        if not (out / split).is_dir():
            continue
        for view_folder in _subfolders(out / split):
            for entry in os.scandir(view_folder):
                relative = f"{split}/{view_folder.name}/{entry.name}"
                if entry.is_file(follow_symlinks=False) and relative not in wanted:
                    os.unlink(entry.path)
                    removed += 1
            fsync_dir(view_folder)
            if not any(view_folder.iterdir()):
                view_folder.rmdir()
    return removed


def write_labelled_set(out, placements, make=None, remove_unlisted=False, progress=None):
    """Place every `Placement` under `out`; return what was done.

    Each file is a hard link to its source, or a copy where linking fails; with `make`,
    `make(source, temporary_path)` writes it instead (a re-encoding; it may raise
    `ImageDecodeError`, and that file is then counted as unreadable and left out). Files already
    in place are kept as they are. With `remove_unlisted`, files under `out/<split>/<view>/`
    that `placements` do not list are removed first, so a set being rewritten never holds a
    file twice. Returns {"linked": n, "copied": n, "encoded": n, "present": n, "removed": n,
    "unreadable": [(path, reason)]}. Tests kill it after a file with
    `CARGEN_KILL_AT=labelled-set-file:n`.
    """
    out = Path(out)
    counts = {"linked": 0, "copied": 0, "encoded": 0, "present": 0, "removed": 0,
              "unreadable": []}
    if remove_unlisted:
        counts["removed"] = _remove_unlisted(out, {p.destination for p in placements})
    folders = set()
    for placement in placements:
        destination = out / placement.destination
        if destination.parent not in folders:
            destination.parent.mkdir(parents=True, exist_ok=True)
            remove_temporary_files(destination.parent)  # left by a killed run
            folders.add(destination.parent)
        if os.path.lexists(destination):
            counts["present"] += 1
        else:
            try:
                counts[_place(placement.source, destination, make)] += 1
            except ImageDecodeError as error:
                counts["unreadable"].append((error.path, error.reason))
            kill_point("labelled-set-file")
        if progress is not None:
            progress.update()
    for folder in folders:
        fsync_dir(folder)
    return counts
