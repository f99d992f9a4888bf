// Tollgate dashboard behaviour: no inline scripts (the CSP forbids them), everything here.
(function () {
  "use strict";
  // The operator's time zone, reported by the browser; the server renders times in it.
  try {
    var tz = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (tz && document.cookie.indexOf("tollgate_tz=" + tz) === -1) {
      document.cookie = "tollgate_tz=" + encodeURIComponent(tz) + "; path=/; max-age=31536000; samesite=strict";
    }
  } catch (e) { /* keep UTC */ }

  function charts(root) {
    if (typeof Chart === "undefined") return;
    root.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      if (canvas.dataset.drawn) return;
      var spec = JSON.parse(canvas.dataset.chart);
      canvas.dataset.drawn = "1";
      new Chart(canvas, {
        type: spec.type || "line",
        data: { labels: spec.labels, datasets: spec.datasets.map(function (d) {
          return { label: d.label, data: d.data, borderColor: d.color, backgroundColor: d.color, tension: 0.2, pointRadius: 2 };
        }) },
        options: { maintainAspectRatio: false, animation: false, interaction: { mode: "index", intersect: false },
                   scales: { y: { beginAtZero: true, title: { display: !!spec.y, text: spec.y } } } }
      });
    });
  }

  function wire(root) {
    charts(root);
    root.querySelectorAll("[data-select-on-focus]").forEach(function (el) {
      el.addEventListener("focus", function () { el.select(); });
    });
    root.querySelectorAll("a[data-back]").forEach(function (el) {
      el.addEventListener("click", function (ev) { if (history.length > 1) { ev.preventDefault(); history.back(); } });
    });
  }

  document.addEventListener("DOMContentLoaded", function () { wire(document); });
  document.addEventListener("htmx:load", function (ev) { wire(ev.target); });
})();
