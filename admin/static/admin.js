// Live progress of the index rebuild (polls /admin/index/status while a build runs).
(function () {
  var box = document.getElementById("job");
  if (!box) return;
  var bar = document.getElementById("job-progress"), text = document.getElementById("job-text"),
      log = document.getElementById("job-log"), status = document.getElementById("job-status");
  var labels = {idle: "Chưa chạy", running: "Đang xây dựng…", done: "Hoàn tất", failed: "Thất bại"};
  function tick() {
    fetch("/admin/index/status", {credentials: "same-origin", cache: "no-store"})
      .then(function (r) { return r.json(); })
      .then(function (s) {
        status.textContent = labels[s.status] || s.status;
        if (typeof s.percent === "number") { bar.value = s.percent; }
        text.textContent = s.total ? (s.phase + ": " + s.done + "/" + s.total + " (" + s.percent + "%)") : (s.phase || "");
        log.textContent = (s.lines || []).join("\n");
        if (s.status === "running") { setTimeout(tick, 1000); }
        else if (box.dataset.running === "1") { box.dataset.running = "0"; location.reload(); }
      })
      .catch(function () { setTimeout(tick, 3000); });
  }
  if (box.dataset.running === "1") tick();
})();
