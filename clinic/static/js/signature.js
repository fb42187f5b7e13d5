// Signature pad for the consent page. Without scripts the typed name is the signature.
(function () {
  "use strict";
  var canvas = document.getElementById("signature-pad");
  var field = document.getElementById("signature_image");
  var clear = document.getElementById("signature-clear");
  if (!canvas || !field) { return; }
  canvas.hidden = false;
  if (clear) { clear.hidden = false; }
  var hint = document.getElementById("signature-hint");
  if (hint) { hint.hidden = false; }
  var ctx = canvas.getContext("2d");
  var drawing = false;
  var drawn = false;

  function resize() {
    var ratio = window.devicePixelRatio || 1;
    canvas.width = canvas.clientWidth * ratio;
    canvas.height = canvas.clientHeight * ratio;
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.lineWidth = 2.2;
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    ctx.strokeStyle = "#111";
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, canvas.clientWidth, canvas.clientHeight);
    drawn = false;
    field.value = "";
  }

  function point(event) {
    var rect = canvas.getBoundingClientRect();
    return { x: event.clientX - rect.left, y: event.clientY - rect.top };
  }

  canvas.addEventListener("pointerdown", function (event) {
    drawing = true;
    canvas.setPointerCapture(event.pointerId);
    var p = point(event);
    ctx.beginPath();
    ctx.moveTo(p.x, p.y);
    event.preventDefault();
  });
  canvas.addEventListener("pointermove", function (event) {
    if (!drawing) { return; }
    var p = point(event);
    ctx.lineTo(p.x, p.y);
    ctx.stroke();
    drawn = true;
    event.preventDefault();
  });
  function finish() {
    if (!drawing) { return; }
    drawing = false;
    if (drawn) { field.value = canvas.toDataURL("image/png"); }
  }
  canvas.addEventListener("pointerup", finish);
  canvas.addEventListener("pointercancel", finish);
  canvas.addEventListener("pointerleave", finish);
  if (clear) { clear.addEventListener("click", function () { resize(); }); }
  var pad = document.getElementById("pad_shown");
  if (pad) { pad.value = "1"; }
  // After a refused save the page comes back with the signature already drawn: keep it.
  var kept = field.value;
  resize();
  if (kept && kept.indexOf("data:image/png;base64,") === 0) {
    var image = new Image();
    image.onload = function () {
      ctx.drawImage(image, 0, 0, canvas.clientWidth, canvas.clientHeight);
      field.value = kept;
      drawn = true;
    };
    image.src = kept;
  }
})();
