// cargen labeller: the page's logic. Plain JavaScript, no framework, nothing from the network.
// Two modes: review (a grid of photos the model puts in one view; mark the wrong ones, Enter
// accepts the page) and single (one photo, a key per view). Every decision is POSTed at once,
// in order, through one promise chain; the server appends it to labels.csv before answering.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const SKIP = "skip";
  const S = {
    info: null,          // the last /api/state
    mode: null,          // "review" | "single"
    page: null,          // the review page shown
    cursor: 0,
    marks: new Map(),    // file -> view or skip, for the photos the user corrected
    restoreMarks: null,  // marks to put back after an undone page is shown again
    queue: [],           // single mode: photos to come, the first one is on screen
    pending: new Set(),  // files whose decision is on its way to the server
    shown: null,         // single mode: the file on screen
    busy: false,
    refilling: false,
    chain: Promise.resolve(),
  };
  let keyToView = {};

  // ---- server ---------------------------------------------------------------------------

  async function api(path, body) {
    const options = body === undefined ? {} : {
      method: "POST",
      headers: {"Content-Type": "application/json"},
      body: JSON.stringify(body),
    };
    const response = await fetch(path, options);
    const data = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(data.error || response.statusText);
    if (data.state) applyState(data.state);
    return data;
  }

  // Writes run one after another, in the order they were made.
  function enqueue(task) {
    S.chain = S.chain.then(task).catch((error) => {
      toast("Not saved: " + error.message, true);
      return reload();
    });
    return S.chain;
  }

  const thumbUrl = (file) => "/thumb/" + encodeURIComponent(file);
  const previewUrl = (file) => "/preview/" + encodeURIComponent(file);
  const percent = (p) => (p === null || p === undefined) ? "–" : Math.round(p * 100) + "%";
  const number = (n) => n.toLocaleString("en-US");

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function toast(text, bad) {
    const box = $("toast");
    box.textContent = text;
    box.className = "show" + (bad ? " bad" : "");
    clearTimeout(toast.timer);
    toast.timer = setTimeout(() => { box.className = ""; }, bad ? 4000 : 1600);
  }

  // ---- header and legend ----------------------------------------------------------------

  function glyph(view) {
    // A car seen from above (front up) with a dot where the camera stands.
    const ns = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 28 28");
    svg.setAttribute("class", "glyph");
    const add = (tag, attrs) => {
      const node = document.createElementNS(ns, tag);
      for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
      svg.appendChild(node);
    };
    const azimuth = S.info.azimuth[view];
    if (azimuth === undefined) {
      add("circle", {cx: 14, cy: 14, r: 7, class: "glyph-car"});
      add("circle", {cx: 14, cy: 14, r: 2.4, class: "glyph-cam"});
      return svg;
    }
    add("rect", {x: 9.5, y: 5, width: 9, height: 18, rx: 3.5, class: "glyph-car"});
    add("line", {x1: 10.5, y1: 10, x2: 17.5, y2: 10, class: "glyph-car"});
    const a = azimuth * Math.PI / 180;
    add("circle", {cx: 14 - 11 * Math.cos(a), cy: 14 - 11 * Math.sin(a), r: 3,
                   class: "glyph-cam"});
    return svg;
  }

  function buildLegend() {
    const list = $("view-keys");
    list.textContent = "";
    for (const view of S.info.views.concat([SKIP])) {
      const item = el("li", "v-" + view);
      item.dataset.view = view;
      item.title = S.info.hints[view] || "";
      item.appendChild(el("kbd", "", S.info.keys[view]));
      item.appendChild(view === SKIP ? el("span", "glyph") : glyph(view));
      item.appendChild(el("span", "name", view));
      item.appendChild(el("span", "count", "0"));
      const bar = el("i", "bar");
      item.appendChild(bar);
      item.addEventListener("click", () => decide(view));
      list.appendChild(item);
    }
  }

  function applyState(state) {
    const first = S.info === null;
    if (!first && state.seq < S.info.seq) return;  // an answer overtaken by a newer one
    S.info = state;
    keyToView = {};
    for (const [view, key] of Object.entries(state.keys)) keyToView[key] = view;
    if (first) buildLegend();
    $("stat-labelled").textContent = number(state.labelled);
    $("stat-open").textContent = number(state.open);
    $("stat-rate").textContent = state.photos_per_minute.toFixed(0);
    if (state.model) {
      $("stat-model").textContent = state.predicting
        ? number(state.predicted) + " / " + number(state.total) : state.model;
      $("stat-model-label").textContent = state.prediction_error
        ? "model failed: " + state.prediction_error
        : state.predicting ? "guessing in the background" : "model";
    }
    const most = Math.max(1, ...Object.values(state.counts));
    for (const item of $("view-keys").children) {
      const count = state.counts[item.dataset.view] || 0;
      item.querySelector(".count").textContent = number(count);
      item.querySelector(".bar").style.width = (100 * count / most).toFixed(1) + "%";
    }
    $("undo").disabled = !state.can_undo;
    if (S.mode === "single" && !S.queue.length && !S.refilling) {
      if (state.open > S.pending.size) refill();
      else renderSingle();
    }
  }

  function helpKeys() {
    const rows = S.mode === "review" ? [
      ["← → ↑ ↓", "move between photos"],
      ["1 – 9", "relabel the photo under the cursor"],
      ["s", "skip the photo under the cursor"],
      ["Del", "clear the photo's mark"],
      ["Enter", "accept the whole page"],
      ["n", "next view, accept nothing"],
      ["u", "undo the last decision"],
      ["Tab", "single mode"],
    ] : [
      ["1 – 9", "label the photo"],
      ["Enter", "accept the top guess"],
      ["s", "skip the photo"],
      ["u", "undo the last decision"],
      ["Tab", "review mode"],
    ];
    const list = $("help-keys");
    list.textContent = "";
    for (const [keys, meaning] of rows) {
      list.appendChild(el("dt", "", keys));
      list.appendChild(el("dd", "", meaning));
    }
  }

  function show(section) {
    for (const id of ["review", "single", "empty"]) $(id).hidden = id !== section;
    for (const button of document.querySelectorAll(".mode")) {
      button.classList.toggle("active", button.dataset.mode === S.mode);
    }
    document.body.dataset.mode = S.mode;
    helpKeys();
  }

  function showEmpty(title, text, command) {
    $("empty-title").textContent = title;
    $("empty-text").textContent = text;
    $("empty-command").textContent = command || "";
    $("empty-command").hidden = !command;
    show("empty");
  }

  // the export, then the training on it (fine-tuning the guessing model when there is one)
  function exportCommand() {
    const out = S.info.labels_file.replace(/\/labels\.csv$/, "");
    return "python classifier/label_images.py --input " + S.info.input + " --out " + out +
      " --export\n" + S.info.train_command;
  }

  // ---- review mode ----------------------------------------------------------------------

  async function loadPage() {
    S.busy = true;
    try {
      const data = await api("/api/page");
      S.page = data.page;
      S.cursor = 0;
      S.marks = new Map();
      if (S.restoreMarks) {
        for (const item of S.page.items) {
          const was = S.restoreMarks.get(item.file);
          if (was && was !== S.page.view) S.marks.set(item.file, was);
        }
        S.restoreMarks = null;
      }
      if (S.mode === "review") renderPage();
    } finally {
      S.busy = false;
    }
  }

  function renderPage() {
    const page = S.page;
    if (!page || !page.view) {
      const waiting = S.info.predicting && S.info.model;
      showEmpty(waiting ? "Waiting for the model's guesses…" : "Review: nothing to show",
        (page && page.reason ? page.reason[0].toUpperCase() + page.reason.slice(1) + ". " : "") +
        (S.info.open ? "Tab switches to single mode for the rest." :
          "Every photo is decided. Write the training folders and train on them with:"),
        S.info.open ? "" : exportCommand());
      return;
    }
    const title = $("page-title");
    title.textContent = "";
    const chip = el("span", "chip v-" + page.view);
    chip.appendChild(el("kbd", "", S.info.keys[page.view]));
    chip.appendChild(document.createTextNode(page.view));
    title.appendChild(chip);
    title.appendChild(document.createTextNode(
      page.items.length + " photos the model calls " + page.view));
    $("page-sub").textContent = "Most confident first, " + number(page.left_in_view) +
      " open in this view. Mark the wrong ones (arrows or click, then a view key); " +
      "Enter accepts the page.";
    const grid = $("grid");
    grid.textContent = "";
    page.items.forEach((item, index) => {
      const figure = el("figure", "thumb");
      figure.dataset.file = item.file;
      figure.dataset.index = index;
      const frame = el("div", "frame");
      const image = el("img");
      image.src = thumbUrl(item.file);
      image.alt = item.file;
      image.decoding = "async";
      frame.appendChild(image);
      frame.appendChild(el("div", "badge"));
      figure.appendChild(frame);
      const caption = el("figcaption");
      const meter = el("span", "meter");
      const fill = el("i");
      fill.style.width = percent(item.confidence);
      meter.appendChild(fill);
      caption.appendChild(meter);
      caption.appendChild(el("span", "pct", percent(item.confidence)));
      caption.appendChild(el("span", "fname", item.file));
      figure.appendChild(caption);
      figure.addEventListener("click", () => { S.cursor = index; updateGrid(); });
      grid.appendChild(figure);
    });
    grid.dataset.pageId = page.page_id;
    grid.dataset.view = page.view;
    show("review");
    fitGrid();
    updateGrid();
  }

  function updateGrid() {
    const figures = $("grid").children;
    for (const figure of figures) {
      const index = Number(figure.dataset.index);
      const mark = S.marks.get(figure.dataset.file);
      figure.classList.toggle("cursor", index === S.cursor);
      figure.className = figure.className.replace(/\bv-\S+/g, "").trim();
      figure.classList.toggle("marked", Boolean(mark));
      if (mark) figure.classList.add("v-" + mark);
      figure.dataset.mark = mark || "";
      const badge = figure.querySelector(".badge");
      badge.textContent = mark ? (S.info.keys[mark] + "  " + mark) : "";
    }
    const cursorFigure = figures[S.cursor];
    if (cursorFigure) cursorFigure.scrollIntoView({block: "nearest"});
  }

  // Choose the column count that shows the whole page at the largest thumbnail size.
  function fitGrid() {
    const grid = $("grid");
    const count = grid.children.length;
    if (!count || $("review").hidden) return;
    const gap = 12, caption = 36, aspect = 3 / 4, smallest = 150;
    const main = $("main");
    const width = grid.clientWidth;
    const top = grid.getBoundingClientRect().top - main.getBoundingClientRect().top;
    const height = main.clientHeight - top - 28;
    let best = null;
    for (let columns = 1; columns <= count; columns++) {
      const rows = Math.ceil(count / columns);
      const byWidth = (width - gap * (columns - 1)) / columns;
      const byHeight = ((height - gap * (rows - 1)) / rows - caption) / aspect;
      const size = Math.min(byWidth, byHeight);
      if (!best || size > best.size) best = {columns, size};
    }
    if (best.size < smallest) {
      grid.style.gridTemplateColumns = "";
    } else {
      grid.style.gridTemplateColumns = "repeat(" + best.columns + ", " +
        Math.floor(best.size) + "px)";
    }
  }
  window.addEventListener("resize", fitGrid);

  function gridColumns() {
    const columns = getComputedStyle($("grid")).gridTemplateColumns.split(" ").length;
    return Math.max(1, columns);
  }

  function moveCursor(key) {
    const count = S.page.items.length;
    const columns = gridColumns();
    const step = {ArrowLeft: -1, ArrowRight: 1, ArrowUp: -columns, ArrowDown: columns}[key];
    const target = S.cursor + step;
    if (target >= 0 && target < count) S.cursor = target;
    else if (key === "ArrowRight") S.cursor = count - 1;
    else if (key === "ArrowLeft") S.cursor = 0;
    updateGrid();
  }

  function mark(view) {
    const item = S.page.items[S.cursor];
    if (!item) return;
    if (view === null || view === S.page.view) S.marks.delete(item.file);
    else S.marks.set(item.file, view);
    updateGrid();
  }

  async function acceptPage() {
    if (S.busy || !S.page || !S.page.view) return;
    const view = S.page.view;
    const items = S.page.items.map((item) => ({file: item.file,
                                               view: S.marks.get(item.file) || view}));
    S.busy = true;
    await enqueue(async () => {
      await api("/api/accept", {view, items});
      const fixed = items.filter((item) => item.view !== view).length;
      toast("Saved " + items.length + " · " + fixed + " corrected");
    });
    await loadPage();
  }

  async function nextView() {
    if (S.busy) return;
    S.busy = true;
    await enqueue(() => api("/api/next-view", {}));
    await loadPage();
  }

  // ---- single mode ----------------------------------------------------------------------

  function renderSingle() {
    const item = S.queue[0];
    if (!item) {
      S.shown = null;
      if (S.refilling || S.info.open > 0) showEmpty("Loading…", "");
      else showEmpty("Every photo is decided",
                     "Write the training folders and train on them with:", exportCommand());
      return;
    }
    show("single");
    if (S.shown === item.file) return;
    S.shown = item.file;
    $("photo").src = previewUrl(item.file);
    $("photo").alt = item.file;
    $("single").dataset.file = item.file;
    $("single-file").textContent = item.file;
    const list = $("top3");
    list.textContent = "";
    if (!item.top.length) list.appendChild(el("li", "none", "no guess yet"));
    item.top.forEach(([view, p], rank) => {
      const row = el("li", "v-" + view + (rank === 0 ? " top" : ""));
      row.appendChild(el("kbd", "", S.info.keys[view]));
      const name = el("span", "name", view);
      name.appendChild(el("small", "", S.info.hints[view] || ""));
      row.appendChild(name);
      const meter = el("span", "meter");
      const fill = el("i");
      fill.style.width = percent(p);
      meter.appendChild(fill);
      row.appendChild(meter);
      row.appendChild(el("span", "pct", percent(p)));
      row.addEventListener("click", () => decide(view));
      list.appendChild(row);
    });
    $("single-left").textContent = number(S.info.open) + " photos to go" +
      (item.confidence !== null ? " · least sure first" : "");
    for (const next of S.queue.slice(1, 4)) new Image().src = previewUrl(next.file);
  }

  function labelSingle(view) {
    const item = S.queue.shift();
    if (!item) return;
    S.pending.add(item.file);
    renderSingle();
    enqueue(() => api("/api/label", {file: item.file, view})
      .finally(() => S.pending.delete(item.file)));
    if (S.queue.length < 6) refill();
  }

  async function refill() {
    if (S.refilling) return;
    S.refilling = true;
    try {
      await S.chain;
      const params = new URLSearchParams({count: "16"});
      for (const item of S.queue) params.append("exclude", item.file);
      for (const file of S.pending) params.append("exclude", file);
      const data = await api("/api/queue?" + params.toString());
      const known = new Set(S.queue.map((item) => item.file));
      for (const item of data.items) {
        if (!known.has(item.file) && !S.pending.has(item.file)) S.queue.push(item);
      }
    } finally {
      S.refilling = false;
    }
    if (S.mode === "single") renderSingle();
  }

  // ---- shared ---------------------------------------------------------------------------

  function decide(view) {
    if (S.mode === "review") mark(view);
    else if (S.mode === "single") labelSingle(view);
  }

  function undo() {
    enqueue(async () => {
      const data = await api("/api/undo", {});
      const undone = data.undone;
      if (!undone) { toast("Nothing to undo"); return; }
      toast("Undone: " + undone.items.length + (undone.items.length === 1 ? " photo" :
                                                " photos") + " (" + undone.mode + ")");
      if (S.mode === "single") {
        const files = new Set(undone.items.map((item) => item.file));
        S.queue = S.queue.filter((item) => !files.has(item.file));
        S.queue.unshift(...undone.items);
        S.shown = null;
        renderSingle();
      } else {
        S.restoreMarks = new Map(undone.items.map((item) => [item.file, item.was]));
        await loadPage();
      }
    });
  }

  async function setMode(mode) {
    if (mode === "review" && !S.info.model) {
      toast("Review mode needs a model: start with --model RUN", true);
      return;
    }
    S.mode = mode;
    if (mode === "review") {
      await loadPage();
    } else {
      S.shown = null;
      S.queue = [];
      renderSingle();
      await refill();
    }
  }

  async function reload() {
    S.queue = [];
    S.shown = null;
    if (S.mode === "review") await loadPage();
    else await refill();
  }

  document.addEventListener("keydown", (event) => {
    if (!S.info || event.altKey || event.metaKey) return;
    const key = event.key;
    if (event.ctrlKey) {
      if (key === "z" || key === "Z") { event.preventDefault(); undo(); }
      return;
    }
    if (key === "Tab") {
      event.preventDefault();
      setMode(S.mode === "review" ? "single" : "review");
      return;
    }
    if (key === "u" || key === "U") { undo(); return; }
    const view = keyToView[key] || (key === "s" || key === "S" ? SKIP : null);
    if (S.mode === "review") {
      if (S.busy || !S.page || !S.page.view) return;
      if (key.startsWith("Arrow")) { event.preventDefault(); moveCursor(key); }
      else if (key === "Home") { S.cursor = 0; updateGrid(); }
      else if (key === "End") { S.cursor = S.page.items.length - 1; updateGrid(); }
      else if (key === "Enter" || key === " ") {
        event.preventDefault();
        if (!event.repeat) acceptPage();
      } else if (key === "Delete" || key === "Backspace" || key === "Escape") mark(null);
      else if (key === "n" || key === "N") nextView();
      else if (view) mark(view);
    } else if (S.mode === "single") {
      const item = S.queue[0];
      if (!item) return;
      if (key === "Enter") {
        event.preventDefault();
        if (!event.repeat && item.guess) labelSingle(item.guess);
      } else if (view) labelSingle(view);
    }
  });

  for (const button of document.querySelectorAll(".mode")) {
    button.addEventListener("click", () => setMode(button.dataset.mode));
  }
  $("undo").addEventListener("click", undo);

  async function poll() {
    try {
      const before = S.info.predicting;
      await api("/api/state");
      const pageEmpty = S.mode === "review" && (!S.page || !S.page.view);
      if (pageEmpty && !S.busy && (before || S.info.predicting)) await loadPage();
    } catch (error) {
      toast("The labeller is not answering: " + error.message, true);
    }
    setTimeout(poll, S.info && S.info.predicting ? 1500 : 5000);
  }

  (async () => {
    await api("/api/state");
    await setMode(S.info.model ? "review" : "single");
    setTimeout(poll, 1500);
  })();
})();
