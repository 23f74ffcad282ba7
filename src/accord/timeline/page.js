// The timeline page's script: a virtualised list of rows (only the rows in view are in
// the DOM, so a 60-minute session stays a few hundred nodes), an overview strip drawn on
// a canvas with zoom, a filter by item id, and a hover card showing each row's frame.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("timeline-data").textContent);
  var rows = data.rows;
  var involved = new Set(data.involved);
  var ROW = 24, OVERSCAN = 20;
  var list = document.getElementById("list");
  var spacer = document.getElementById("spacer");
  var card = document.getElementById("card");
  var filterBox = document.getElementById("filter");
  var shown = rows;  // the rows passing the filter
  var view = {from: 0, to: data.duration || 1};

  function fmt(t) { return data.unit === "step" ? "step " + Math.round(t) : t.toFixed(3) + " s"; }
  function text(el, value) { el.textContent = value; return el; }
  function span(cls, value) { var s = document.createElement("span"); s.className = cls; return text(s, value); }

  function rowElement(r) {
    var el = document.createElement("div");
    el.className = "row lane-" + r.lane + " kind-" + r.kind;
    el.style.top = (r.pos * ROW) + "px";
    el.dataset.row = r.index;
    el.dataset.kind = r.kind;
    el.dataset.count = r.count;
    if (r.kind === "op") { el.dataset.opId = r.ref || ""; }
    if (r.kind === "event") {
      el.dataset.eventType = r.type;
      if (r.ref) { el.dataset.ackOf = r.ref; }
    }
    if (r.status === "failed") { el.dataset.status = "failed"; }
    if (r.items.some(function (i) { return involved.has(i); })) { el.classList.add("involved"); }
    el.appendChild(span("t", fmt(r.t)));
    var cell = document.createElement("span");
    cell.className = "cell";
    var label = r.label;
    if (r.kind === "event" && r.count > 1) { label += " \u00d7" + r.count; }
    if (r.kind === "op") { label = "\u2192 " + label + (r.items.length ? " " + r.items[0] : ""); }
    if (r.kind === "event" && r.ref) { label = "\u2190 " + label + " (answers " + r.ref + ")"; }
    if (r.kind === "op") {  // the verdict first: it is what a reader scans the lane for
      cell.appendChild(span("badge " + r.status, r.status === "acked" ? "\u2713 acked" : r.status === "failed" ? "\u2717 refused" : "sent"));
    }
    cell.appendChild(span("label", label));
    if (r.end !== null && r.end !== undefined) {
      cell.appendChild(span("dur", " " + Math.round(1000 * (r.end - r.t)) + " ms"));
    }
    if (r.detail) { cell.appendChild(span("detail", " " + r.detail)); }
    if (r.kind === "op") { cell.appendChild(span("items", " " + (r.ref || ""))); }
    else if (r.items.length) { cell.appendChild(span("items", " [" + r.items.join(", ") + "]")); }
    el.appendChild(cell);
    return el;
  }

  function render() {
    var top = list.scrollTop, height = list.clientHeight;
    var first = Math.max(0, Math.floor(top / ROW) - OVERSCAN);
    var last = Math.min(shown.length, Math.ceil((top + height) / ROW) + OVERSCAN);
    var frag = document.createDocumentFragment();
    for (var i = first; i < last; i++) { frag.appendChild(rowElement(shown[i])); }
    spacer.replaceChildren(frag);
    spacer.style.height = (shown.length * ROW) + "px";
    document.getElementById("status").textContent =
      shown.length + " of " + rows.length + " rows; showing " + (last - first);
  }

  function applyFilter() {
    var wanted = filterBox.value.trim();
    shown = wanted ? rows.filter(function (r) {
      return r.items.some(function (i) { return i.indexOf(wanted) >= 0; }) ||
        (r.ref || "").indexOf(wanted) >= 0;
    }) : rows;
    shown.forEach(function (r, i) { r.pos = i; });
    list.scrollTop = 0;
    render();
    draw();
  }

  // -- the overview strip: every row on a time axis, spans as bars, zoomable ----------
  var canvas = document.getElementById("overview");
  var LANES = {app: 0, wire: 1, server: 2};
  function x(t) { return (t - view.from) / (view.to - view.from) * canvas.width; }
  function draw() {
    var ctx = canvas.getContext("2d");
    canvas.width = canvas.clientWidth;
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    var laneH = canvas.height / 3;
    ctx.fillStyle = "#888";
    ["app / engine", "wire (client ops)", "server"].forEach(function (name, i) {
      ctx.fillText(name, 4, i * laneH + 12);
    });
    shown.forEach(function (r) {
      var y = LANES[r.lane] * laneH + 16;
      var x0 = x(r.t), x1 = r.end ? Math.max(x(r.end), x0 + 2) : x0 + 2;
      if (x1 < 0 || x0 > canvas.width) { return; }
      ctx.fillStyle = r.status === "failed" ? "#d33" : r.kind === "tool" ? "#e90" :
        r.kind === "response" ? "#58c" : r.kind === "audio" ? "#4a4" : "#999";
      var h = r.kind === "response" || r.kind === "tool" || r.kind === "audio" ? 8 : 4;
      var off = r.kind === "response" ? 10 : r.kind === "audio" ? 20 : 0;
      ctx.fillRect(x0, y + off, x1 - x0, h);
      if (r.kind === "violation" || r.kind === "lost") {
        ctx.fillStyle = r.kind === "lost" ? "#b0008a" : "#d33";
        ctx.fillRect(x0 - 1, 0, 3, canvas.height);
      }
    });
    document.getElementById("range").textContent = fmt(view.from) + " \u2013 " + fmt(view.to);
  }
  function zoom(factor) {
    var mid = (view.from + view.to) / 2, half = (view.to - view.from) * factor / 2;
    view.from = Math.max(0, mid - half);
    view.to = Math.min(data.duration || 1, mid + half);
    if (view.to - view.from < 0.001) { view.to = view.from + 0.001; }
    draw();
  }
  function jumpTo(t) {
    var i = shown.findIndex(function (r) { return r.t >= t; });
    list.scrollTop = Math.max(0, (i < 0 ? shown.length : i) * ROW - list.clientHeight / 3);
  }
  canvas.addEventListener("click", function (e) {
    jumpTo(view.from + e.offsetX / canvas.width * (view.to - view.from));
  });
  canvas.addEventListener("wheel", function (e) { e.preventDefault(); zoom(e.deltaY > 0 ? 1.25 : 0.8); });
  document.getElementById("zoom-in").addEventListener("click", function () { zoom(0.5); });
  document.getElementById("zoom-out").addEventListener("click", function () { zoom(2); });
  document.getElementById("zoom-reset").addEventListener("click", function () {
    view = {from: 0, to: data.duration || 1}; draw();
  });
  document.querySelectorAll("[data-jump]").forEach(function (a) {
    a.addEventListener("click", function (e) {
      e.preventDefault(); filterBox.value = ""; applyFilter();
      var r = rows[Number(a.dataset.jump)];
      list.scrollTop = Math.max(0, r.pos * ROW - list.clientHeight / 3);
    });
  });

  // -- hover: the frame (or the detail) of the row under the pointer ----------------
  spacer.addEventListener("mouseover", function (e) {
    var el = e.target.closest(".row");
    if (!el) { card.hidden = true; return; }
    var r = rows[Number(el.dataset.row)];
    card.textContent = r.frame || r.detail || r.label;
    card.hidden = false;
  });
  spacer.addEventListener("mouseleave", function () { card.hidden = true; });

  list.addEventListener("scroll", render);
  filterBox.addEventListener("input", applyFilter);
  window.addEventListener("resize", function () { render(); draw(); });
  var hash = decodeURIComponent(location.hash.slice(1));  // page.html#item=ID opens filtered
  if (hash.indexOf("item=") === 0) { filterBox.value = hash.slice(5); }
  applyFilter();
  var firstViolation = rows.find(function (r) { return r.kind === "violation" || r.kind === "lost"; });
  if (firstViolation && !filterBox.value) {
    list.scrollTop = Math.max(0, firstViolation.pos * ROW - list.clientHeight / 3);
    render();
  }
  document.body.dataset.ready = "true";
})();
