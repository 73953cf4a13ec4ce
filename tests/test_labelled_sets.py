"""Labelled view sets: reading the folders, the one seeded stratified split, and the writer's
links, copies and safety when killed and run again."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cargen.cli import UsageError
from cargen.images import ImageDecodeError
from cargen.labelled_sets import (
    TRAIN,
    VALIDATION,
    LabelledFiles,
    Placement,
    assign_splits,
    count_by_view,
    find_dataset,
    read_view_folders,
    split_placements,
    stratified_split,
    write_labelled_set,
)
from cargen.safe_files import TEMP_MARK

REPO = Path(__file__).resolve().parents[1]


def photo(path, colour=(200, 30, 10)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((12, 16, 3), colour, np.uint8)).save(path)
    return path


def view_folders(folder, counts):
    for view, count in counts.items():
        (folder / view).mkdir(parents=True, exist_ok=True)
        for index in range(count):
            photo(folder / view / f"{view}_{index:03d}.jpg")
    return folder


# --- reading ----------------------------------------------------------------------------------

def test_read_view_folders_lists_every_view_in_order(tmp_path):
    view_folders(tmp_path, {"front": 2, "rear": 1, "left": 0})
    (tmp_path / "front" / "notes.txt").write_text("not an image")
    (tmp_path / ".thumbnails").mkdir()
    files = read_view_folders(tmp_path)
    assert [Path(p).name for p in files.paths] == ["front_000.jpg", "front_001.jpg",
                                                    "rear_000.jpg"]
    assert files.views == ["front", "front", "rear"] and files.counts() == {"front": 2, "rear": 1}


@pytest.mark.parametrize("make, message", [
    (lambda folder: None, "nothing: folder not found"),
    (lambda folder: folder.mkdir(), "nothing: no view folders inside"),
    (lambda folder: (folder / "sideways").mkdir(parents=True),
     "nothing/sideways: unknown view folder 'sideways'; valid views: front"),
])
def test_reading_errors_are_one_line_naming_the_folder(tmp_path, make, message):
    folder = tmp_path / "nothing"
    make(folder)
    with pytest.raises(UsageError) as error:
        read_view_folders(folder)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_find_dataset_reads_train_and_validation_or_splits_one_folder(tmp_path):
    both = tmp_path / "both"
    view_folders(both / TRAIN, {"front": 3})
    view_folders(both / VALIDATION, {"front": 1})
    extra = view_folders(tmp_path / "extra", {"rear": 2})
    train, validation = find_dataset(both, add=[extra])
    assert train.counts() == {"front": 3, "rear": 2} and validation.counts() == {"front": 1}
    with pytest.raises(UsageError, match="has a validation/ folder; --validation-split"):
        find_dataset(both, validation_split=0.2)

    single = view_folders(tmp_path / "single", {"front": 10, "rear": 5})
    train, validation = find_dataset(single, validation_split=0.2, seed=1)
    assert validation.counts() == {"front": 2, "rear": 1}
    assert sorted(train.paths + validation.paths) == sorted(read_view_folders(single).paths)
    with pytest.raises(UsageError, match="no validation images"):
        find_dataset(view_folders(tmp_path / "one", {"front": 1}))


# --- the split --------------------------------------------------------------------------------

def names_and_views(counts):
    names, views = [], []
    for view, count in counts.items():
        names += [f"{view}_{index:03d}.jpg" for index in range(count)]
        views += [view] * count
    return names, views


def test_split_is_stratified_with_one_on_each_side():
    names, views = names_and_views({"front": 20, "rear": 3, "left": 2, "right": 1})
    splits = assign_splits(names, views, 0.15, seed=0)
    held = {view: sum(s == VALIDATION for s, v in zip(splits, views) if v == view)
            for view in set(views)}
    assert held == {"front": 3, "rear": 1, "left": 1, "right": 0}
    assert assign_splits(names, views, 0.0, seed=0) == [TRAIN] * len(names)
    with pytest.raises(ValueError, match="below 1"):
        assign_splits(names, views, 1.0, seed=0)


def test_split_is_deterministic_and_depends_on_nothing_but_seed_names_and_view():
    names, views = names_and_views({"front": 30, "rear": 30})
    splits = assign_splits(names, views, 0.2, seed=4)
    assert assign_splits(names, views, 0.2, seed=4) == splits
    reordered = list(reversed(range(len(names))))
    again = assign_splits([names[i] for i in reordered], [views[i] for i in reordered], 0.2, 4)
    assert dict(zip([names[i] for i in reordered], again)) == dict(zip(names, splits))
    assert assign_splits(names, views, 0.2, seed=5) != splits

    more_rear = names + ["rear_999.jpg"]
    grown = assign_splits(more_rear, views + ["rear"], 0.2, seed=4)
    front = [i for i, view in enumerate(views) if view == "front"]
    assert [grown[i] for i in front] == [splits[i] for i in front], "other views unchanged"


def test_stratified_split_and_split_placements_use_the_same_rule(tmp_path):
    names, views = names_and_views({"front": 7, "rear_left": 4})
    files = LabelledFiles(names, views)
    rest, held = stratified_split(files, 0.3, seed=2)
    placements = split_placements([Placement(tmp_path / n, n, v) for n, v in zip(names, views)],
                                  0.3, seed=2)
    assert sorted(held.paths) == sorted(p.name for p in placements if p.split == VALIDATION)
    assert len(rest) + len(held) == len(files)
    assert count_by_view(placements) == {"front": (5, 2), "rear_left": (3, 1)}


# --- the writer -------------------------------------------------------------------------------

def sources_and_placements(tmp_path, count=6):
    sources = tmp_path / "photos"
    placements = []
    for index in range(count):
        view = ("front", "rear")[index % 2]
        source = photo(sources / f"car{index}.jpg", (index * 40, 10, 10))
        placements.append(Placement(source, source.name, view))
    return split_placements(placements, 0.34, seed=0)


def written(out):
    return sorted(str(path.relative_to(out)) for path in out.rglob("*") if path.is_file())


def test_writer_links_to_the_originals_and_a_rerun_keeps_what_is_there(tmp_path):
    placements = sources_and_placements(tmp_path)
    out = tmp_path / "set"
    counts = write_labelled_set(out, placements)
    assert counts["linked"] == 6 and counts["copied"] == 0
    assert written(out) == sorted(p.destination for p in placements)
    for placement in placements:
        assert (out / placement.destination).stat().st_ino == placement.source.stat().st_ino
    assert read_view_folders(out / VALIDATION).counts() == {"front": 1, "rear": 1}

    again = write_labelled_set(out, placements)
    assert again["present"] == 6 and again["linked"] == 0


def test_writer_copies_where_linking_fails_and_never_overwrites(tmp_path, monkeypatch):
    placements = sources_and_placements(tmp_path)
    out = tmp_path / "set"
    taken = out / placements[0].destination
    taken.parent.mkdir(parents=True)
    taken.write_bytes(b"the user's own file")

    def no_links(source, destination):
        raise OSError(18, "Invalid cross-device link")

    monkeypatch.setattr(os, "link", no_links)
    counts = write_labelled_set(out, placements)
    assert counts["copied"] == 5 and counts["present"] == 1
    assert taken.read_bytes() == b"the user's own file"
    for placement in placements[1:]:
        copy = out / placement.destination
        assert copy.read_bytes() == placement.source.read_bytes()
        assert copy.stat().st_ino != placement.source.stat().st_ino


def test_writer_makes_files_and_counts_unreadable_ones(tmp_path):
    placements = sources_and_placements(tmp_path, count=4)
    broken = placements[0].source
    broken.write_bytes(b"not a jpeg")

    def make(source, destination):
        if source == broken:
            raise ImageDecodeError(source, "cannot identify image file")
        Image.open(source).transpose(Image.FLIP_LEFT_RIGHT).save(destination, "JPEG")

    out = tmp_path / "set"
    counts = write_labelled_set(out, placements, make)
    assert counts["encoded"] == 3 and counts["unreadable"] == [(str(broken),
                                                                 "cannot identify image file")]
    assert not (out / placements[0].destination).exists()
    assert all(Image.open(out / p.destination).size == (16, 12) for p in placements[1:])


def test_writer_removes_what_a_set_no_longer_lists(tmp_path):
    placements = sources_and_placements(tmp_path)
    out = tmp_path / "set"
    write_labelled_set(out, placements)
    relabelled = [Placement(p.source, p.name, "left", p.split) if p.name == "car0.jpg" else p
                  for p in placements if p.name != "car5.jpg"]
    counts = write_labelled_set(out, relabelled, remove_unlisted=True)
    assert counts["removed"] == 2 and counts["linked"] == 1
    assert written(out) == sorted(p.destination for p in relabelled)
    assert len(list((tmp_path / "photos").iterdir())) == 6, "the originals are untouched"


CHILD = textwrap.dedent("""
    import shutil, sys
    from pathlib import Path
    from cargen.labelled_sets import Placement, write_labelled_set
    from cargen.safe_files import kill_point

    def make(source, destination):
        data = Path(source).read_bytes()
        Path(destination).write_bytes(data[: len(data) // 2])
        kill_point("half-written")
        Path(destination).write_bytes(data)

    photos, out = Path(sys.argv[1]), Path(sys.argv[2])
    placements = [Placement(path, path.name, "front" if i % 2 else "rear",
                            "validation" if i % 3 == 0 else "train")
                  for i, path in enumerate(sorted(photos.iterdir()))]
    counts = write_labelled_set(out, placements, make if sys.argv[3] == "make" else None)
    print(counts["encoded"] + counts["linked"], counts["present"])
""")


@pytest.mark.parametrize("way, kill_at", [("make", "half-written:4"),
                                          ("make", "labelled-set-file:3"),
                                          ("link", "labelled-set-file:5")])
def test_a_writer_killed_mid_set_is_completed_by_a_rerun(tmp_path, way, kill_at):
    sources_and_placements(tmp_path, count=9)
    out = tmp_path / "set"
    command = [sys.executable, "-c", CHILD, str(tmp_path / "photos"), str(out), way]
    env = {**os.environ, "CARGEN_KILL_AT": kill_at}
    killed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert killed.returncode == -9, killed.stderr
    partial = [path for path in out.rglob("*.jpg") if not path.name.startswith(TEMP_MARK)]
    assert 0 < len(partial) < 9
    half_files = [path for path in out.rglob("*") if path.name.startswith(TEMP_MARK)]
    assert len(half_files) == (1 if kill_at.startswith("half") else 0)
    for path in partial:
        assert path.read_bytes() == (tmp_path / "photos" / path.name).read_bytes(), "whole"

    env.pop("CARGEN_KILL_AT")
    rerun = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert rerun.returncode == 0, rerun.stderr
    made, present = map(int, rerun.stdout.split())
    assert made + present == 9 and present == len(partial)
    files = list(out.rglob("*.jpg"))
    assert len(files) == 9 and not any(p.name.startswith(TEMP_MARK) for p in files)
    for path in files:
        assert path.read_bytes() == (tmp_path / "photos" / path.name).read_bytes()
