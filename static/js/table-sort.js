// calcweb: click a column header of a table[data-sortable] to sort its rows in the browser
// (numbers by value, text alphabetically; again to reverse). Without this script the header
// links sort on the server with ?sort=<column>.
(function () {
  "use strict";
  var UP = " \u25B2";
  var DOWN = " \u25BC";

  function number(text) {
    var t = text.trim();
    return t === "" ? NaN : Number(t);
  }

  function compare(a, b) {
    var x = number(a);
    var y = number(b);
    var xn = !isNaN(x);
    var yn = !isNaN(y);
    if (xn && yn) {
      return x - y;
    }
    if (xn !== yn) {
      return xn ? -1 : 1;
    }
    return a.toLowerCase().localeCompare(b.toLowerCase());
  }

  function setup(table) {
    var heads = table.querySelectorAll("thead th[data-col]");
    Array.prototype.forEach.call(heads, function (th) {
      var link = th.querySelector("a");
      if (!link) {
        return;
      }
      link.addEventListener("click", function (ev) {
        ev.preventDefault();
        var col = parseInt(th.getAttribute("data-col"), 10);
        var ascending = th.getAttribute("aria-sort") !== "ascending";
        var body = table.tBodies[0];
        var rows = Array.prototype.map.call(body.rows, function (row, i) {
          return { row: row, i: i, text: row.cells[col] ? row.cells[col].textContent : "" };
        });
        rows.sort(function (p, q) {
          var c = compare(p.text, q.text);
          return (ascending ? c : -c) || p.i - q.i;
        });
        rows.forEach(function (r) {
          body.appendChild(r.row);
        });
        Array.prototype.forEach.call(heads, function (h) {
          h.removeAttribute("aria-sort");
          var m = h.querySelector(".sort-mark");
          if (m) {
            m.textContent = "";
          }
        });
        th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
        var mark = th.querySelector(".sort-mark");
        if (mark) {
          mark.textContent = ascending ? UP : DOWN;
        }
      });
    });
  }

  Array.prototype.forEach.call(document.querySelectorAll("table[data-sortable]"), setup);
})();
