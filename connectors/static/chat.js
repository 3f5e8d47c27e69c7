// Trợ lý TTHC web chat: vanilla JS, history in localStorage, pushes by polling.
(function () {
  "use strict";
  var HISTORY_KEY = "tthc.history.v1";
  var SENDER_KEY = "tthc.sender.v1";
  var MAX_HISTORY = 200;
  var POLL_MS = 5000;
  var LIVE_POLL_MS = 1500;  // for two minutes after the citizen writes or staff answer: a live exchange
  var LIVE_FOR_MS = 120000;
  var liveUntil = 0;
  var MAX_CHARS = 2000;
  var log = document.getElementById("log");
  var form = document.getElementById("form");
  var input = document.getElementById("input");
  var send = document.getElementById("send");
  var busy = false;

  function uuid() {
    if (window.crypto && crypto.randomUUID) { return crypto.randomUUID(); }
    var b = new Uint8Array(16);
    crypto.getRandomValues(b);
    b[6] = (b[6] & 15) | 64; b[8] = (b[8] & 63) | 128;
    var h = Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }
  function load(key, fallback) {
    try { var v = localStorage.getItem(key); return v ? JSON.parse(v) : fallback; } catch (e) { return fallback; }
  }
  function save(key, value) { try { localStorage.setItem(key, JSON.stringify(value)); } catch (e) { /* full or disabled */ } }

  var sender = load(SENDER_KEY, null);
  if (typeof sender !== "string" || !/^web:[A-Za-z0-9_-]{8,64}$/.test(sender)) {
    sender = "web:" + uuid();
    save(SENDER_KEY, sender);
  }
  var history = load(HISTORY_KEY, []);
  if (!Array.isArray(history)) { history = []; }

  function scroll() { log.scrollTop = log.scrollHeight; }

  function render(entry, live) {
    var el = document.createElement("div");
    el.className = "msg " + entry.who;
    el.textContent = entry.text || "";
    if (entry.image) {
      var img = document.createElement("img");
      img.src = entry.image; img.alt = "Hình ảnh"; img.loading = "lazy";
      el.appendChild(img);
    }
    if (entry.text || entry.image) { log.appendChild(el); }
    if (entry.buttons && entry.buttons.length) {
      var row = document.createElement("div");
      row.className = "buttons";
      entry.buttons.forEach(function (b) {
        var btn = document.createElement("button");
        btn.type = "button";
        btn.textContent = b.title;
        btn.disabled = !live;
        btn.addEventListener("click", function () { submit(b.title, b.payload); });
        row.appendChild(btn);
      });
      log.appendChild(row);
    }
    scroll();
  }
  function disableOldButtons() {
    Array.prototype.forEach.call(log.querySelectorAll(".buttons button"), function (b) { b.disabled = true; });
  }
  function add(entry) {
    history.push(entry);
    if (history.length > MAX_HISTORY) { history = history.slice(-MAX_HISTORY); }
    save(HISTORY_KEY, history);
    render(entry, true);
  }
  function addBotMessages(messages) {
    if (messages.length) { disableOldButtons(); }
    messages.forEach(function (m) {
      add({who: "bot", text: m.text || "", buttons: m.buttons || [], image: m.image || ""});
    });
  }

  function setBusy(on) {
    busy = on; send.disabled = on;
    var t = document.getElementById("typing");
    if (on && !t) {
      t = document.createElement("div"); t.id = "typing"; t.className = "typing"; t.textContent = "Trợ lý đang trả lời…";
      log.appendChild(t); scroll();
    } else if (!on && t) { t.remove(); }
  }

  function submit(shown, payload) {
    if (busy) { return; }
    shown = (shown || "").trim();
    if (!shown) { return; }
    if (payload.length > MAX_CHARS) {
      render({who: "error", text: "Tin nhắn dài quá 2.000 ký tự, anh/chị vui lòng rút gọn giúp em nhé."}, true);
      return;
    }
    disableOldButtons();
    liveUntil = Date.now() + LIVE_FOR_MS;
    add({who: "user", text: shown});
    setBusy(true);
    fetch("/api/chat", {
      method: "POST",
      headers: {"Content-Type": "application/json"},
      body: JSON.stringify({sender: sender, message: payload})
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (body) { return {ok: r.ok, body: body}; });
    }).then(function (res) {
      setBusy(false);
      if (!res.ok) {
        render({who: "error", text: res.body.message || "Không gửi được tin nhắn, anh/chị vui lòng thử lại."}, true);
        return;
      }
      addBotMessages(res.body.messages || []);
    }).catch(function () {
      setBusy(false);
      render({who: "error", text: "Mất kết nối tới máy chủ, anh/chị vui lòng thử lại sau ít phút."}, true);
    });
  }

  function poll() {
    fetch("/api/chat/poll?sender=" + encodeURIComponent(sender)).then(function (r) {
      return r.ok ? r.json() : {messages: []};
    }).then(function (body) {
      if ((body.messages || []).length) { liveUntil = Date.now() + LIVE_FOR_MS; }
      addBotMessages(body.messages || []);
    }).catch(function () { /* offline: try again later */ }).then(function () {
      setTimeout(poll, Date.now() < liveUntil ? LIVE_POLL_MS : POLL_MS);
    });
  }

  history.forEach(function (e, i) { render(e, i === history.length - 1); });
  if (!history.length) {
    render({who: "bot", text: "Xin chào anh/chị! Em là Trợ lý TTHC. Anh/chị cần hỏi thủ tục hay tra cứu hồ sơ ạ?",
            buttons: [{title: "Hỏi thủ tục", payload: "/ask_procedure"}, {title: "Tra cứu hồ sơ", payload: "/check_status"}]}, true);
  }

  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var text = input.value;
    if (!text.trim() || busy) { return; }
    input.value = "";
    submit(text, text.trim());
  });
  input.addEventListener("keydown", function (ev) {
    if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) { ev.preventDefault(); form.requestSubmit(); }
  });
  document.getElementById("reset").addEventListener("click", function () {
    history = []; save(HISTORY_KEY, history); log.innerHTML = "";
  });
  poll();
})();
