/*
 * Motcua — small enhancements of the officials' pages (api/templates/officials/); every page works without them.
 *
 * - the task list's filters apply with their button only (changing a select does not reload the page: WCAG 3.2.2);
 * - task page: a refusal or a supplement request asks for confirmation and for a reason in the comment; a form
 *   is not sent twice (double click); the preview frame stays hidden until a "Preview" link
 *   fills it, then scrolls into view.
 */
(function () {
  "use strict";

  var EN = (document.documentElement.lang || "vi").toLowerCase().indexOf("en") === 0;
  var TEXT = {
    reason: EN
      ? "Give the reason in the comment (the applicant is told)."
      : "Hãy ghi rõ lý do trong ý kiến xử lý (người nộp sẽ được thông báo).",
  };

  function decisionForm() {
    var form = document.getElementById("decision-form");
    if (!form) return;
    var comment = form.querySelector("textarea[name=comment]");
    form.addEventListener("submit", function (event) {
      var chosen = form.querySelector("input[name=decision]:checked");
      var question = chosen && chosen.getAttribute("data-confirm");
      if (question) {
        if (comment && !comment.value.trim()) {
          event.preventDefault();
          comment.setCustomValidity(TEXT.reason);
          comment.reportValidity();
          return;
        }
        if (!window.confirm(question)) {
          event.preventDefault();
          return;
        }
      }
      var button = form.querySelector("button[type=submit]");
      if (button) {
        // after the browser took the submission: disabling first would drop the button from it
        window.setTimeout(function () {
          button.disabled = true;
        }, 0);
      }
    });
    if (comment) {
      comment.addEventListener("input", function () {
        comment.setCustomValidity("");
      });
    }
  }

  function oncePerForm() {
    Array.prototype.forEach.call(document.querySelectorAll("td.actions form, form.inline"), function (form) {
      form.addEventListener("submit", function () {
        var button = form.querySelector("button");
        if (button) {
          window.setTimeout(function () {
            button.disabled = true;
          }, 0);
        }
      });
    });
  }

  function previews() {
    var frame = document.getElementById("preview");
    if (!frame) return;
    // an empty frame stays hidden until something is previewed (without this script it is always shown); a frame
    // that opens on a document (the leader's draft, the clerk's signed result) is shown at once
    var src = frame.getAttribute("src");
    frame.hidden = !src || src === "about:blank";
    Array.prototype.forEach.call(document.querySelectorAll("a[data-preview]"), function (link) {
      link.addEventListener("click", function () {
        frame.hidden = false;
        frame.scrollIntoView({ behavior: "smooth", block: "start" });
      });
    });
  }

  function start() {
    decisionForm();
    oncePerForm();
    previews();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
