"""How fast the labelling page shows a review page of 24 thumbnails from 20,000 photos (< 300 ms).

Writes --distinct drawn jpgs and hard-links them under --photos names (cheap on disk; every name
still gets its own thumbnail), builds a tiny untrained 32 px classifier, starts the labelling
app (classifier/labeller/app.py) on a free port and lets it guess every photo in its background
thread (reported in photos/s). Then, like a browser, it loads review pages: GET /api/page plus
the page's thumbnails over 6 parallel connections. Cold pages (no thumbnail cached, no
background pre-warming), the same pages again warm (thumbnails cached on disk), and as used
(the next page's thumbnails were made in the background while the user looked at the previous
one). Baseline, same run: the same thumbnails made the naive way, full decode without draft
mode and no cache, over the same 6 parallel workers. Also: start-up with the predictions cache.

  python benchmarks/labeller_speed.py
  python benchmarks/labeller_speed.py --photo-size 1600x1200 --guesses random   # camera-sized
"""

import argparse
import io
import json
import logging
import os
import shutil
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from cargen.cli import UsageError, quiet_tensorflow, run_main

TARGET_MS = 300.0
BROWSER_CONNECTIONS = 6


def parse_args(argv):
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=int, default=20000,
                        help="photos in the folder (default: 20000)")
    parser.add_argument("--distinct", type=int, default=200,
                        help="distinct jpgs behind the hard links (default: 200)")
    parser.add_argument("--photo-size", default="320x240",
                        help="WIDTHxHEIGHT of the photos; The Car Connection's are about "
                             "320x240 (default: 320x240)")
    parser.add_argument("--pages", type=int, default=5, help="pages timed (default: 5)")
    parser.add_argument("--page-size", type=int, default=24, help="photos a page (default: 24)")
    parser.add_argument("--guesses", choices=("model", "random"), default="model",
                        help="who guesses the views: a tiny untrained 32 px model that "
                             "decodes every photo, or random numbers without decoding (page "
                             "timings only, quick on big photos) (default: model)")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="folder for the photos and output (default: a temporary one)")
    args = parser.parse_args(argv)
    try:
        args.width, args.height = (int(v) for v in args.photo_size.lower().split("x"))
    except ValueError:
        raise UsageError(f"--photo-size must look like 320x240, not {args.photo_size!r}")
    return args


def write_photos(folder, count, distinct, size, seed=0):
    """`count` jpgs in `folder`: `distinct` drawn ones, the rest hard links to them."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    width, height = size
    originals = []
    for i in range(distinct):
        image = Image.new("RGB", size, tuple(int(v) for v in rng.integers(60, 230, 3)))
        draw = ImageDraw.Draw(image)
        for _ in range(6):
            x0, y0 = rng.integers(0, width), rng.integers(0, height)
            x1, y1 = x0 + rng.integers(10, width // 2), y0 + rng.integers(10, height // 2)
            draw.ellipse([x0, y0, x1, y1], fill=tuple(int(v) for v in rng.integers(0, 256, 3)))
        noise = rng.integers(0, 24, (height, width, 3), dtype=np.uint8)
        image = Image.fromarray(np.clip(np.asarray(image) + noise, 0, 255).astype(np.uint8))
        path = folder / f"Make_Model_2020_30000_17_300_3.0_V6_4_2_Sedan_{i:05d}.jpg"
        image.save(path, quality=88)
        originals.append(path)
    for i in range(distinct, count):
        target = folder / f"Make_Model_2020_30000_17_300_3.0_V6_4_2_Sedan_{i:05d}.jpg"
        if not target.exists():
            try:
                os.link(originals[i % distinct], target)
            except OSError:
                target.write_bytes(originals[i % distinct].read_bytes())


def tiny_classifier(run_dir):
    """Build and load an untrained 32 px classifier over the nine views (speed only)."""
    quiet_tensorflow()
    import keras

    from cargen.views import VIEWS
    from classifier.inference import load_classifier, write_classes_json
    keras.utils.set_random_seed(0)
    inputs = keras.Input((32, 32, 3))
    x = keras.layers.Rescaling(1 / 127.5, offset=-1)(inputs)
    x = keras.layers.Conv2D(8, 3, strides=2, activation="relu")(x)
    x = keras.layers.Conv2D(16, 3, strides=2, activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D(name="features")(x)
    outputs = keras.layers.Dense(len(VIEWS), activation="softmax")(x)
    run_dir.mkdir(parents=True, exist_ok=True)
    keras.Model(inputs, outputs).save(run_dir / "model.keras")
    write_classes_json(run_dir, VIEWS, 32, "stretch")
    return load_classifier(run_dir)


class RandomGuesser:
    """Stands in for a classifier: random probabilities, nothing decoded."""

    def __init__(self):
        from cargen.views import VIEWS
        self.classes, self.run_dir = list(VIEWS), None
        self.rng = np.random.default_rng(0)

    def dataset(self, paths, batch_size):
        """Batches of (blank images, indices, ok) like `ViewClassifier.dataset`."""
        for start in range(0, len(paths), batch_size):
            indices = np.arange(start, min(start + batch_size, len(paths)))
            yield np.zeros((len(indices), 1, 1, 3), np.uint8), indices, np.ones(len(indices), bool)

    def predict(self, images):
        """Random probabilities over the views."""
        return self.rng.dirichlet(np.ones(len(self.classes)) * 0.3, len(images))


class Server:
    """The app on a free loopback port in a thread."""

    def __init__(self, app):
        from werkzeug.serving import make_server
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def get(self, path):
        """GET `path`; the body."""
        with urllib.request.urlopen(self.url + path, timeout=60) as reply:
            return reply.read()

    def post(self, path, body):
        """POST `body` as JSON to `path`; the JSON answer."""
        request = urllib.request.Request(self.url + path, json.dumps(body).encode(),
                                         {"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as reply:
            return json.loads(reply.read())

    def stop(self):
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()


def load_page(server, pool):
    """Time one page as a browser loads it: the page JSON, then its thumbnails in parallel."""
    start, cpu = time.perf_counter(), time.process_time()
    page = json.loads(server.get("/api/page"))["page"]
    query = time.perf_counter() - start
    urls = ["/thumb/" + urllib.parse.quote(item["file"]) for item in page["items"]]
    list(pool.map(server.get, urls))
    return page, query, time.perf_counter() - start, time.process_time() - cpu


class NaiveThumbnails:
    """Baseline thumbnails: every request decodes the whole photo (no draft mode, no cache)."""

    def __init__(self, size):
        self.size = size

    def get(self, source):
        """(JPEG bytes, mimetype) made now from `source`."""
        from classifier.labeller.thumbnails import make_thumbnail
        buffer = io.BytesIO()
        make_thumbnail(source, self.size, draft=False).save(buffer, "JPEG", quality=85)
        return buffer.getvalue(), "image/jpeg"


def accept(server, page):
    """Accept a page as the model guessed it."""
    server.post("/api/accept", {"view": page["view"], "items": [
        {"file": item["file"], "view": page["view"]} for item in page["items"]]})


def run_pages(server, pool, count, think_seconds=0.0):
    """Load and accept `count` pages in a row, then undo them all; returns {"wall": page
    seconds, "cpu": CPU seconds of the whole process a page, "query": /api/page seconds}."""
    times = {"wall": [], "cpu": [], "query": []}
    for _ in range(count):
        page, query, wall, cpu = load_page(server, pool)
        if not page["items"]:
            break
        times["wall"].append(wall)
        times["cpu"].append(cpu)
        times["query"].append(query)
        accept(server, page)
        time.sleep(think_seconds)
    for _ in times["wall"]:
        server.post("/api/undo", {})
    return times


def main(argv=None):
    """Run the benchmark and print its figures."""
    args = parse_args(argv)
    from classifier.labeller.app import create_app, session_of
    from classifier.labeller.thumbnails import Thumbnails
    with tempfile.TemporaryDirectory(prefix="labeller-speed-") as scratch:
        work = args.workdir or Path(scratch)
        photos, out = work / "pictures", work / "labelled"
        start = time.perf_counter()
        write_photos(photos, args.photos, args.distinct, (args.width, args.height))
        print(f"photos: {args.photos:,} of {args.width}x{args.height} in {photos} "
              f"({time.perf_counter() - start:.1f} s to write)")
        classifier = (tiny_classifier(work / "tiny_run") if args.guesses == "model" else
                      RandomGuesser())

        start = time.perf_counter()
        app = create_app(photos, out, classifier, page_size=args.page_size, prewarm=False)
        startup = time.perf_counter() - start
        session = session_of(app)
        session.queue.wait_for_predictions()
        predict_seconds = time.perf_counter() - start - startup
        print(f"start-up, no cache: {startup * 1000:.0f} ms (listing {args.photos:,} photos); "
              f"background guesses: {args.photos / predict_seconds:,.0f} photos/s "
              f"({predict_seconds:.1f} s, "
              f"{'tiny 32 px model' if args.guesses == 'model' else 'random, no decoding'})")
        session.close()

        start = time.perf_counter()
        app = create_app(photos, out, classifier, page_size=args.page_size, prewarm=False)
        session = session_of(app)
        print(f"start-up with the predictions cache: "
              f"{(time.perf_counter() - start) * 1000:.0f} ms, "
              f"{session.queue.cached_predictions:,} guesses read, none recomputed")
        server = Server(app)
        pool = ThreadPoolExecutor(BROWSER_CONNECTIONS)
        try:
            load_before = os.getloadavg()[0]
            thumbnails = session.thumbnails
            cold = run_pages(server, pool, args.pages)
            session.thumbnails = NaiveThumbnails(thumbnails.size)
            naive = run_pages(server, pool, args.pages)
            session.thumbnails = thumbnails
            warm = run_pages(server, pool, args.pages)
            shutil.rmtree(out / ".thumbs", ignore_errors=True)
            session.thumbnails = Thumbnails(out / ".thumbs", thumbnails.size)
            session.prewarm = True
            used = run_pages(server, pool, args.pages + 1, think_seconds=1.5)
            used = {key: values[1:] for key, values in used.items()}  # page 1: nothing ahead
            load_after = os.getloadavg()[0]
        finally:
            pool.shutdown()
            server.stop()
            session.close()

    def ms(times):
        if not times["wall"]:
            return "no pages"
        return (f"median {np.median(times['wall']) * 1000:5.0f} ms, "
                f"max {max(times['wall']) * 1000:5.0f} ms; "
                f"CPU {np.median(times['cpu']) * 1000:4.0f} ms")

    print(f"\npage of {args.page_size} thumbnails from {args.photos:,} photos, "
          f"{BROWSER_CONNECTIONS} parallel connections (wall time; CPU time of the process):")
    print(f"  page query alone (/api/page):     median "
          f"{np.median(cold['query']) * 1000:.0f} ms, max {max(cold['query']) * 1000:.0f} ms")
    print(f"  cold (thumbnails made now):       {ms(cold)}")
    print(f"  warm (thumbnails cached):         {ms(warm)}")
    print(f"  as used (next page made ahead):   {ms(used)}")
    print(f"  baseline, full decode, no cache:  {ms(naive)}")
    print(f"load average {load_before:.1f} -> {load_after:.1f} on {os.cpu_count()} CPUs: wall "
          f"times stretch when other work shares the machine, CPU times much less")
    ratio = np.median(naive["wall"]) / np.median(cold["wall"])
    cpu_ratio = np.median(naive["cpu"]) / np.median(cold["cpu"])
    slowest = max(cold["wall"]) * 1000
    verdict = "meets" if slowest < TARGET_MS else "misses"
    print(f"cold page vs baseline: {ratio:.1f}x faster (CPU {cpu_ratio:.1f}x less); slowest "
          f"cold page {slowest:.0f} ms {verdict} the {TARGET_MS:.0f} ms target")
    return 0


if __name__ == "__main__":
    run_main(main)
