"""The labelling web app: a keyboard-driven page that turns a folder of photos into labels.

`create_app(input_dir, out_dir, classifier=None)` returns a Flask app serving one page (plain
HTML/JS/CSS from `classifier/labeller/static/`, nothing from the network) and a small JSON API.
Two modes share the page: review (a grid of photos the model puts in one view, accepted with
one key, the few wrong ones relabelled first) and single (one photo, the model's top-3 guesses,
one key per view). Decisions go to `OUT/labels.csv` as they are made (see `label_store`).

Only files listed from `input_dir` are served (anything else is a 404), only `out_dir` is
written, malformed requests get a 400, and with the default loopback binding requests for
another host name (DNS rebinding) or from another page (cross-site POSTs) are refused.
"""

import itertools
import logging
import mimetypes
import signal
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

from flask import Flask, abort, jsonify, request, send_file, send_from_directory
from werkzeug.exceptions import HTTPException

from cargen.cli import UsageError
from cargen.safe_files import FolderLock
from cargen.views import VIEW_AZIMUTH_DEGREES, VIEWS
from classifier.labeller.label_log import (
    DECISIONS,
    SKIP,
    LabelStore,
    export_labels,
    training_command,
)
from classifier.labeller.photo_queue import PhotoQueue
from classifier.labeller.thumbnails import THUMB_SIZE, Thumbnails, placeholder_png

STATIC_DIR = Path(__file__).resolve().parent / "static"
LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1"})
VIEW_KEYS = {view: str(i + 1) for i, view in enumerate(VIEWS)}
SKIP_KEY = "s"
VIEW_HINTS = {
    "front": "the car head-on from the front",
    "front_left": "front three-quarter, the front toward the image left",
    "front_right": "front three-quarter, the front toward the image right",
    "left": "side profile, the front pointing to the image left",
    "right": "side profile, the front pointing to the image right",
    "rear": "the car from straight behind",
    "rear_left": "rear three-quarter showing the car's left side",
    "rear_right": "rear three-quarter showing the car's right side",
    "other": "interiors, details, engines: anything not a whole car",
    "skip": "leave the photo out (unsure, several cars, broken)",
}
PREVIEW_SIZE = 1280
MAX_QUEUE_REQUEST = 100
MAX_PAGE_ITEMS = 500

__all__ = ["create_app", "LabellingSession", "export_labels", "session_of"]


class LabellingSession:
    """The state behind the page: label log, photo queue, thumbnails and the review turn."""

    def __init__(self, input_dir, out_dir, classifier=None, page_size=24,
                 thumb_size=THUMB_SIZE, batch_size=64, prewarm=True):
        self.input_dir = Path(input_dir).resolve()
        self.out_dir = Path(out_dir).resolve()
        if not self.input_dir.is_dir():
            raise FileNotFoundError(f"{input_dir}: photo folder not found")
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self._lock = FolderLock(self.out_dir / ".labeller.lock",
                                f"{out_dir}: another labeller is already running on this folder")
        self._lock.__enter__()
        try:
            self.store = LabelStore(self.out_dir)
            self.queue = PhotoQueue(self.input_dir, self.out_dir, classifier, batch_size)
        except BaseException:
            self._lock.__exit__()
            raise
        for file in self.store.labels():
            if file in self.queue.index:
                self.queue.done[self.queue.index[file]] = True
        self.classifier = classifier
        self.model_name = (Path(classifier.run_dir).name if classifier is not None and
                           getattr(classifier, "run_dir", None) else
                           ("model" if classifier is not None else None))
        self.page_size = int(page_size)
        self.thumbnails = Thumbnails(self.out_dir / ".thumbs", thumb_size)
        self.previews = Thumbnails(self.out_dir / ".previews", PREVIEW_SIZE)
        self.turn = 0
        self.pages_served = 0
        self._state_seq = itertools.count(1)
        self.prewarm = prewarm
        self._prewarm = ThreadPoolExecutor(max_workers=1, thread_name_prefix="thumbs")
        self._placeholder = placeholder_png(thumb_size)
        if prewarm and classifier is not None:
            self._prewarm_from(0, self.queue.candidates_per_class())
        self.queue.start_predictions()

    # review mode -----------------------------------------------------------------------

    def review_page(self):
        """The next review page: up to `page_size` open photos the model puts in the view
        whose turn it is, most confident first. Views with no open photos are passed over."""
        self.pages_served += 1
        page = {"view": None, "items": [], "page_id": self.pages_served, "reason": None}
        if self.classifier is None:
            page["reason"] = "review mode needs a model (--model RUN)"
            return page
        counts = self.queue.candidates_per_class()
        n_classes = len(self.queue.classes)
        for step in range(n_classes):
            class_index = (self.turn + step) % n_classes
            if counts[class_index]:
                break
        else:
            page["reason"] = ("waiting for the model's guesses" if self.queue.predicting else
                              "every photo the model has a guess for is decided")
            return page
        self.turn = class_index
        indices = self.queue.review_page(class_index, self.page_size)
        page["view"] = self.queue.classes[class_index]
        page["items"] = [self.queue.item(i) for i in indices]
        page["left_in_view"] = int(counts[class_index])
        if self.prewarm:
            self._prewarm_from(class_index + 1, counts)
        return page

    def _prewarm_from(self, class_index, counts):
        """Make, in the background, the thumbnails of the first page from `class_index` on."""
        n_classes = len(self.queue.classes)
        for step in range(n_classes):
            following = (class_index + step) % n_classes
            if counts[following]:
                indices = self.queue.review_page(following, self.page_size)
                self._prewarm.submit(self._make_thumbnails, indices)
                return

    def _make_thumbnails(self, indices):
        for i in indices:
            try:
                self.thumbnails.get(self.queue.paths[i])
            except (OSError, ValueError):
                pass

    def accept_page(self, view, decisions):
        """Record a review page as one action; `decisions` is [(file, view or skip)]."""
        action = self._record(decisions, "review")
        if view in self.queue.classes:
            self.turn = (self.queue.classes.index(view) + 1) % len(self.queue.classes)
        return action

    def next_view(self):
        """Pass the review turn to the next view without labelling anything."""
        if self.queue.classes:
            self.turn = (self.turn + 1) % len(self.queue.classes)

    # single mode and shared ------------------------------------------------------------

    def single_items(self, count, exclude=()):
        """The next `count` photos for single mode (least sure first), as page items."""
        exclude = [self.queue.index[name] for name in exclude if name in self.queue.index]
        return [self.queue.item(i) for i in self.queue.single_queue(count, exclude)]

    def label(self, file, view):
        """Record one photo's decision (single mode)."""
        return self._record([(file, view)], "single")

    def _record(self, decisions, mode):
        rows = []
        for file, view in decisions:
            guess, confidence = self.queue.guess_of(self.queue.index[file])
            rows.append((file, view, guess, confidence))
        action = self.store.record(rows, mode)
        with self.queue.lock:
            for file, _ in decisions:
                self.queue.done[self.queue.index[file]] = True
        return action

    def undo(self):
        """Take back the latest action; returns {"mode", "view", "items"} or None."""
        undone = self.store.undo()
        if undone is None:
            return None
        mode, decisions = undone
        files = [file for file, _, _ in decisions if file in self.queue.index]
        with self.queue.lock:
            for file in files:
                self.queue.done[self.queue.index[file]] = self.store.label_of(file) is not None
        page_view = decisions[0][2] if decisions else None
        if mode == "review" and page_view in self.queue.classes:
            self.turn = self.queue.classes.index(page_view)
        was = {file: view for file, view, _ in decisions}
        return {"mode": mode, "view": page_view or None,
                "items": [{**self.queue.item(self.queue.index[file]), "was": was[file]}
                          for file in files]}

    def state(self):
        """Counts, speed and model progress for the page's header and legend."""
        counts = self.store.counts()
        return {
            "seq": next(self._state_seq),
            "views": list(VIEWS),
            "azimuth": VIEW_AZIMUTH_DEGREES,
            "keys": {**VIEW_KEYS, SKIP: SKIP_KEY},
            "hints": VIEW_HINTS,
            "counts": counts,
            "labelled": sum(counts[view] for view in VIEWS),
            "skipped": counts[SKIP],
            "total": len(self.queue),
            "open": self.queue.open_count(),
            "unreadable": int(self.queue.unreadable.sum()),
            "photos_per_minute": round(self.store.photos_per_minute(), 1),
            "can_undo": self.store.can_undo(),
            "model": self.model_name,
            "model_classes": self.queue.classes,
            "predicted": int(self.queue.predicted.sum() + self.queue.unreadable.sum())
            if self.classifier is not None else 0,
            "predicting": self.queue.predicting,
            "prediction_error": self.queue.prediction_error,
            "page_size": self.page_size,
            "input": str(self.input_dir),
            "labels_file": str(self.store.path),
            "train_command": training_command(
                self.out_dir, self.classifier.run_dir if self.classifier is not None and
                self.classifier.run_dir else None),
        }

    # files -----------------------------------------------------------------------------

    def photo_path(self, name):
        """Path of a listed photo, or None: the only way a name from a request becomes a path."""
        i = self.queue.index.get(name)
        return None if i is None else self.queue.paths[i]

    def thumbnail(self, name, preview=False):
        """(path or bytes, mimetype) of the thumbnail (or the larger single-mode preview) of
        listed photo `name`."""
        path = self.photo_path(name)
        try:
            return (self.previews if preview else self.thumbnails).get(path)
        except (OSError, ValueError):
            with self.queue.lock:
                self.queue.unreadable[self.queue.index[name]] = True
            return self._placeholder, "image/png"

    def close(self):
        """Stop background work, close the files and release the output folder."""
        self.queue.close()
        self._prewarm.shutdown(wait=True, cancel_futures=True)
        self.store.close()
        self._lock.__exit__()


def session_of(app):
    """The `LabellingSession` behind an app made by `create_app`."""
    return app.extensions["cargen_labelling"]


def _hostname(host):
    if host.startswith("["):
        return host[1:].split("]")[0]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _json_object():
    if not request.is_json:
        abort(400, "expected a JSON body (Content-Type: application/json)")
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        abort(400, "the body is not a JSON object")
    return data


def _decision(session, item, what="view"):
    if not isinstance(item, dict):
        abort(400, "each item must be an object with file and view")
    file, view = item.get("file"), item.get(what)
    if not isinstance(file, str) or session.photo_path(file) is None:
        abort(400, f"unknown file {str(file)[:80]!r}")
    if not isinstance(view, str) or view not in DECISIONS:
        abort(400, f"unknown view {str(view)[:40]!r}; valid: {', '.join(DECISIONS)}")
    return file, view


def create_app(input_dir, out_dir, classifier=None, page_size=24, thumb_size=THUMB_SIZE,
               batch_size=64, allowed_hosts=LOOPBACK_NAMES, prewarm=True):
    """The labelling Flask app for the photos in `input_dir`, writing only under `out_dir`.

    `classifier` (a `ViewClassifier`, optional) enables review mode; its guesses are computed
    in a background thread and cached in `OUT/predictions_cache.csv`. `allowed_hosts` are the
    host names requests may be addressed to (None accepts any: when listening beyond loopback).
    With `prewarm` the thumbnails of the next review page are made in the background while
    the user looks at the current one.
    Stop the session's work with `session_of(app).close()`.
    """
    session = LabellingSession(input_dir, out_dir, classifier, page_size, thumb_size,
                               batch_size, prewarm)
    app = Flask(__name__, static_folder=str(STATIC_DIR), static_url_path="/static")
    app.config["MAX_CONTENT_LENGTH"] = 1 << 20
    app.url_map.merge_slashes = False
    app.json.sort_keys = False
    app.extensions["cargen_labelling"] = session

    @app.before_request
    def refuse_foreign_requests():
        """403 for another host name (DNS rebinding) or a cross-site POST."""
        if allowed_hosts is not None and _hostname(request.host) not in allowed_hosts:
            abort(403, "unknown host name")
        if request.method not in ("GET", "HEAD"):
            origin = request.headers.get("Origin")
            if origin is not None and urlsplit(origin).netloc != request.host:
                abort(403, "cross-origin request")

    @app.after_request
    def security_headers(response):
        """No scripts, styles or images from anywhere but here; no caching of the API."""
        response.headers["Content-Security-Policy"] = (
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
            "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["Cross-Origin-Resource-Policy"] = "same-origin"
        if request.path.startswith("/api/") or request.path == "/":
            response.headers["Cache-Control"] = "no-store"
        return response

    @app.errorhandler(HTTPException)
    def json_error(error):
        """Errors as JSON: {"error": what is wrong, "status": code}."""
        response = jsonify(error=error.description, status=error.code)
        response.status_code = error.code
        return response

    @app.get("/")
    def index():
        """The page."""
        return send_from_directory(STATIC_DIR, "index.html")

    @app.get("/api/state")
    def state():
        """Counts, speed and model progress."""
        return jsonify(state=session.state())

    @app.get("/api/page")
    def page():
        """The next review page (one view, most confident first) and the state."""
        return jsonify(page=session.review_page(), state=session.state())

    @app.get("/api/queue")
    def queue():
        """The next `count` photos for single mode, leaving out `exclude` names."""
        try:
            count = int(request.args.get("count", "10"))
        except ValueError:
            abort(400, "count must be a whole number")
        if not 1 <= count <= MAX_QUEUE_REQUEST:
            abort(400, f"count must be between 1 and {MAX_QUEUE_REQUEST}")
        exclude = request.args.getlist("exclude")[:1000]
        return jsonify(items=session.single_items(count, exclude), state=session.state())

    @app.post("/api/label")
    def label():
        """Record one decision: {"file", "view"} (a view or skip)."""
        file, view = _decision(session, _json_object())
        action = session.label(file, view)
        return jsonify(action=action, state=session.state())

    @app.post("/api/accept")
    def accept():
        """Record a review page: {"view", "items": [{"file", "view"}]}, one action."""
        data = _json_object()
        view, items = data.get("view"), data.get("items")
        if view not in VIEWS:
            abort(400, f"unknown page view {str(view)[:40]!r}")
        if not isinstance(items, list) or not 1 <= len(items) <= MAX_PAGE_ITEMS:
            abort(400, f"items must be a list of 1 to {MAX_PAGE_ITEMS} decisions")
        decisions = [_decision(session, item) for item in items]
        if len({file for file, _ in decisions}) != len(decisions):
            abort(400, "a file appears twice on the page")
        action = session.accept_page(view, decisions)
        return jsonify(action=action, state=session.state())

    @app.post("/api/undo")
    def undo():
        """Take back the latest action; answers what was undone."""
        _json_object()
        return jsonify(undone=session.undo(), state=session.state())

    @app.post("/api/next-view")
    def next_view():
        """Pass the review turn to the next view."""
        _json_object()
        session.next_view()
        return jsonify(state=session.state())

    @app.get("/thumb/<path:name>")
    def thumb(name):
        """The thumbnail of a listed photo (404 for anything else)."""
        if session.photo_path(name) is None:
            abort(404, "no such photo")
        content, mimetype = session.thumbnail(name)
        if isinstance(content, bytes):
            return app.response_class(content, mimetype=mimetype)
        return send_file(content, mimetype=mimetype, max_age=3600)

    @app.get("/preview/<path:name>")
    def preview(name):
        """The single-mode preview (at most 1280 px) of a listed photo."""
        if session.photo_path(name) is None:
            abort(404, "no such photo")
        content, mimetype = session.thumbnail(name, preview=True)
        if isinstance(content, bytes):
            return app.response_class(content, mimetype=mimetype)
        return send_file(content, mimetype=mimetype, max_age=3600)

    @app.get("/image/<path:name>")
    def image(name):
        """The original file of a listed photo."""
        path = session.photo_path(name)
        if path is None:
            abort(404, "no such photo")
        mimetype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return send_file(path, mimetype=mimetype, max_age=3600)

    return app


def serve(app, host="127.0.0.1", port=8765, ready=None):
    """Serve `app` with werkzeug's threaded server until Ctrl-C; `ready(url)` is called once
    it listens. Returns when stopped."""
    from werkzeug.serving import make_server
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    try:
        server = make_server(host, port, app, threaded=True)
    except OSError as error:
        raise UsageError(f"cannot listen on {host}:{port} ({error.strerror or error}); "
                         f"pick another --port") from None
    shown = f"[{host}]" if ":" in host else host
    if ready is not None:
        ready(f"http://{shown}:{server.port}/")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the close
        server.server_close()
