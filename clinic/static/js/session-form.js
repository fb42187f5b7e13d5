// Session form: the zone diagram fills or finds an injection row; more rows without a round trip.
// Without scripts the area lists and the "Add an area" button do the same job.
(function () {
  "use strict";
  var map = document.getElementById("area-map");
  var rows = document.getElementById("injection-rows");
  if (!map || !rows) { return; }
  map.hidden = false;

  function selects() { return rows.querySelectorAll("select.area-select"); }

  function markChosen() {
    var chosen = {};
    selects().forEach(function (select) { if (select.value) { chosen[select.value] = true; } });
    map.querySelectorAll("[data-area]").forEach(function (zone) {
      zone.classList.toggle("chosen", !!chosen[zone.getAttribute("data-area")]);
      zone.setAttribute("aria-pressed", chosen[zone.getAttribute("data-area")] ? "true" : "false");
    });
  }

  function addRow() {
    var all = rows.querySelectorAll(".injection-row");
    var last = all[all.length - 1];
    var next = all.length;
    var copy = last.cloneNode(true);
    copy.setAttribute("data-index", String(next));
    copy.id = "injection-" + next;
    copy.querySelectorAll("[name], [id], [for], [aria-describedby]").forEach(function (el) {
      ["name", "id", "for", "aria-describedby"].forEach(function (attr) {
        var value = el.getAttribute(attr);
        if (value) { el.setAttribute(attr, value.replace(/injections-\d+-/g, "injections-" + next + "-")); }
      });
      if (el.tagName === "INPUT" && el.type === "checkbox") { el.checked = false; }
      else if (el.tagName === "INPUT" || el.tagName === "TEXTAREA") { el.value = ""; }
      else if (el.tagName === "SELECT") { el.selectedIndex = 0; }
      el.removeAttribute("aria-invalid");
    });
    copy.querySelectorAll(".field-error").forEach(function (el) { el.remove(); });
    rows.appendChild(copy);
    return copy.querySelector("select.area-select");
  }

  map.addEventListener("click", function (event) {
    var zone = event.target.closest("[data-area]");
    if (!zone) { return; }
    event.preventDefault();
    var code = zone.getAttribute("data-area");
    var found = null;
    var empty = null;
    selects().forEach(function (select) {
      if (select.value === code && !found) { found = select; }
      if (!select.value && !empty) { empty = select; }
    });
    var target = found || empty || addRow();
    if (!found) { target.value = code; }
    markChosen();
    var row = target.closest(".injection-row");
    var volume = row.querySelector("input[name$='-volume_ml']");
    (found ? target : (volume || target)).focus();
  });
  rows.addEventListener("change", markChosen);
  markChosen();
})();
