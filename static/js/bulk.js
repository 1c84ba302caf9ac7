// The list's bulk actions (templates/calcs/list.html): a checkbox that selects every row of
// the page. Without JavaScript the rows' own checkboxes and the buttons work alone (the
// confirmation page is the server's).
(function () {
  "use strict";
  var all = document.getElementById("pick-all");
  if (!all) {
    return;
  }
  function boxes() {
    return document.querySelectorAll("#calcs tbody input[name=id]");
  }
  function sync() {
    var list = boxes();
    var checked = Array.prototype.filter.call(list, function (b) {
      return b.checked;
    }).length;
    all.checked = list.length > 0 && checked === list.length;
    all.indeterminate = checked > 0 && checked < list.length;
  }
  all.hidden = false;
  all.addEventListener("change", function () {
    Array.prototype.forEach.call(boxes(), function (b) {
      b.checked = all.checked;
    });
  });
  // Rows replaced by engine.js come back unchecked: listen on the table, not on each box.
  document.getElementById("calcs").addEventListener("change", function (e) {
    if (e.target && e.target.name === "id") {
      sync();
    }
  });
})();
