// calcweb: times that move. Pages say "3 minutes ago" and "Running for 9 s" as of the moment
// they were written; this keeps them true while the page stays open. Counted from the
// server's clock (<html data-now>), so a browser whose clock is off still shows true ages.
(function () {
  "use strict";
  var rendered = Date.parse(document.documentElement.getAttribute("data-now") || "");
  var skew = isNaN(rendered) ? 0 : rendered - Date.now();

  function now() {
    return Date.now() + skew;
  }

  function plural(n, one) {
    return n + " " + one + (n === 1 ? "" : "s");
  }

  // The words of the server's web::calcs::ago; null past 30 days (the page shows the date).
  function ago(t) {
    var secs = Math.floor((now() - t) / 1000);
    var future = secs < -44;
    secs = Math.abs(secs);
    function unit(n, one) {
      return future ? "in " + plural(n, one) : plural(n, one) + " ago";
    }
    if (secs < 45) return "just now";
    if (secs < 3600) return unit(Math.max(1, Math.floor(secs / 60)), "minute");
    if (secs < 86400) return unit(Math.floor(secs / 3600), "hour");
    if (secs < 30 * 86400) return unit(Math.floor(secs / 86400), "day");
    return null;
  }

  // The words of the server's web::calcs::duration.
  function duration(secs) {
    secs = Math.max(0, Math.floor(secs));
    if (secs < 60) return secs + " s";
    if (secs < 3600) return Math.floor(secs / 60) + " min " + (secs % 60) + " s";
    return Math.floor(secs / 3600) + " h " + Math.floor((secs % 3600) / 60) + " min";
  }

  // Relative times: every <time> with its exact time in the title (log lines have none).
  function relative() {
    var times = document.querySelectorAll("time[datetime][title]");
    for (var i = 0; i < times.length; i++) {
      var t = Date.parse(times[i].getAttribute("datetime"));
      var text = isNaN(t) ? null : ago(t);
      if (text !== null && times[i].textContent !== text) {
        times[i].textContent = text;
      }
    }
  }

  // Running timers: "Running for 1 min 5 s".
  function elapsed() {
    var timers = document.querySelectorAll("[data-since]");
    for (var i = 0; i < timers.length; i++) {
      var since = Date.parse(timers[i].getAttribute("data-since"));
      if (!isNaN(since)) {
        timers[i].textContent = duration((now() - since) / 1000);
      }
    }
  }

  function tick() {
    relative();
    elapsed();
  }

  // Timers tick every second, but only where there is one; ages change once a minute at
  // most, so every 15 s is enough for them.
  var ticks = 0;
  setInterval(function () {
    if (document.hidden) return;
    elapsed();
    if (++ticks % 15 === 0) relative();
  }, 1000);
  document.addEventListener("visibilitychange", function () {
    if (!document.hidden) tick();
  });
})();
