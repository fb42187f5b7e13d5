// Measures form: GAIS compares with the baseline, so it is not offered when "Baseline" is chosen.
// The server renders the right state for the timepoint the form opened with; this follows a change.
(function () {
  "use strict";
  var form = document.getElementById("measures-form");
  var timepoint = form && form.querySelector("select[name='timepoint']");
  if (!timepoint) { return; }

  function follow() {
    var chosen = timepoint.value;
    form.querySelectorAll("[data-timepoint-not]").forEach(function (el) {
      var off = el.getAttribute("data-timepoint-not") === chosen && !el.querySelector(".field-error");
      el.hidden = off;
      el.disabled = off;  // a disabled fieldset's boxes are not sent
    });
    document.querySelectorAll("[data-timepoint-only]").forEach(function (el) {
      el.hidden = el.getAttribute("data-timepoint-only") !== chosen;
    });
  }
  timepoint.addEventListener("change", follow);
})();
