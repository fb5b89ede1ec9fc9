/*
 * Motcua — the "In" (print) button of the printable pages (api/templates/registers/): the browser's print dialog.
 * Without scripts the button stays hidden (the browser's own print command still prints the same sheet).
 */
(function () {
  "use strict";
  var buttons = document.querySelectorAll("button[data-print]");
  for (var i = 0; i < buttons.length; i++) {
    buttons[i].hidden = false;
    buttons[i].addEventListener("click", function () {
      window.print();
    });
  }
})();
