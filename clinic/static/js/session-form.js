// Session form: the zone diagram fills or finds an injection row; more rows without a round trip.
// Without scripts the area lists and the "Add an area" button do the same job.
(function () {
  "use strict";
  var map = document.getElementById("area-map");
  var rows = document.getElementById("injection-rows");
  if (!map || !rows) { return; }
  map.hidden = false;

  function selects() { return rows.querySelectorAll("select.area-select"); }

  function rowVolume(select) {
    var row = select.closest(".injection-row");
    var skipped = row.querySelector("input[type=checkbox][name$='-not_administered']");
    var input = row.querySelector("input[name$='-volume_ml']");
    var ml = input ? parseFloat(String(input.value).replace(",", ".")) : NaN;
    return (skipped && skipped.checked) || !(ml > 0) ? 0 : ml;
  }

  function tagOf(zone) { return map.querySelector("[data-tag='" + zone.getAttribute("data-area") + "']"); }

  // Each zone: pressed and labelled when a row has its area; the ml of its rows once typed.
  function markChosen() {
    var chosen = {};
    selects().forEach(function (select) {
      if (!select.value) { return; }
      chosen[select.value] = (chosen[select.value] || 0) + rowVolume(select);
    });
    map.querySelectorAll("[data-area]").forEach(function (zone) {
      var code = zone.getAttribute("data-area");
      var on = Object.prototype.hasOwnProperty.call(chosen, code);
      zone.classList.toggle("chosen", on);
      zone.setAttribute("aria-pressed", on ? "true" : "false");
      var tag = tagOf(zone);
      if (!tag) { return; }
      tag.classList.toggle("chosen", on);
      var ml = on ? Math.round(chosen[code] * 100) / 100 : 0;
      tag.querySelector(".zone-volume").textContent = ml > 0 ? ml + " ml" : "";
    });
    map.querySelectorAll("[data-echo]").forEach(function (echo) {
      echo.classList.toggle("chosen", Object.prototype.hasOwnProperty.call(chosen, echo.getAttribute("data-echo")));
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
    var echo = event.target.closest("[data-echo]");
    var zone = echo ? map.querySelector("[data-area='" + echo.getAttribute("data-echo") + "']")
                    : event.target.closest("[data-area]");
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
  // Space works a zone as Enter does (a link answers Enter only).
  map.addEventListener("keydown", function (event) {
    var zone = event.target.closest("[data-area]");
    if (zone && (event.key === " " || event.key === "Spacebar")) {
      event.preventDefault();
      zone.dispatchEvent(new MouseEvent("click", { bubbles: true, cancelable: true }));
    }
  });
  // A zone's name shows while it is pointed at or has the focus (its <title> is the hover tooltip too).
  function hint(on) {
    return function (event) {
      var zone = event.target.closest && event.target.closest("[data-area]");
      var tag = zone && tagOf(zone);
      if (tag) { tag.classList.toggle("hinted", on); }
    };
  }
  map.addEventListener("focusin", hint(true));
  map.addEventListener("focusout", hint(false));
  map.addEventListener("mouseover", hint(true));
  map.addEventListener("mouseout", hint(false));
  rows.addEventListener("change", markChosen);
  rows.addEventListener("input", markChosen);
  markChosen();
})();

// A preparation's name, as it is typed, names it in every row's "Preparation" list (the server does the
// same when the form comes back: "1. Glow cocktail", or "1. Preparation 1" while it has no name).
(function () {
  "use strict";
  var form = document.getElementById("session-form");
  if (!form) { return; }
  form.addEventListener("input", function (event) {
    var found = /^preparations-(\d+)-label$/.exec(event.target.name || "");
    if (!found) { return; }
    var index = Number(found[1]);
    var text = (index + 1) + ". " + (event.target.value.trim() || "Preparation " + (index + 1));
    form.querySelectorAll("select[name$='-preparation'] option[value='" + index + "']").forEach(function (option) {
      option.textContent = text;
    });
  });
})();
