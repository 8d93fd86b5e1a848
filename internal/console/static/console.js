// kstack console: the few behaviours htmx does not cover. No inline
// script is allowed by the console's Content-Security-Policy; everything
// user-supplied is inserted as text, never as HTML.
(function () {
  "use strict";

  // Follow a pod's logs: server-sent events, one line per event.
  function follow(el) {
    if (el.dataset.started) return;
    el.dataset.started = "1";
    var src = new EventSource(el.dataset.logs);
    var status = document.getElementById(el.dataset.status);
    src.onmessage = function (ev) {
      var atEnd = el.scrollTop + el.clientHeight >= el.scrollHeight - 4;
      el.appendChild(document.createTextNode(ev.data + "\n"));
      if (atEnd) el.scrollTop = el.scrollHeight;
    };
    src.addEventListener("status", function (ev) { if (status) status.textContent = ev.data; });
    src.addEventListener("end", function (ev) { if (status) status.textContent = ev.data; src.close(); });
    src.onerror = function () { if (status) status.textContent = "Disconnected; reconnecting…"; };
  }

  // A web shell: xterm.js over the Kubernetes exec websocket
  // (v5.channel.k8s.io: the first byte of each message is the stream).
  function shell(el) {
    if (el.dataset.started || !window.Terminal) return;
    el.dataset.started = "1";
    var term = new window.Terminal({ convertEol: true, cursorBlink: true, fontSize: 13 });
    var fit = window.FitAddon ? new window.FitAddon.FitAddon() : null;
    if (fit) term.loadAddon(fit);
    term.open(el);
    if (fit) fit.fit();
    var status = document.getElementById(el.dataset.status);
    var url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + el.dataset.shell;
    var ws = new WebSocket(url, ["v5.channel.k8s.io"]);
    ws.binaryType = "arraybuffer";
    var enc = new TextEncoder(), dec = new TextDecoder();
    function send(channel, bytes) {
      var buf = new Uint8Array(bytes.length + 1);
      buf[0] = channel; buf.set(bytes, 1);
      ws.send(buf);
    }
    function resize() {
      if (ws.readyState === 1) send(4, enc.encode(JSON.stringify({ Width: term.cols, Height: term.rows })));
    }
    ws.onopen = function () { if (status) status.textContent = "Connected"; resize(); term.focus(); };
    ws.onmessage = function (ev) {
      var data = new Uint8Array(ev.data);
      if (data.length < 1) return;
      var ch = data[0], rest = data.subarray(1);
      if (ch === 1 || ch === 2) term.write(dec.decode(rest, { stream: true }));
      if (ch === 3) {
        var msg = dec.decode(rest);
        try { var st = JSON.parse(msg); if (st.status !== "Success") term.write("\r\n" + (st.message || msg) + "\r\n"); } catch (e) { term.write("\r\n" + msg + "\r\n"); }
      }
    };
    ws.onclose = function () { if (status) status.textContent = "Session ended"; };
    ws.onerror = function () { if (status) status.textContent = "The shell could not connect"; };
    term.onData(function (d) { if (ws.readyState === 1) send(0, enc.encode(d)); });
    window.addEventListener("resize", function () { if (fit) { fit.fit(); resize(); } });
    el.kstackTerm = term;
  }

  // A merged log opens at its newest lines.
  function toEnd(el) { el.scrollTop = el.scrollHeight; }

  // Copy buttons: data-copy names the element whose text goes to the
  // clipboard. Without the clipboard API (a page not served over HTTPS),
  // the text is selected for the user to copy.
  function copier(btn) {
    if (btn.dataset.bound) return;
    btn.dataset.bound = "1";
    var label = btn.textContent;
    function select(el) {
      var range = document.createRange();
      range.selectNodeContents(el);
      var sel = window.getSelection();
      sel.removeAllRanges();
      sel.addRange(range);
    }
    function said(text) {
      btn.textContent = text;
      setTimeout(function () { btn.textContent = label; }, 1500);
    }
    btn.addEventListener("click", function () {
      var src = document.getElementById(btn.dataset.copy);
      if (!src) return;
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(src.textContent).then(function () { said("Copied"); },
          function () { select(src); said("Press Ctrl+C"); });
      } else {
        select(src);
        said("Press Ctrl+C");
      }
    });
  }

  function init(root) {
    (root.querySelectorAll ? root : document).querySelectorAll("pre[data-end]").forEach(toEnd);
    (root.querySelectorAll ? root : document).querySelectorAll("[data-logs]").forEach(follow);
    (root.querySelectorAll ? root : document).querySelectorAll("[data-shell]").forEach(shell);
    (root.querySelectorAll ? root : document).querySelectorAll("button[data-copy]").forEach(copier);
  }
  document.addEventListener("DOMContentLoaded", function () { init(document); });
  document.addEventListener("htmx:load", function (ev) { init(ev.target); });
})();
