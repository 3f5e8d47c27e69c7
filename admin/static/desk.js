// The live hand-over desk: server-sent events tell it something changed; it re-reads the queue and the open pane.
(function () {
  "use strict";
  var root = document.getElementById("desk");
  if (!root) return;
  var csrf = root.dataset.csrf, me = root.dataset.me, canAct = root.dataset.act === "1";
  var queue = document.getElementById("queue"), pane = document.getElementById("pane");
  var messages = document.getElementById("messages"), notice = document.getElementById("notice");
  var current = null, lastMessage = 0, known = null, audio = null, loading = null, again = false;
  var AUTHORS = {citizen: "Người dân", history_user: "Người dân", bot: "Trợ lý", history_bot: "Trợ lý"};
  var CLASSES = {citizen: "user", history_user: "user", bot: "bot", history_bot: "bot", staff: "staff",
                 note: "note", system: "system"};

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;  // text only: citizens' messages never become markup
    return e;
  }
  function minutes(s) { return s < 60 ? s + " giây" : Math.floor(s / 60) + " phút"; }
  function showError(text) { document.getElementById("pane-error").textContent = text || ""; }

  function beep() {
    // The audible half of the notice; browsers allow it once staff have interacted with the page.
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      var osc = audio.createOscillator(), gain = audio.createGain();
      osc.frequency.value = 880; gain.gain.value = 0.15;
      osc.connect(gain); gain.connect(audio.destination);
      osc.start(); osc.stop(audio.currentTime + 0.35);
      root.dataset.beeps = String(Number(root.dataset.beeps || "0") + 1);
    } catch (e) { /* no audio device */ }
  }

  function post(path, data) {
    var body = new URLSearchParams(data || {});
    body.set("csrf_token", csrf);
    return fetch(path, {method: "POST", credentials: "same-origin", body: body}).then(function (r) {
      return r.json().catch(function () {
        return {ok: false, error: r.status === 403 ? "Tài khoản không có quyền (hoặc phiên đã hết hạn)." : "Lỗi " + r.status};
      }).then(function (b) { if (!r.ok) { b.ok = false; } return b; });
    });
  }

  function renderQueue(data) {
    var waiting = data.sessions.filter(function (s) { return s.status === "waiting"; });
    document.getElementById("waiting-count").textContent = String(waiting.length);
    var ids = waiting.map(function (s) { return s.id; });
    if (known !== null) {
      var fresh = ids.filter(function (id) { return known.indexOf(id) < 0; });
      if (fresh.length) {
        notice.textContent = "Có người dân mới đang chờ hỗ trợ (" + fresh.length + ").";
        notice.hidden = false;
        beep();
        document.title = "(" + waiting.length + ") Hỗ trợ trực tiếp";
      }
    }
    known = ids;
    queue.textContent = "";
    data.sessions.forEach(function (s) {
      var li = el("li", s.status + (current === s.id ? " on" : ""));
      li.dataset.id = String(s.id);
      li.appendChild(el("b", "", "#" + s.id + " · " + s.channel_label + " · " + s.status_label));
      var topic = s.topic.code ? (s.topic.kind === "dossier" ? "Hồ sơ " : "Thủ tục ") + s.topic.code : "Chưa rõ chủ đề";
      li.appendChild(el("div", "muted", topic + " · chờ " + minutes(s.waiting_s) + (s.claimed_by ? " · " + s.claimed_by : "")));
      if (s.last_text) li.appendChild(el("div", "last", s.last_text));
      li.addEventListener("click", function () { open(s.id); });
      queue.appendChild(li);
    });
  }

  function loadQueue() {
    return fetch("/admin/desk/queue", {credentials: "same-origin", cache: "no-store"})
      .then(function (r) { return r.json(); }).then(renderQueue);
  }

  function renderSession(data) {
    var s = data.session;
    pane.hidden = false;
    document.getElementById("pane-title").textContent = "#" + s.id + " · " + s.channel_label + " · " + s.sender;
    var topic = s.topic.code ? (s.topic.kind === "dossier" ? "Hồ sơ " : "Thủ tục ") + s.topic.code + " · " : "";
    document.getElementById("pane-meta").textContent = topic + s.status_label +
      (s.claimed_by ? " · đang giữ: " + s.claimed_by : " · chưa ai nhận");
    pane.dataset.status = s.status;
    pane.dataset.holder = s.claimed_by;
    data.messages.forEach(function (m) {
      if (m.id <= lastMessage) return;  // already shown (an answer to an earlier request)
      var who = AUTHORS[m.kind] || m.author || "";
      var line = el("div", CLASSES[m.kind] || "bot");
      line.dataset.kind = m.kind;
      if (m.kind !== "system") line.appendChild(el("b", "", (m.kind === "note" ? "Ghi chú · " : "") + (who || m.author) + ": "));
      line.appendChild(el("span", "text", m.text));
      messages.appendChild(line);
      lastMessage = Math.max(lastMessage, m.id);
    });
    if (data.messages.length) messages.scrollTop = messages.scrollHeight;
    if (canAct) {
      var closed = s.status === "closed";
      document.getElementById("claim").disabled = closed || s.claimed_by === me;
      document.getElementById("send").disabled = closed || !s.can_message;
      document.getElementById("handback").disabled = closed;
      document.getElementById("close").disabled = closed;
    }
  }

  function loadSession() {
    // One request at a time; a change announced meanwhile is fetched right after.
    if (current === null) return Promise.resolve();
    if (loading) { again = true; return loading; }
    var id = current;
    loading = fetch("/admin/desk/sessions/" + id + "?after=" + lastMessage, {credentials: "same-origin", cache: "no-store"})
      .then(function (r) { return r.json(); })
      .then(function (data) { if (id === current && data.session) renderSession(data); })
      .catch(function () { /* the next change retries */ })
      .then(function () { loading = null; if (again) { again = false; return loadSession(); } });
    return loading;
  }

  function open(id) {
    current = id; lastMessage = 0; messages.textContent = ""; showError("");
    Array.prototype.forEach.call(queue.children, function (li) { li.classList.toggle("on", li.dataset.id === String(id)); });
    loadSession();
  }

  function refresh() { return loadQueue().then(loadSession); }

  function loadRecent() {
    fetch("/admin/desk/recent", {credentials: "same-origin", cache: "no-store"}).then(function (r) { return r.json(); })
      .then(function (data) {
        var list = document.getElementById("recent");
        list.textContent = "";
        data.conversations.forEach(function (c) {
          var li = el("li", "recent");
          li.appendChild(el("b", "", c.channel_label + " · " + minutes(c.ago_s) + " trước"));
          li.appendChild(el("div", "last", c.last_text));
          if (canAct) {
            var take = el("button", "secondary take", "Nhận");
            take.type = "button";
            take.addEventListener("click", function () {
              act("/admin/desk/take", {sender: c.sender}, function (res) { open(res.id); loadRecent(); });
            });
            li.appendChild(take);
          }
          list.appendChild(li);
        });
      }).catch(function () { /* shown again on the next round */ });
  }

  function act(path, data, after) {
    showError("");
    return post(path, data).then(function (res) {
      if (!res.ok) { showError(res.error || "Không thực hiện được."); return; }
      if (after) after(res);
      return refresh();
    }).catch(function () { showError("Mất kết nối tới máy chủ."); });
  }

  function connect() {
    var conn = document.getElementById("conn");
    var source = new EventSource("/admin/desk/events");
    source.addEventListener("open", function () { conn.textContent = "Đang cập nhật trực tiếp."; });
    source.addEventListener("change", function () { refresh(); });
    source.addEventListener("error", function () { conn.textContent = "Mất kết nối, đang thử lại…"; });
  }

  if (canAct) {
    var base = function () { return "/admin/desk/sessions/" + current; };
    document.getElementById("claim").addEventListener("click", function () { act(base() + "/claim"); });
    document.getElementById("handback").addEventListener("click", function () {
      act(base() + "/close", {outcome: "returned_to_bot"});
    });
    document.getElementById("close-form").addEventListener("submit", function (e) {
      e.preventDefault(); act(base() + "/close", {outcome: document.getElementById("outcome").value});
    });
    document.getElementById("transfer-form").addEventListener("submit", function (e) {
      e.preventDefault(); act(base() + "/transfer", {to: document.getElementById("transfer-to").value});
    });
    document.getElementById("reply-form").addEventListener("submit", function (e) {
      e.preventDefault();
      var box = document.getElementById("reply");
      if (!box.value.trim()) return;
      act(base() + "/reply", {text: box.value}, function () { box.value = ""; });
    });
    document.getElementById("note-form").addEventListener("submit", function (e) {
      e.preventDefault();
      var box = document.getElementById("note");
      if (!box.value.trim()) return;
      act(base() + "/note", {text: box.value}, function () { box.value = ""; });
    });
    Array.prototype.forEach.call(document.querySelectorAll(".canned-item"), function (b) {
      b.addEventListener("click", function () {
        var box = document.getElementById("reply");
        box.value = (box.value ? box.value + "\n" : "") + b.dataset.text; box.focus();
      });
    });
    document.getElementById("insert-answer").addEventListener("click", function () {
      fetch(base() + "/answer", {credentials: "same-origin"}).then(function (r) { return r.json(); }).then(function (res) {
        if (!res.ok) { showError(res.error); return; }
        var box = document.getElementById("reply");
        box.value = (box.value ? box.value + "\n" : "") + res.text; box.focus();
      });
    });
    var take = document.getElementById("take-form");
    take.addEventListener("submit", function (e) {
      e.preventDefault();
      act("/admin/desk/take", {sender: document.getElementById("take-sender").value}, function (res) { open(res.id); });
    });
  }
  notice.addEventListener("click", function () { notice.hidden = true; });
  var wanted = new URLSearchParams(location.search).get("session");
  refresh().then(function () { if (wanted && /^[0-9]+$/.test(wanted)) open(Number(wanted)); }).then(connect);
  loadRecent();
  setInterval(loadRecent, 30000);
})();
