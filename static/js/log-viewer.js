// calcweb: the log viewer of /engine/<id>/. The page works without this script (the server
// renders line anchors, the level filter and the search's marks from ?level= and ?q=); it
// makes them instant:
//  - where a log opens: a #L<n> link's line; else, once the calculation has ended, its first
//    ERROR (or CRITICAL) line, or its end (engine.js follows a running one);
//  - the level filter hides lines on the page when the page holds them all, else asks the
//    server (the last 500 lines at that level);
//  - the search marks every match as it is typed, "3 of 12", Enter (or Next) goes to the
//    next one, Shift+Enter (or Previous) back;
//  - "Wrap long lines", remembered in this browser.
(function () {
  "use strict";
  var LEVELS = ["CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG"];
  var WRAP_KEY = "calcweb.log.wrap";

  function start() {
    var calc = document.getElementById("calc");
    var box = document.getElementById("log-lines");
    var form = document.querySelector("[data-role=log-filter]");
    if (!calc || !box || !form) {
      return;
    }
    var running = calc.hasAttribute("data-running");
    var cut = box.hasAttribute("data-cut");
    var serverLevel = LEVELS.indexOf(calc.getAttribute("data-log-level") || "");
    var levelSelect = form.querySelector("[data-role=log-level]");
    var search = form.querySelector("[data-role=log-q]");
    var matchesText = form.querySelector("[data-role=log-matches]");
    var prev = form.querySelector("[data-role=log-prev]");
    var next = form.querySelector("[data-role=log-next]");
    var marks = [];
    var current = -1;

    function lines() {
      return box.querySelectorAll(".log-line");
    }

    function setParam(name, value) {
      var url = new URL(window.location.href);
      if (value) {
        url.searchParams.set(name, value);
      } else {
        url.searchParams.delete(name);
      }
      window.history.replaceState(null, "", url.pathname + url.search + url.hash);
    }

    // Scrolls the log box (only) so that `line` shows a third of the way down.
    function reveal(line) {
      var top = line.getBoundingClientRect().top - box.getBoundingClientRect().top;
      box.scrollTop += top - box.clientHeight / 3;
    }

    // ---- level filter: lines at the chosen level and above.
    var shownLevel = levelSelect ? LEVELS.indexOf(levelSelect.value) : -1;

    function applyLevel() {
      Array.prototype.forEach.call(lines(), function (line) {
        var level = LEVELS.indexOf((line.querySelector(".level") || {}).textContent || "");
        line.hidden = shownLevel >= 0 && !(level >= 0 && level <= shownLevel);
      });
    }

    if (levelSelect) {
      levelSelect.addEventListener("change", function () {
        var chosen = LEVELS.indexOf(levelSelect.value);
        // Every line the choice shows is on the page: filter here; else ask the server.
        var here = !cut && (serverLevel < 0 || (chosen >= 0 && chosen <= serverLevel));
        if (!here) {
          form.submit();
          return;
        }
        shownLevel = chosen;
        applyLevel();
        setParam("level", levelSelect.value);
        find(false);
      });
    }

    // ---- search.
    function pattern(q) {
      return new RegExp(q.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"), "giu");
    }

    function markText(el, re) {
      var text = el.textContent;
      var had = el.querySelector("mark");
      if (!re || !re.test(text)) {
        if (had) {
          el.textContent = text;
        }
        return;
      }
      re.lastIndex = 0;
      var frag = document.createDocumentFragment();
      var from = 0;
      var m;
      while ((m = re.exec(text)) !== null) {
        if (m[0] === "") {
          re.lastIndex += 1;
          continue;
        }
        if (m.index > from) {
          frag.appendChild(document.createTextNode(text.slice(from, m.index)));
        }
        var mark = document.createElement("mark");
        mark.textContent = m[0];
        frag.appendChild(mark);
        from = m.index + m[0].length;
      }
      if (from < text.length) {
        frag.appendChild(document.createTextNode(text.slice(from)));
      }
      el.textContent = "";
      el.appendChild(frag);
    }

    function showCount() {
      var q = search.value.trim();
      var many = marks.length > 0;
      matchesText.textContent = !q ? "" : !many ? "No match." :
        (current + 1) + " of " + marks.length;
      prev.hidden = !many;
      next.hidden = !many;
    }

    function go(i) {
      if (!marks.length) {
        current = -1;
        showCount();
        return;
      }
      if (current >= 0 && marks[current]) {
        marks[current].classList.remove("current");
      }
      current = (i + marks.length) % marks.length;
      var mark = marks[current];
      mark.classList.add("current");
      reveal(mark.closest(".log-line"));
      showCount();
    }

    // Marks the search's matches in the lines shown; `jump`: goes to the first.
    function find(jump) {
      var q = search.value.trim();
      var re = q ? pattern(q) : null;
      Array.prototype.forEach.call(box.querySelectorAll(".log-line .message"), function (el) {
        if (re) {
          re.lastIndex = 0;
        }
        markText(el, re);
      });
      marks = Array.prototype.filter.call(box.querySelectorAll(".log-line mark"), function (m) {
        return !m.closest(".log-line").hidden;
      });
      current = -1;
      if (jump && marks.length) {
        go(0);
      } else {
        showCount();
      }
    }

    var typing = null;
    if (search && matchesText && prev && next) {
      search.addEventListener("input", function () {
        clearTimeout(typing);
        typing = setTimeout(function () {
          typing = null;
          setParam("q", search.value.trim());
          find(true);
        }, 120);
      });
      search.addEventListener("keydown", function (e) {
        if (e.key !== "Enter") {
          return;
        }
        e.preventDefault();
        if (typing !== null || !marks.length) {
          // What was just typed is not searched yet: search it, at its first match.
          clearTimeout(typing);
          typing = null;
          setParam("q", search.value.trim());
          find(true);
        } else {
          go(e.shiftKey ? current - 1 : current + 1);
        }
      });
      prev.addEventListener("click", function () {
        go(current - 1);
      });
      next.addEventListener("click", function () {
        go(current + 1);
      });
    }

    // ---- wrap toggle.
    var wrap = document.getElementById("log-wrap");
    var wrapLabel = document.querySelector("[data-role=wrap]");
    if (wrap && wrapLabel) {
      wrapLabel.hidden = false;
      try {
        wrap.checked = window.localStorage.getItem(WRAP_KEY) !== "0";
      } catch (e) {
        // No storage (private mode): wrap, as without the script.
      }
      box.classList.toggle("nowrap", !wrap.checked);
      wrap.addEventListener("change", function () {
        box.classList.toggle("nowrap", !wrap.checked);
        try {
          window.localStorage.setItem(WRAP_KEY, wrap.checked ? "1" : "0");
        } catch (e) {
          // Not remembered, still applied.
        }
      });
    }

    // Lines engine.js appends while the calculation runs.
    box.addEventListener("log:appended", function () {
      applyLevel();
      if (search && search.value.trim()) {
        var at = current;
        find(false);
        if (at >= 0 && marks.length) {
          go(Math.min(at, marks.length - 1));
        }
      }
    });

    // ---- where the log opens.
    applyLevel();
    if (search) {
      find(false);
    }
    var anchor = /^#L(\d+)$/.exec(window.location.hash);
    var target = anchor && document.getElementById("L" + anchor[1]);
    if (anchor && !target && cut) {
      // Before the lines shown: the whole log has it.
      var url = new URL(window.location.href);
      url.searchParams.set("log", "all");
      window.location.replace(url.pathname + url.search + url.hash);
      return;
    }
    if (target) {
      var follow = document.getElementById("follow-log");
      if (follow) {
        follow.checked = false;
      }
      reveal(target);
      target.scrollIntoView({ block: "nearest" });
    } else if (marks.length) {
      go(0);
    } else if (!running) {
      var error = Array.prototype.find.call(box.querySelectorAll(".level-error, .level-critical"), function (l) {
        return !l.hidden;
      });
      if (error) {
        reveal(error);
      } else {
        box.scrollTop = box.scrollHeight;
      }
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
