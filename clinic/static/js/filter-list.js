// A long list of checkboxes narrowed as one types (allergies among the ingredients). Without this
// script the whole list shows and works the same.
(function () {
  "use strict";
  document.querySelectorAll("input.pick-filter[data-filters]").forEach(function (box) {
    var list = document.getElementById(box.getAttribute("data-filters"));
    if (!list) { return; }
    box.hidden = false;
    box.addEventListener("input", function () {
      var wanted = box.value.trim().toLowerCase();
      list.querySelectorAll("label").forEach(function (label) {
        var ticked = label.querySelector("input:checked");
        label.hidden = wanted !== "" && !ticked && label.textContent.toLowerCase().indexOf(wanted) === -1;
      });
    });
    // Enter in the box must not send the form.
    box.addEventListener("keydown", function (event) { if (event.key === "Enter") { event.preventDefault(); } });
  });
}());
