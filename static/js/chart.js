// calcweb: the preview's line charts, enhanced. The legend's entries become buttons that hide
// or show their line (aria-pressed), and the pointer over the drawing (or the arrow keys,
// once it has the focus) shows the nearest point's values in a tooltip. Each line carries its
// values in data-values, point for point with its drawn points. Without this script the
// chart is the whole drawing, every line shown.
(function () {
  "use strict";
  var SVG = "http://www.w3.org/2000/svg";
  // A point further than this from the pointer (in units of the drawing) shows nothing.
  var REACH = 48;

  function pairs(text) {
    return (text || "").trim().split(/\s+/).filter(Boolean).map(function (p) {
      return p.split(",");
    });
  }

  function setup(figure) {
    var svg = figure.querySelector("svg.chart-svg");
    if (!svg) {
      return;
    }
    var xName = svg.getAttribute("data-x-name") || "x";
    var yName = svg.getAttribute("data-y-name") || "";
    var series = Array.prototype.map.call(svg.querySelectorAll("polyline[data-series]"), function (line) {
      var drawn = pairs(line.getAttribute("points"));
      var values = pairs(line.getAttribute("data-values"));
      var points = [];
      for (var i = 0; i < drawn.length && i < values.length; i++) {
        points.push({ x: +drawn[i][0], y: +drawn[i][1], vx: values[i][0], vy: values[i][1] });
      }
      return { line: line, name: line.getAttribute("data-name") || "", points: points, shown: true };
    });
    if (!series.length) {
      return;
    }

    var tip = document.createElement("div");
    tip.className = "chart-tip";
    tip.setAttribute("role", "status");
    tip.hidden = true;
    figure.appendChild(tip);
    var marker = document.createElementNS(SVG, "circle");
    marker.setAttribute("r", "5");
    marker.setAttribute("visibility", "hidden");
    svg.appendChild(marker);
    var current = null; // { s: series index, i: point index }

    function hide() {
      tip.hidden = true;
      marker.setAttribute("visibility", "hidden");
      current = null;
    }

    function show(k, i) {
      var s = series[k];
      var p = s.points[i];
      current = { s: k, i: i };
      marker.setAttribute("cx", p.x);
      marker.setAttribute("cy", p.y);
      var colour = (s.line.getAttribute("class") || "").match(/series-\d+/);
      marker.setAttribute("class", "chart-marker " + (colour ? colour[0] : ""));
      marker.setAttribute("visibility", "visible");
      tip.textContent = "";
      var name = document.createElement("strong");
      name.textContent = s.name;
      tip.appendChild(name);
      var what = [xName + " = " + p.vx, (yName && yName !== s.name ? yName : s.name) + " = " + p.vy];
      what.forEach(function (line) {
        var div = document.createElement("div");
        div.textContent = line;
        tip.appendChild(div);
      });
      tip.hidden = false;
      // Beside the point, inside the figure: above and right of it, else below or left.
      var ctm = svg.getScreenCTM();
      var box = figure.getBoundingClientRect();
      var at = svg.createSVGPoint();
      at.x = p.x;
      at.y = p.y;
      var screen = at.matrixTransform(ctm);
      var left = screen.x - box.left + 12;
      var top = screen.y - box.top - tip.offsetHeight - 12;
      if (left + tip.offsetWidth > box.width) {
        left = screen.x - box.left - tip.offsetWidth - 12;
      }
      if (top < 0) {
        top = screen.y - box.top + 12;
      }
      tip.style.left = Math.max(0, left) + "px";
      tip.style.top = Math.max(0, top) + "px";
    }

    function nearest(x, y) {
      var best = null;
      var bestDistance = REACH * REACH;
      series.forEach(function (s, k) {
        if (!s.shown) {
          return;
        }
        s.points.forEach(function (p, i) {
          var d = (p.x - x) * (p.x - x) + (p.y - y) * (p.y - y);
          if (d < bestDistance) {
            bestDistance = d;
            best = { s: k, i: i };
          }
        });
      });
      return best;
    }

    svg.addEventListener("pointermove", function (ev) {
      var ctm = svg.getScreenCTM();
      if (!ctm) {
        return;
      }
      var at = svg.createSVGPoint();
      at.x = ev.clientX;
      at.y = ev.clientY;
      var p = at.matrixTransform(ctm.inverse());
      var hit = nearest(p.x, p.y);
      if (hit) {
        show(hit.s, hit.i);
      } else {
        hide();
      }
    });
    svg.addEventListener("pointerleave", hide);

    // The keyboard: Left/Right along a line, Up/Down to the next line shown, Escape hides.
    svg.setAttribute("tabindex", "0");
    svg.addEventListener("blur", hide);
    svg.addEventListener("keydown", function (ev) {
      var shown = series.map(function (s, k) { return k; }).filter(function (k) {
        return series[k].shown && series[k].points.length;
      });
      if (!shown.length) {
        return;
      }
      var at = current && series[current.s].shown ? current : { s: shown[0], i: 0 };
      var k = shown.indexOf(at.s);
      var i = at.i;
      if (ev.key === "ArrowRight") {
        i = Math.min(i + (current ? 1 : 0), series[at.s].points.length - 1);
      } else if (ev.key === "ArrowLeft") {
        i = Math.max(i - 1, 0);
      } else if (ev.key === "ArrowDown" || ev.key === "ArrowUp") {
        k = (k + (ev.key === "ArrowDown" ? 1 : shown.length - 1)) % shown.length;
        i = Math.min(i, series[shown[k]].points.length - 1);
      } else if (ev.key === "Escape") {
        hide();
        return;
      } else {
        return;
      }
      ev.preventDefault();
      show(shown[k], i);
    });

    // The legend: a button per line.
    Array.prototype.forEach.call(figure.querySelectorAll(".legend li[data-series]"), function (li) {
      var s = series[+li.getAttribute("data-series")];
      if (!s) {
        return;
      }
      var button = document.createElement("button");
      button.type = "button";
      button.className = "legend-toggle";
      button.setAttribute("aria-pressed", "true");
      while (li.firstChild) {
        button.appendChild(li.firstChild);
      }
      li.appendChild(button);
      button.addEventListener("click", function () {
        s.shown = !s.shown;
        button.setAttribute("aria-pressed", s.shown ? "true" : "false");
        s.line.classList.toggle("off", !s.shown);
        hide();
      });
    });
    var help = document.createElement("p");
    help.className = "help chart-help";
    help.textContent =
      "Point at the chart (or focus it and use the arrow keys) to read a point's values; " +
      "press a name in the legend to hide or show its line.";
    var legend = figure.querySelector(".legend");
    if (legend) {
      legend.parentNode.insertBefore(help, legend.nextSibling);
    }
  }

  Array.prototype.forEach.call(document.querySelectorAll("figure.chart[data-chart]"), setup);
})();
