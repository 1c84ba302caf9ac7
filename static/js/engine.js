// calcweb: live updates of the calculation pages. The pages work without this script; it
// only polls the JSON API while calculations run.
//  - /engine/: rows with data-running get their status and progress every 2 s; a row that
//    finishes is replaced by a fresh rendering from /engine/<id>/row/ (new actions).
//  - /engine/<id>/: status, progress (also in the tab title) and new log lines
//    (/v1/calc/<id>/log/<n>:), with a "follow" checkbox; when the calculation ends the page
//    reloads once for the outputs. log-viewer.js does the rest of the log (filter, search,
//    wrap, where a finished log opens).
(function () {
  "use strict";
  var POLL_MS = 2000;
  var MAX_FAILURES = 10;
  var LABELS = {
    created: "created",
    submitted: "queued",
    executing: "running",
    complete: "complete",
    failed: "failed",
    aborted: "aborted"
  };
  var LEVELS = ["CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG"];

  function getJSON(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (res) {
        if (!res.ok) {
          var err = new Error("HTTP " + res.status);
          err.status = res.status;
          throw err;
        }
        return res.json();
      });
  }

  function later(fn) {
    setTimeout(function () {
      if (document.hidden) {
        later(fn);
      } else {
        fn();
      }
    }, POLL_MS);
  }

  function showStatus(container, st) {
    var badge = container.querySelector("[data-role=status]");
    if (badge && LABELS[st.status]) {
      badge.textContent = LABELS[st.status];
      badge.className = "status status-" + st.status;
    }
    if (typeof st.progress === "number") {
      var bar = container.querySelector("[data-role=progress]");
      if (bar) {
        bar.value = st.progress;
        bar.textContent = st.progress + "%";
      }
      var pct = container.querySelector("[data-role=percent]");
      if (pct) {
        pct.textContent = st.progress + "%";
      }
    }
    // An engine run's phase as it reports it ("classical 40%"), while it runs.
    var phase = container.querySelector("[data-role=phase]");
    if (phase) {
      phase.textContent = st.is_running && st.phase ? st.phase : "";
    }
  }

  function listPage(table) {
    var api = table.getAttribute("data-api");
    var rowsBase = table.getAttribute("data-rows");
    var back = table.getAttribute("data-back") || "";
    var failures = {};

    function replaceRow(tr, id) {
      return fetch(rowsBase + id + "/row/" + back, { credentials: "same-origin" })
        .then(function (res) {
          if (!res.ok) {
            throw new Error("HTTP " + res.status);
          }
          return res.text();
        })
        .then(function (html) {
          var tpl = document.createElement("template");
          tpl.innerHTML = html.trim();
          var fresh = tpl.content.querySelector("tr");
          if (fresh) {
            tr.replaceWith(fresh);
          } else {
            tr.removeAttribute("data-running");
          }
        })
        .catch(function () {
          tr.removeAttribute("data-running");
        });
    }

    function tick() {
      var rows = table.querySelectorAll("tr[data-running]");
      if (!rows.length) {
        return;
      }
      var pending = Array.prototype.map.call(rows, function (tr) {
        var id = tr.getAttribute("data-calc-id");
        return getJSON(api + id + "/status")
          .then(function (st) {
            failures[id] = 0;
            showStatus(tr, st);
            if (!st.is_running) {
              return replaceRow(tr, id);
            }
          })
          .catch(function (err) {
            failures[id] = (failures[id] || 0) + 1;
            if (err.status === 404 || failures[id] >= MAX_FAILURES) {
              tr.removeAttribute("data-running");
            }
          });
      });
      Promise.all(pending).then(function () {
        later(tick);
      });
    }

    later(tick);
  }

  function detailPage(box) {
    if (!box.hasAttribute("data-running")) {
      return;
    }
    var id = box.getAttribute("data-calc-id");
    var api = box.getAttribute("data-api");
    var next = parseInt(box.getAttribute("data-log-next"), 10) || 0;
    var lines = document.getElementById("log-lines");
    var follow = document.getElementById("follow-log");
    // The lowest level shown (the filter above the log): rows below it are not appended.
    var minLevel = LEVELS.indexOf(box.getAttribute("data-log-level") || "");
    var followLabel = box.querySelector("[data-role=follow]");
    var failures = 0;
    if (followLabel) {
      followLabel.hidden = false;
    }

    // The tab says how far it got ("45% · calc 12"), or how it ended, for people in another tab.
    function showTitle(st) {
      var what = st.status === "executing" && typeof st.progress === "number" ?
        st.progress + "%" : (LABELS[st.status] || st.status);
      document.title = what + " · calc " + id + " · calcweb";
    }

    function scrollDown() {
      if (lines && follow && follow.checked) {
        lines.scrollTop = lines.scrollHeight;
      }
    }

    function span(cls, text) {
      var s = document.createElement("span");
      s.className = cls;
      s.textContent = text;
      return s;
    }

    // Rows are [timestamp, level, process, message]; text only, never HTML.
    function append(rows) {
      if (!lines || !rows.length) {
        return;
      }
      var empty = lines.querySelector("[data-role=log-empty]");
      if (empty) {
        empty.remove();
      }
      var frag = document.createDocumentFragment();
      rows.forEach(function (r, i) {
        var level = String(r[1] || "");
        if (minLevel >= 0 && !(LEVELS.indexOf(level) >= 0 && LEVELS.indexOf(level) <= minLevel)) {
          return;
        }
        var div = document.createElement("div");
        div.className = "log-line " +
          (LEVELS.indexOf(level) >= 0 ? "level-" + level.toLowerCase() : "level-other");
        // Its line number in the whole log, an anchor as the server renders it.
        var number = next + i + 1;
        div.id = "L" + number;
        var link = document.createElement("a");
        link.className = "ln";
        link.href = "#L" + number;
        link.textContent = String(number);
        div.appendChild(link);
        div.appendChild(document.createTextNode(" "));
        var time = document.createElement("time");
        time.setAttribute("datetime", String(r[0]));
        time.textContent = String(r[0]).substr(11, 8);
        div.appendChild(time);
        div.appendChild(document.createTextNode(" "));
        div.appendChild(span("level", level));
        div.appendChild(document.createTextNode(" "));
        div.appendChild(span("message", String(r[3] || "")));
        frag.appendChild(div);
      });
      lines.appendChild(frag);
      next += rows.length;
      // log-viewer.js applies the level shown and the search to the new lines.
      lines.dispatchEvent(new CustomEvent("log:appended"));
      scrollDown();
    }

    function tick() {
      getJSON(api + id + "/log/" + next + ":")
        .then(append)
        .then(function () {
          return getJSON(api + id + "/status");
        })
        .then(function (st) {
          failures = 0;
          showStatus(box, st);
          showTitle(st);
          if (st.is_running) {
            later(tick);
          } else {
            // Once: the page is rendered again without live updates, with outputs or traceback.
            window.location.reload();
          }
        })
        .catch(function () {
          failures += 1;
          if (failures < MAX_FAILURES) {
            later(tick);
          }
        });
    }

    scrollDown();
    later(tick);
  }

  function start() {
    var table = document.getElementById("calcs");
    if (table) {
      listPage(table);
    }
    var box = document.getElementById("calc");
    if (box) {
      detailPage(box);
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
