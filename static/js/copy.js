// calcweb: "Copy" buttons (data-copy = the id of the element whose text they copy). Shown only
// when this script runs; over plain http, where the Clipboard API is missing, the text is
// selected and copied the older way.
(function () {
  "use strict";
  function say(button, text) {
    var status = button.parentNode.querySelector("[data-role=copied]");
    if (status) status.textContent = text;
  }
  function copy(button) {
    var source = document.getElementById(button.getAttribute("data-copy"));
    if (!source) return;
    var text = source.textContent.trim();
    var done = function () { say(button, "Copied."); };
    var failed = function () { say(button, "Select the text and copy it with Ctrl+C."); };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, failed);
      return;
    }
    var range = document.createRange();
    range.selectNodeContents(source);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    try {
      if (document.execCommand("copy")) done(); else failed();
    } catch (e) {
      failed();
    }
  }
  var buttons = document.querySelectorAll("button[data-copy]");
  for (var i = 0; i < buttons.length; i++) {
    buttons[i].hidden = false;
    buttons[i].addEventListener("click", function (event) {
      copy(event.currentTarget);
    });
  }
})();
