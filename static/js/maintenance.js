// Keeps the maintenance banner's countdown current without reloading the page.
(function () {
  "use strict";
  var el = document.querySelector(".countdown[data-starts]");
  if (!el) return;
  var starts = Date.parse(el.getAttribute("data-starts"));
  var label = el.textContent.replace(/\s*\(.*\)$/, "");
  function unit(n, word) { return n + " " + word + (n === 1 ? "" : "s"); }
  function tick() {
    var s = Math.floor((starts - Date.now()) / 1000);
    if (s <= 0) { el.textContent = label + " (now)"; return; }
    var d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
    var parts = [];
    if (d) parts.push(unit(d, "day"));
    if (h) parts.push(unit(h, "hour"));
    if (!d && m) parts.push(unit(m, "minute"));
    if (!parts.length) parts.push(unit(s, "second"));
    el.textContent = label + " (in " + parts.join(", ") + ")";
    setTimeout(tick, s < 120 ? 1000 : 15000);
  }
  tick();
})();
