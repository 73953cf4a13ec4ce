"""The labelling app through Flask's test client: labelling, undo, resume, export, security."""

import csv
import io
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from PIL import Image

from cargen.safe_files import FolderBusyError
from cargen.views import VIEWS
from classifier.inference import load_classifier
from classifier.labeller.app import create_app, session_of
from classifier.labeller.label_log import LABEL_COLUMNS
from tests.labeller_photos import car_photo, make_photos

REPO = Path(__file__).resolve().parents[1]
JSON = {"Content-Type": "application/json"}


@pytest.fixture(scope="module")
def classifier(tiny_classifier_run):
    return load_classifier(tiny_classifier_run)


@pytest.fixture
def photos(tmp_path):
    folder = tmp_path / "pictures"
    truth = make_photos(folder, 20)
    return folder, truth


@pytest.fixture
def open_app(tmp_path):
    """Start labelling apps on demand; every one is closed at the end of the test."""
    sessions = []

    def start(folder, out=None, classifier=None, wait=True, **options):
        app = create_app(folder, out or tmp_path / "labelled", classifier, **options)
        session = session_of(app)
        sessions.append(session)
        if wait:
            session.queue.wait_for_predictions(timeout=60)
        return app.test_client(), session

    yield start
    for session in sessions:
        session.close()


def label_rows(out):
    with open(out / "labels.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def post(client, path, body):
    return client.post(path, json=body)


def test_single_mode_logs_every_decision_and_resumes_after_restart(photos, open_app, tmp_path):
    folder, truth = photos
    client, session = open_app(folder)
    items = client.get("/api/queue?count=5").get_json()["items"]
    assert len(items) == 5 and all(item["guess"] is None for item in items)
    for item in items[:3]:
        assert post(client, "/api/label", {"file": item["file"],
                                           "view": truth[item["file"]]}).status_code == 200
    post(client, "/api/label", {"file": items[3]["file"], "view": "skip"})
    rows = label_rows(tmp_path / "labelled")
    assert tuple(rows[0]) == LABEL_COLUMNS and len(rows) == 4
    assert [row["file"] for row in rows] == [item["file"] for item in items[:4]]
    assert {row["mode"] for row in rows} == {"single"}
    session.close()

    client, _ = open_app(folder)
    state = client.get("/api/state").get_json()["state"]
    assert state["labelled"] == 3 and state["skipped"] == 1 and state["open"] == 16
    decided = {item["file"] for item in items[:4]}
    following = client.get("/api/queue?count=20").get_json()["items"]
    assert len(following) == 16 and not decided & {item["file"] for item in following}


def test_undo_appends_a_record_and_the_state_is_the_replay(photos, open_app, classifier,
                                                            tmp_path):
    folder, truth = photos
    client, session = open_app(folder, classifier=classifier)
    page = client.get("/api/page").get_json()["page"]
    post(client, "/api/accept", {"view": page["view"], "items": [
        {"file": item["file"], "view": truth[item["file"]]} for item in page["items"]]})
    single = client.get("/api/queue?count=1").get_json()["items"][0]
    post(client, "/api/label", {"file": single["file"], "view": "rear"})
    before = (tmp_path / "labelled" / "labels.csv").read_text()

    undone = post(client, "/api/undo", {}).get_json()
    assert undone["undone"]["mode"] == "single"
    assert [item["file"] for item in undone["undone"]["items"]] == [single["file"]]
    assert undone["undone"]["items"][0]["was"] == "rear"
    after = (tmp_path / "labelled" / "labels.csv").read_text()
    assert after.startswith(before) and after[len(before):].split(",")[1] == "undo"

    undone = post(client, "/api/undo", {}).get_json()["undone"]
    assert undone["mode"] == "review" and len(undone["items"]) == len(page["items"])
    assert post(client, "/api/undo", {}).get_json()["undone"] is None
    assert client.get("/api/state").get_json()["state"]["labelled"] == 0
    again = client.get("/api/page").get_json()["page"]
    assert again["view"] == page["view"] and again["items"] == page["items"]
    session.close()

    client, _ = open_app(folder, classifier=classifier)
    state = client.get("/api/state").get_json()["state"]
    assert state["labelled"] == 0 and not state["can_undo"]


def test_review_pages_show_one_view_most_confident_first_and_views_take_turns(
        photos, open_app, classifier, tmp_path):
    folder, truth = photos
    client, session = open_app(folder, classifier=classifier, page_size=4)
    assert client.get("/api/state").get_json()["state"]["predicted"] == 20
    seen = []
    while True:
        page = client.get("/api/page").get_json()["page"]
        if page["view"] is None:
            break
        confidences = [item["confidence"] for item in page["items"]]
        assert {item["guess"] for item in page["items"]} == {page["view"]}
        assert confidences == sorted(confidences, reverse=True) and len(confidences) <= 4
        seen.append(page["view"])
        reply = post(client, "/api/accept", {"view": page["view"], "items": [
            {"file": item["file"], "view": truth[item["file"]]} for item in page["items"]]})
        assert reply.status_code == 200
    order = [VIEWS.index(view) for view in dict.fromkeys(seen)]
    assert order == sorted(order), "views come round in turn"
    state = client.get("/api/state").get_json()["state"]
    assert state["labelled"] == 20 and state["open"] == 0
    rows = label_rows(tmp_path / "labelled")
    assert {row["file"]: row["view"] for row in rows} == truth
    assert all(row["mode"] == "review" and row["model_guess"] in VIEWS for row in rows)


def test_a_page_of_correct_guesses_is_accepted_in_one_request(photos, open_app, classifier,
                                                               tmp_path):
    folder, _ = photos
    client, session = open_app(folder, classifier=classifier, page_size=24)
    first = client.get("/api/page").get_json()["page"]
    post(client, "/api/next-view", {})
    page = client.get("/api/page").get_json()["page"]
    if (session.queue.candidates_per_class() > 0).sum() > 1:
        assert page["view"] != first["view"], "n passes the turn to the next view"
    items = [{"file": item["file"], "view": page["view"]} for item in page["items"]]
    post(client, "/api/accept", {"view": page["view"], "items": items})
    rows = label_rows(tmp_path / "labelled")
    assert len(rows) == len(items) and len({row["action"] for row in rows}) == 1


def test_predictions_are_cached_for_a_restart(photos, open_app, classifier, tmp_path):
    folder, _ = photos
    client, session = open_app(folder, classifier=classifier)
    first = client.get("/api/queue?count=20").get_json()["items"]
    session.close()
    cache = tmp_path / "labelled" / "predictions_cache.csv"
    assert len(cache.read_text().splitlines()) == 22
    client, session = open_app(folder, classifier=classifier, wait=False)
    assert session.queue.cached_predictions == 20 and not session.queue.predicting
    assert client.get("/api/queue?count=20").get_json()["items"] == first
    assert len(cache.read_text().splitlines()) == 22


def test_a_log_cut_by_a_kill_is_repaired_on_restart(photos, open_app, tmp_path):
    folder, _ = photos
    client, session = open_app(folder)
    files = [item["file"] for item in client.get("/api/queue?count=2").get_json()["items"]]
    post(client, "/api/label", {"file": files[0], "view": "left"})
    session.close()
    log = tmp_path / "labelled" / "labels.csv"
    with open(log, "a") as handle:
        handle.write(f"{files[1]},rear,2026-01-01T00:00:00Z,single,,,1")  # no newline: cut
    client, _ = open_app(folder)
    assert client.get("/api/state").get_json()["state"]["labelled"] == 1
    post(client, "/api/label", {"file": files[1], "view": "front"})
    assert [(row["file"], row["view"]) for row in label_rows(tmp_path / "labelled")] == [
        (files[0], "left"), (files[1], "front")]


def test_export_writes_stratified_seeded_folders(photos, open_app, tmp_path):
    folder, truth = photos
    client, session = open_app(folder)
    names = sorted(truth)
    for name in names[:-2]:
        post(client, "/api/label", {"file": name, "view": truth[name]})
    post(client, "/api/label", {"file": names[-2], "view": "skip"})
    session.close()
    out = tmp_path / "labelled"

    command = [sys.executable, "classifier/label_images.py", "--input", str(folder),
               "--out", str(out), "--export", "--validation-split", "0.5"]
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "total" in result.stdout and "hard links" in result.stdout

    exported = {}
    for split in ("train", "validation"):
        for path in (out / split).glob("*/*.jpg"):
            exported[path.name] = (split, path.parent.name)
            assert path.stat().st_ino == (folder / path.name).stat().st_ino
    labelled = {name: truth[name] for name in names[:-2]}
    assert {name: view for name, (_, view) in exported.items()} == labelled
    for view in set(labelled.values()):
        splits = [split for split, v in exported.values() if v == view]
        assert splits.count("train") >= 1 and splits.count("validation") >= 1

    from classifier.training_data import find_dataset
    train, validation = find_dataset(out)
    assert sorted(Path(p).name for p in train.paths + validation.paths) == sorted(labelled)

    first = sorted((out / "validation").glob("*/*.jpg"))
    assert subprocess.run(command, cwd=REPO, capture_output=True, timeout=60).returncode == 0
    assert sorted((out / "validation").glob("*/*.jpg")) == first
    assert not (out / ".export-tmp").exists()
    assert len(list(folder.iterdir())) == 20


def test_a_new_export_follows_changed_labels_and_holds_every_photo_once(photos, open_app,
                                                                         tmp_path):
    from classifier.labeller.label_log import export_labels
    folder, truth = photos
    client, session = open_app(folder)
    names = sorted(truth)
    for name in names[:10]:
        post(client, "/api/label", {"file": name, "view": truth[name]})
    out = tmp_path / "labelled"
    export_labels(session.store.labels(), folder, out, 0.3, seed=0)
    wrong = next(view for view in VIEWS if view != truth[names[0]])
    post(client, "/api/label", {"file": names[0], "view": wrong})
    post(client, "/api/label", {"file": names[1], "view": "skip"})
    summary = export_labels(session.store.labels(), folder, out, 0.3, seed=0)
    exported = sorted((path.name, path.parent.name) for path in out.glob("*/*/*.jpg"))
    expected = {name: truth[name] for name in names[2:10]} | {names[0]: wrong}
    assert exported == sorted(expected.items())
    assert summary["removed"] >= 2 and summary["present"] + summary["linked"] == 9


def test_export_refuses_to_replace_folders_it_did_not_write(photos, open_app, tmp_path):
    folder, truth = photos
    client, session = open_app(folder)
    name = sorted(truth)[0]
    post(client, "/api/label", {"file": name, "view": truth[name]})
    session.close()
    (tmp_path / "labelled" / "train" / "front").mkdir(parents=True)
    result = subprocess.run([sys.executable, "classifier/label_images.py", "--input",
                             str(folder), "--out", str(tmp_path / "labelled"), "--export"],
                            cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "not written by --export" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("url", [
    "/image/../../etc/passwd",
    "/image/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "/thumb/..%2Flabelled%2Flabels.csv",
    "/image//etc/passwd",
    "/image/sub/inner.jpg",
    "/image/.hidden.jpg",
    "/thumb/no_such_photo.jpg",
    "/preview/..%2F..%2Fetc%2Fpasswd",
    "/static/../labelling.py",
    "/static/..%2Flabelling.py",
])
def test_paths_outside_the_listed_photos_are_404(photos, open_app, url):
    folder, _ = photos
    (folder / "sub").mkdir()
    (folder / "sub" / "inner.jpg").write_bytes((folder / sorted(os.listdir(folder))[0])
                                               .read_bytes())
    (folder / ".hidden.jpg").write_bytes(b"secret")
    client, _ = open_app(folder)
    response = client.get(url)
    assert response.status_code == 404
    assert b"root:" not in response.data and b"import" not in response.data


def test_listed_photos_and_thumbnails_are_served(photos, open_app):
    folder, truth = photos
    client, _ = open_app(folder)
    name = sorted(truth)[0]
    image = client.get(f"/image/{name}")
    assert image.status_code == 200 and image.data == (folder / name).read_bytes()
    thumb = client.get(f"/thumb/{name}")
    assert thumb.status_code == 200 and thumb.mimetype == "image/jpeg"
    preview = client.get(f"/preview/{name}")
    assert preview.status_code == 200 and preview.mimetype == "image/jpeg"
    page = client.get("/")
    assert page.status_code == 200 and b"app.js" in page.data
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]


def test_big_photos_get_cached_thumbnails_and_broken_ones_a_placeholder(tmp_path, open_app):
    folder = tmp_path / "pictures"
    folder.mkdir()
    car_photo("front", 0, size=(1600, 1200)).save(folder / "big.jpg")
    (folder / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    client, _ = open_app(folder)
    thumb = client.get("/thumb/big.jpg")
    assert thumb.status_code == 200 and thumb.mimetype == "image/jpeg"
    assert max(Image.open(io.BytesIO(thumb.data)).size) <= 384
    assert len(list((tmp_path / "labelled" / ".thumbs").rglob("*.jpg"))) == 1
    broken = client.get("/thumb/broken.jpg")
    assert broken.status_code == 200 and broken.mimetype == "image/png"
    state = client.get("/api/state").get_json()["state"]
    assert state["unreadable"] == 1 and state["open"] == 1
    assert [item["file"] for item in client.get("/api/queue").get_json()["items"]] == ["big.jpg"]


@pytest.mark.parametrize("path,body,content_type", [
    ("/api/label", "{not json", "application/json"),
    ("/api/label", "[1, 2]", "application/json"),
    ("/api/label", '{"file": "x.jpg"}', "application/json"),
    ("/api/label", '{"file": "FIRST", "view": "upside_down"}', "application/json"),
    ("/api/label", '{"file": "../../etc/passwd", "view": "front"}', "application/json"),
    ("/api/label", '{"file": "FIRST", "view": "front"}', "text/plain"),
    ("/api/accept", '{"view": "front", "items": "all"}', "application/json"),
    ("/api/accept", '{"view": "sideways", "items": [{"file": "FIRST", "view": "front"}]}',
     "application/json"),
    ("/api/accept", '{"view": "front", "items": [{"file": "FIRST", "view": "front"}, '
                    '{"file": "FIRST", "view": "rear"}]}', "application/json"),
    ("/api/undo", "", "text/plain"),
])
def test_malformed_requests_are_400_and_change_nothing(photos, open_app, tmp_path, path, body,
                                                       content_type):
    folder, truth = photos
    client, _ = open_app(folder)
    body = body.replace("FIRST", sorted(truth)[0])
    response = client.post(path, data=body, headers={"Content-Type": content_type})
    assert response.status_code == 400 and "error" in response.get_json()
    assert label_rows(tmp_path / "labelled") == []
    assert client.get("/api/queue?count=0").status_code == 400
    assert client.get("/api/queue?count=many").status_code == 400


def test_other_hosts_and_cross_site_posts_are_refused(photos, open_app, tmp_path):
    folder, truth = photos
    client, _ = open_app(folder)
    body = {"file": sorted(truth)[0], "view": "front"}
    assert client.get("/api/state", headers={"Host": "evil.example:8765"}).status_code == 403
    assert client.post("/api/label", json=body,
                       headers={"Origin": "http://evil.example"}).status_code == 403
    assert label_rows(tmp_path / "labelled") == []
    assert client.post("/api/label", json=body,
                       headers={"Origin": "http://localhost"}).status_code == 200


def test_only_the_output_folder_is_written(photos, open_app, classifier, tmp_path):
    folder, truth = photos

    def snapshot():
        return {path: (path.stat().st_mtime_ns, path.read_bytes())
                for path in tmp_path.rglob("*") if path.is_file()
                and tmp_path / "labelled" not in path.parents}

    before = snapshot()
    client, session = open_app(folder, classifier=classifier)
    for name in sorted(truth)[:3]:
        client.get(f"/thumb/{name}")
        client.get(f"/image/{name}")
        post(client, "/api/label", {"file": name, "view": truth[name]})
    page = client.get("/api/page").get_json()["page"]
    post(client, "/api/accept", {"view": page["view"], "items": [
        {"file": item["file"], "view": page["view"]} for item in page["items"]]})
    post(client, "/api/undo", {})
    session.close()
    assert snapshot() == before


def test_a_second_labeller_on_the_same_folder_is_refused(photos, open_app):
    folder, _ = photos
    open_app(folder)
    with pytest.raises(FolderBusyError, match="another labeller"):
        open_app(folder)


def test_listening_beyond_loopback_warns():
    from classifier.label_images import exposure_warning
    assert exposure_warning("127.0.0.1", "pics") is None
    assert "anyone who can reach this machine" in exposure_warning("0.0.0.0", "pics")


def test_the_script_serves_on_loopback_and_stops_cleanly_on_ctrl_c(photos, tmp_path):
    folder, truth = photos
    process = subprocess.Popen(
        [sys.executable, "classifier/label_images.py", "--input", str(folder), "--out",
         str(tmp_path / "labelled"), "--port", "0"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = None
        deadline = time.time() + 30
        while url is None and time.time() < deadline:
            line = process.stdout.readline()
            if "http://127.0.0.1:" in line:
                url = line.split()[1]
        assert url, process.stderr.read()
        with urllib.request.urlopen(url + "api/state", timeout=10) as reply:
            assert b'"total":20' in reply.read()
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=20)
    finally:
        process.kill()
    assert process.returncode == 0, err
    assert "stopped: 0 labelled" in out and "Traceback" not in err


def test_the_shipped_model_guesses_unless_told_otherwise(photos, tmp_path):
    from classifier.label_images import DEFAULT_MODEL, parse_args
    folder, _ = photos
    common = ["--input", str(folder), "--out", str(tmp_path / "labelled")]
    assert Path(parse_args(common).model).parts[-2:] == DEFAULT_MODEL.parts
    assert parse_args(common + ["--no-model"]).model is None
    assert parse_args(common + ["--model", "mine"]).model == Path("mine")


def test_state_gives_the_command_that_trains_on_the_export(photos, open_app,
                                                          tiny_classifier_run):
    from classifier.labeller.label_log import training_command
    folder, _ = photos
    client, session = open_app(folder, classifier=load_classifier(tiny_classifier_run))
    command = client.get("/api/state").get_json()["state"]["train_command"]
    assert command == training_command(session.out_dir, tiny_classifier_run)
    assert f"--data {session.out_dir} --init {tiny_classifier_run} --out " in command
