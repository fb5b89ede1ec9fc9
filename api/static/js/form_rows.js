// "Thêm dòng" under a table of repeating rows (api/templates/_form_field.html): adds one empty row, numbered and
// named like the server's (f.<field>.<row>.<cell>), up to the list's bound. Without this script the page still
// offers its fixed rows, and one more after an error that filled them.
"use strict";
(function () {
  function renumber(input, index) {
    // f.members.2.name → f.members.<index>.name ; the label's row number follows
    input.name = input.name.replace(/^(f\.[^.]+\.)\d+/, "$1" + index);
    input.value = "";
    input.removeAttribute("aria-invalid");
    var label = input.getAttribute("aria-label");
    if (label) input.setAttribute("aria-label", label.replace(/\d+$/, String(index + 1)));
  }

  function setUp(button) {
    var fieldset = document.getElementById(button.getAttribute("data-add-row"));
    if (!fieldset) return;
    var body = fieldset.querySelector("tbody");
    var full = fieldset.querySelector("[data-rows-full]");
    var max = parseInt(button.getAttribute("data-max-rows"), 10) || 30;
    function update() {
      var atMax = body.rows.length >= max;
      button.hidden = atMax;
      if (full) full.hidden = !atMax;
    }
    button.addEventListener("click", function () {
      var last = body.rows[body.rows.length - 1];
      if (!last || body.rows.length >= max) return;
      var row = last.cloneNode(true);
      var index = body.rows.length;
      row.querySelector("th").textContent = String(index + 1);
      row.querySelectorAll("input").forEach(function (input) { renumber(input, index); });
      body.appendChild(row);
      var first = row.querySelector("input");
      if (first) first.focus();
      update();
    });
    update();
  }

  document.querySelectorAll("button[data-add-row]").forEach(setUp);
})();
