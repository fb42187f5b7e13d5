// A print button where scripts run; without them, the browser's own Print works the same.
(function () {
  "use strict";
  var button = document.getElementById("print-sheet");
  if (!button) { return; }
  button.hidden = false;
  button.addEventListener("click", function () { window.print(); });
})();
