// kstack console: monitoring charts, drawn with the vendored uPlot.
// A chart is a [data-chart] element with a hidden [data-query] span per
// series. Its data comes from /console/monitor/query_range, which asks the
// platform's Prometheus API as the logged-in user, for the range of the
// [data-monitor] section around it. Once drawn, the chart's data-points is
// the number of points drawn (0: no data) and data-state is drawn, empty
// or error. Everything from the API is inserted as text, never as HTML.
(function () {
  "use strict";

  var palette = ["#1f5fbf", "#d9480f", "#2b8a3e", "#862e9c", "#c92a2a", "#0b7285", "#5f3dc4", "#e67700", "#495057", "#a61e4d"];
  // The labels an unnamed line is called by when no label tells it apart.
  var namers = ["workload_name", "container", "pod", "node", "namespace", "project", "cluster", "__name__"];
  var statuses = {};
  var plots = [];

  function trim(v, digits) {
    var s = v.toFixed(digits);
    if (s.indexOf(".") >= 0) s = s.replace(/0+$/, "").replace(/\.$/, "");
    return s;
  }

  function bytes(v) {
    var units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"], i = 0;
    while (Math.abs(v) >= 1024 && i < units.length - 1) { v /= 1024; i++; }
    return trim(v, i === 0 || Math.abs(v) >= 100 ? 0 : 1) + " " + units[i];
  }

  // format says v in the chart's unit: cores as kubectl does (250m, 1.5),
  // bytes in binary units, B/s, percent, or a plain count.
  function format(unit, v) {
    if (v == null || !isFinite(v)) return "–";
    switch (unit) {
      case "cores": return v !== 0 && Math.abs(v) < 1 ? trim(v * 1000, 0) + "m" : trim(v, 2);
      case "bytes": return bytes(v);
      case "Bps": return bytes(v) + "/s";
      case "percent": return trim(v, 1) + "%";
      default: return trim(v, 2);
    }
  }

  function pad(n) { return n < 10 ? "0" + n : String(n); }

  // timeLabel is an axis time in UTC, as the range picker takes times:
  // with the day when the chart spans more than one.
  function timeLabel(t, span) {
    var d = new Date(t * 1000), hm = pad(d.getUTCHours()) + ":" + pad(d.getUTCMinutes());
    return span > 86400 ? pad(d.getUTCMonth() + 1) + "-" + pad(d.getUTCDate()) + " " + hm : hm;
  }

  // Byte axes step by powers of two (16 MiB, 32 MiB), not of ten.
  var byteIncrs = [];
  for (var k = 0; k < 6; k++) [1, 2, 4, 8, 16, 32, 64, 128, 256, 512].forEach(function (m) { byteIncrs.push(m * Math.pow(1024, k)); });

  // legends name each line by its query's name and the values of the
  // labels that tell the chart's lines apart.
  function legends(lines) {
    var seen = {};
    lines.forEach(function (l) {
      Object.keys(l.metric).forEach(function (k) { (seen[k] = seen[k] || {})[l.metric[k]] = true; });
    });
    var differ = Object.keys(seen).filter(function (k) { return Object.keys(seen[k]).length > 1; }).sort();
    return lines.map(function (l) {
      var parts = l.name ? [l.name] : [];
      differ.forEach(function (k) {
        if (l.metric[k] != null && !(k === "__name__" && l.name)) parts.push(l.metric[k]);
      });
      if (!parts.length) {
        for (var i = 0; i < namers.length; i++) {
          if (l.metric[namers[i]] != null) { parts.push(l.metric[namers[i]]); break; }
        }
      }
      return parts.join(" ") || "value";
    });
  }

  function note(plotEl, text, cls) {
    var p = document.createElement("p");
    p.className = "chart-note" + (cls ? " " + cls : "");
    p.textContent = text;
    plotEl.replaceChildren(p);
  }

  function fetchJSON(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } }).then(function (resp) {
      var type = resp.headers.get("Content-Type") || "";
      if (type.indexOf("json") < 0) {
        // The session ended: the console answered with its login page.
        throw new Error(resp.redirected ? "your session has ended: reload the page" : "the platform answered " + resp.status);
      }
      return resp.json().then(function (body) { return { resp: resp, body: body }; });
    });
  }

  // query asks for one series' range: its lines and the range the console
  // used (Unix seconds), so that the chart spans all of it.
  function query(sec, q) {
    var p = new URLSearchParams();
    p.set("query", q);
    ["range", "step", "start", "end"].forEach(function (k) { if (sec.dataset[k]) p.set(k, sec.dataset[k]); });
    return fetchJSON("/console/monitor/query_range?" + p.toString()).then(function (a) {
      var b = a.body;
      if (b.status !== "success") throw new Error(b.error || b.message || "the platform answered " + a.resp.status);
      var h = a.resp.headers;
      return { result: (b.data && b.data.result) || [], start: +h.get("X-Monitor-Start"), end: +h.get("X-Monitor-End"), step: +h.get("X-Monitor-Step") };
    });
  }

  // status is a cluster's collection status, or null when the user may
  // not read it (then no reason is given).
  function status(cluster) {
    if (!statuses[cluster]) {
      statuses[cluster] = fetchJSON("/console/monitor/clusters/" + encodeURIComponent(cluster) + "/status")
        .then(function (a) { return a.resp.ok ? a.body : null; }, function () { return null; });
    }
    return statuses[cluster];
  }

  // why says why a cluster's charts are empty or stale; "" when nothing is wrong.
  function why(cluster, st) {
    if (!st) return "";
    if (!st.enabled) return "Monitoring is off for cluster " + cluster + ": the platform collects none of its metrics.";
    if (st.lastError) return "Collection from cluster " + cluster + " is failing: " + st.lastError;
    if (!st.lastScrape || st.lastScrape.indexOf("0001-") === 0) return "Cluster " + cluster + " has not been collected yet.";
    return "";
  }

  function draw(el, answers, names) {
    var plotEl = el.querySelector(".chart-plot");
    var unit = el.dataset.unit || "count";
    var lines = [], missing = [];
    answers.forEach(function (a, i) {
      if (!a.result.length && names[i]) missing.push(names[i]);
      a.result.forEach(function (r) { lines.push({ name: names[i], metric: r.metric || {}, values: r.values || [] }); });
    });
    // The times: the whole range at its step, so that gaps stay gaps,
    // and any time an answer has besides.
    var times = {}, f = answers[0];
    if (f && f.step > 0 && f.end >= f.start && (f.end - f.start) / f.step <= 20000) {
      for (var t = f.start; t <= f.end; t += f.step) times[Math.round(t * 1000)] = t;
    }
    lines.forEach(function (l) { l.values.forEach(function (p) { times[Math.round(p[0] * 1000)] = p[0]; }); });
    var keys = Object.keys(times).map(Number).sort(function (a, b) { return a - b; });
    var index = {};
    keys.forEach(function (k, i) { index[k] = i; });
    var data = [keys.map(function (k) { return times[k]; })], points = 0, last = null;
    lines.forEach(function (l, li) {
      var ys = new Array(keys.length).fill(null);
      l.values.forEach(function (p) {
        var v = parseFloat(p[1]);
        if (isFinite(v)) { ys[index[Math.round(p[0] * 1000)]] = v; points++; if (li === 0) last = v; }
      });
      data.push(ys);
    });
    el.dataset.points = String(points);
    // The first line's latest value, as drawn (what a test compares).
    if (last !== null) el.dataset.last = String(last);
    var extra = el.querySelector(".chart-missing");
    if (extra) extra.remove();
    if (!points) {
      el.dataset.state = "empty";
      note(plotEl, "No data for this time range.", "empty");
      explain(el, plotEl);
      return;
    }
    var labels = legends(lines);
    var opts = {
      width: Math.max(plotEl.clientWidth, 260),
      height: 200,
      tzDate: function (ts) { return uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC"); },
      scales: { y: { range: function (u, min, max) { return [Math.min(0, min), max > 0 ? max * 1.1 : 1]; } } },
      axes: [
        { values: function (u, splits) { var span = u.scales.x.max - u.scales.x.min; return splits.map(function (t) { return timeLabel(t, span); }); } },
        { size: unit === "bytes" || unit === "Bps" ? 84 : 60, incrs: unit === "bytes" || unit === "Bps" ? byteIncrs : undefined,
          values: function (u, splits) { return splits.map(function (v) { return format(unit, v); }); } },
      ],
      series: [{ value: "{YYYY}-{MM}-{DD} {HH}:{mm}:{ss} UTC" }].concat(labels.map(function (label, i) {
        return { label: label, stroke: palette[i % palette.length], width: 1.5, value: function (u, v) { return format(unit, v); } };
      })),
    };
    plotEl.replaceChildren();
    var u = new uPlot(opts, data, plotEl);
    plots.push({ u: u, el: plotEl });
    el.dataset.state = "drawn";
    if (missing.length) {
      // A series a source does not give is absent, never drawn as zero.
      var m = document.createElement("p");
      m.className = "chart-note chart-missing";
      m.textContent = "No data for: " + missing.join(", ") + ".";
      el.appendChild(m);
    }
  }

  // explain adds the cluster's collection problem to an empty chart.
  function explain(el, plotEl) {
    var cluster = el.dataset.cluster;
    if (!cluster) return;
    status(cluster).then(function (st) {
      var reason = why(cluster, st);
      if (reason && el.dataset.state === "empty") note(plotEl, "No data. " + reason, "empty");
    });
  }

  function chart(el) {
    if (el.dataset.started) return;
    el.dataset.started = "1";
    var sec = el.closest("[data-monitor]");
    var plotEl = el.querySelector(".chart-plot");
    if (!sec || !plotEl) return;
    if (!window.uPlot) {
      el.dataset.points = "0";
      el.dataset.state = "error";
      note(plotEl, "The chart library did not load: reload the page.", "error");
      return;
    }
    var spans = Array.prototype.slice.call(el.querySelectorAll("[data-query]"));
    var names = spans.map(function (s) { return s.dataset.name || ""; });
    Promise.all(spans.map(function (s) { return query(sec, s.dataset.query); })).then(function (answers) {
      draw(el, answers, names);
    }, function (err) {
      el.dataset.points = "0";
      el.dataset.state = "error";
      note(plotEl, "The platform refused the chart's query: " + err.message, "error");
    });
  }

  // statusLine shows, above a section's charts, why its cluster's are
  // empty or stale.
  function statusLine(el) {
    if (el.dataset.started) return;
    el.dataset.started = "1";
    var cluster = el.dataset.monitorStatus;
    status(cluster).then(function (st) {
      var reason = why(cluster, st);
      if (reason) { el.textContent = reason; el.hidden = false; }
    });
  }

  // The picker shows a preset range at once; a custom one waits for Show.
  function picker(form) {
    if (form.dataset.started) return;
    form.dataset.started = "1";
    form.addEventListener("change", function (ev) {
      var range = form.elements.range;
      if (ev.target.tagName === "SELECT" && range && range.value !== "custom") form.requestSubmit();
    });
  }

  function init(root) {
    var r = root.querySelectorAll ? root : document;
    r.querySelectorAll("[data-monitor-status]").forEach(statusLine);
    r.querySelectorAll("form.monitor-range").forEach(picker);
    r.querySelectorAll("[data-chart]").forEach(chart);
  }

  var resizing;
  window.addEventListener("resize", function () {
    clearTimeout(resizing);
    resizing = setTimeout(function () {
      plots.forEach(function (p) { p.u.setSize({ width: Math.max(p.el.clientWidth, 260), height: 200 }); });
    }, 150);
  });
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", function () { init(document); });
  else init(document);
  document.addEventListener("htmx:load", function (ev) { init(ev.target); });
})();
