"""End to end in a real headless Chromium: label 20 photos by keyboard in both modes.

Needs Debian's `chromium` and `chromium-driver` (`make test` installs them where missing);
Selenium drives /usr/bin/chromedriver directly, nothing is downloaded. Elsewhere, point
CARGEN_CHROMIUM and CARGEN_CHROMEDRIVER at a Chromium and its matching driver.
"""

import csv
import os
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from classifier.inference import load_classifier
from classifier.labeller.app import create_app, session_of
from classifier.labeller.label_log import export_labels
from tests.labeller_photos import make_photos

CHROMIUM = Path(os.environ.get("CARGEN_CHROMIUM", "/usr/bin/chromium"))
CHROMEDRIVER = Path(os.environ.get("CARGEN_CHROMEDRIVER", "/usr/bin/chromedriver"))
# The README's picture: `CARGEN_SCREENSHOT=media/labeller.png make test` retakes it; by default
# the screenshot goes to the test's temporary folder so a test run leaves the tree clean.
SCREENSHOT_ENV = "CARGEN_SCREENSHOT"
CHROME_FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--window-size=1280,800",
                "--force-device-scale-factor=1", "--hide-scrollbars")


@pytest.fixture
def browser(tmp_path):
    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not path.exists()]
    if missing:
        pytest.fail(f"{', '.join(missing)} missing: apt-get install chromium chromium-driver "
                    f"(make test does this as root), or set CARGEN_CHROMIUM and "
                    f"CARGEN_CHROMEDRIVER")
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    profile = tmp_path / "chromium-profile"
    options = Options()
    options.binary_location = str(CHROMIUM)
    for flag in CHROME_FLAGS + (f"--user-data-dir={profile}",):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)),
                              options=options)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def labeller(tmp_path, tiny_classifier_run):
    """A labelling app for 20 drawn photos with the tiny model, served on a free port."""
    folder = tmp_path / "pictures"
    truth = make_photos(folder, 20)
    app = create_app(folder, tmp_path / "labelled", load_classifier(tiny_classifier_run),
                     page_size=12)
    session = session_of(app)
    session.queue.wait_for_predictions(timeout=60)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.port}/", session, folder, truth
    finally:
        server.shutdown()
        server.server_close()
        session.close()


class Keyboard:
    """Sends keys to the page and counts them."""

    def __init__(self, driver):
        from selenium.webdriver.common.action_chains import ActionChains
        self.driver, self.chains, self.count = driver, ActionChains, 0

    def press(self, key, times=1):
        for _ in range(times):
            self.chains(self.driver).send_keys(key).perform()
            self.count += 1


def wait_for(driver, script, timeout=20):
    """Poll `script` in the page until it returns something true; on a timeout, fail with
    what the page shows."""
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait
    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.05).until(
            lambda d: d.execute_script(script))
    except TimeoutException:
        shown = driver.execute_script("return document.getElementById('main').innerText")
        pytest.fail(f"page never satisfied {script.strip()[:200]!r}; it shows: {shown[:500]!r}")


def read_page(driver):
    return driver.execute_script("""
        const grid = document.getElementById('grid');
        return {id: grid.dataset.pageId, view: grid.dataset.view,
                columns: getComputedStyle(grid).gridTemplateColumns.split(' ').length,
                files: [...grid.children].map(f => f.dataset.file),
                marks: [...grid.children].map(f => f.dataset.mark)};""")


def test_label_20_photos_by_keyboard_in_both_modes(browser, labeller, tmp_path):
    from selenium.webdriver.common.keys import Keys
    url, session, folder, truth = labeller
    keys = session.state()["keys"]
    keyboard = Keyboard(browser)
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": 1280, "height": 800, "deviceScaleFactor": 1, "mobile": False})
    browser.get(url)
    wait_for(browser, "return !document.getElementById('review').hidden && "
                      "document.querySelectorAll('#grid img').length > 0")
    wait_for(browser, "return [...document.querySelectorAll('#grid img')]"
                      ".every(i => i.complete && i.naturalWidth > 0)")

    # Review mode: move to each wrong guess, press its view's key, Enter accepts the page.
    # Pages come until at least half of the photos are labelled; the first one is undone
    # (its marks come back) and accepted again.
    reviewed, pages, biggest = 0, 0, 0
    while reviewed < 10:
        page = read_page(browser)
        if not page["files"]:
            break
        cursor = 0
        wrong = [i for i, file in enumerate(page["files"]) if truth[file] != page["view"]]
        for index in wrong:
            rows = index // page["columns"] - cursor // page["columns"]
            columns = index % page["columns"] - cursor % page["columns"]
            keyboard.press(Keys.ARROW_DOWN if rows > 0 else Keys.ARROW_UP, abs(rows))
            keyboard.press(Keys.ARROW_RIGHT if columns > 0 else Keys.ARROW_LEFT, abs(columns))
            keyboard.press(keys[truth[page["files"][index]]])
            cursor = index
        marked = read_page(browser)["marks"]
        assert [mark or page["view"] for mark in marked] == [truth[f] for f in page["files"]]
        if len(page["files"]) > biggest:
            wait_for(browser, "return [...document.querySelectorAll('#grid img')]"
                              ".every(i => i.complete && i.naturalWidth > 0)")
            browser.execute_script("document.getElementById('toast').className = ''")
            wait_for(browser, "return getComputedStyle(document.getElementById('toast'))"
                              ".opacity === '0'")
            screenshot = Path(os.environ.get(SCREENSHOT_ENV) or tmp_path / "labeller.png")
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            assert browser.save_screenshot(str(screenshot))
            biggest = len(page["files"])
        keyboard.press(Keys.ENTER)
        wait_for(browser, f"return document.getElementById('grid').dataset.pageId !== "
                          f"'{page['id']}' || !document.getElementById('empty').hidden")
        assert session.state()["labelled"] == reviewed + len(page["files"])
        if pages == 0:
            shown = read_page(browser)["id"]
            keyboard.press("u")
            wait_for(browser, f"return document.getElementById('grid').dataset.pageId !== "
                              f"'{shown}' && !document.getElementById('review').hidden")
            again = read_page(browser)
            assert again["files"] == page["files"] and again["marks"] == marked
            assert session.state()["labelled"] == reviewed
            keyboard.press(Keys.ENTER)
            wait_for(browser, f"return document.getElementById('grid').dataset.pageId !== "
                              f"'{again['id']}' || !document.getElementById('empty').hidden")
        reviewed += len(page["files"])
        pages += 1
    review_keys = keyboard.count
    assert 0 < reviewed < 20

    # Single mode for the rest: one key per photo; one slip is undone with `u`.
    keyboard.press(Keys.TAB)
    slipped = False
    while True:
        file = wait_for(browser, """
            const single = document.getElementById('single');
            if (!document.getElementById('empty').hidden &&
                document.getElementById('empty-title').textContent.startsWith('Every'))
                return 'done';
            return single.hidden ? false : single.dataset.file;""")
        if file == "done":
            break
        if not slipped:
            wrong_view = next(view for view in keys if view not in (truth[file], "skip"))
            keyboard.press(keys[wrong_view])
            keyboard.press("u")
            wait_for(browser, f"return document.getElementById('single').dataset.file === "
                              f"{file!r} && !document.getElementById('single').hidden")
            slipped = True
        keyboard.press(keys[truth[file]])
        wait_for(browser, f"return document.getElementById('single').dataset.file !== {file!r}"
                          f" || !document.getElementById('empty').hidden")

    rate = wait_for(browser, "return Number(document.getElementById('stat-rate').textContent)"
                             " > 0 && document.getElementById('stat-labelled').textContent")
    assert rate == "20"
    with open(session.store.path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert {row["mode"] for row in rows} == {"review", "single"}
    assert sum(row["view"] == "undo" for row in rows) == 2
    assert session.store.labels() == truth

    summary = export_labels(session.store.labels(), folder, session.out_dir, 0.2, seed=0)
    exported = {path.name: path.parent.name
                for path in session.out_dir.glob("*/*/*.jpg")
                if path.parts[-3] in ("train", "validation")}
    assert exported == truth
    assert sum(t + v for t, v in summary["views"].values()) == 20
    print(f"\nkeypresses for 20 photos: {keyboard.count} ({review_keys} in review for "
          f"{reviewed} photos on {pages} pages, incl. one undo and re-accept; "
          f"{keyboard.count - review_keys} in single mode for {20 - reviewed}, incl. Tab and "
          f"one slip + undo)")
