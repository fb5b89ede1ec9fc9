/*
 * Motcua — sending a dossier's scans with a progress bar (tiến độ tải lên). No framework, no build step.
 *
 * Enhances every <form data-upload> (the reception desk's registration, the citizens' online submission and
 * supplement). Without this script the form is an ordinary multipart POST and everything works the same,
 * only without the bar. With it, the same form is sent with XMLHttpRequest so the upload's progress can be
 * shown (<progress> inside .upload-progress, and a polite live region for screen readers), with the page's
 * CSRF token (<meta name="csrf-token">) also as the X-CSRF-Token header. The server answers:
 *
 *   201 JSON {"code", "location"}   registered: go to the receipt / dossier page;
 *   a redirect (followed by the browser) the page to show next;
 *   422/409 HTML                    the same page with its error summary: its <main> replaces ours and the
 *                                   summary gets the focus;
 *   problem+json (413, 403, 429…)   its message is shown above the button.
 */
(function () {
  "use strict";

  var EN = (document.documentElement.lang || "vi").toLowerCase().indexOf("en") === 0;
  var TEXT = {
    sending: EN ? "Uploading… " : "Đang tải lên… ",
    checking: EN ? "Upload complete; checking the papers…" : "Đã tải lên xong; đang kiểm tra giấy tờ…",
    done: EN ? "Done. Opening the receipt…" : "Xong. Đang mở giấy tiếp nhận…",
    network: EN ? "The connection failed; nothing was registered. Please try again." : "Mất kết nối; hồ sơ chưa được ghi nhận. Vui lòng thử lại.",
    failed: EN ? "The dossier could not be sent." : "Không gửi được hồ sơ.",
  };

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  function samePath(url) {
    // only a path on this site: never follow an address to another origin
    return typeof url === "string" && url.charAt(0) === "/" && url.charAt(1) !== "/" && url.indexOf("\\") < 0;
  }

  function problemMessage(xhr) {
    try {
      var body = JSON.parse(xhr.responseText);
      return (EN ? body.detail : body.title) || body.title || body.detail || TEXT.failed;
    } catch (e) {
      return TEXT.failed + " (HTTP " + xhr.status + ")";
    }
  }

  function showError(form, text) {
    var box = form.querySelector(".upload-error");
    if (!box) {
      box = document.createElement("p");
      box.className = "error upload-error";
      box.setAttribute("role", "alert");
      box.tabIndex = -1;
      var actions = form.querySelector(".actions") || form.lastChild;
      form.insertBefore(box, actions);
    }
    box.textContent = text; // text only: a message never becomes markup
    box.focus();
  }

  function swapMain(html) {
    var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("main");
    var main = document.getElementById("main");
    if (!fresh || !main) {
      return false;
    }
    main.replaceWith(document.importNode(fresh, true));
    enhance(document);
    var summary = document.getElementById("error-summary") || document.querySelector("#main [role=alert]");
    if (summary) {
      if (!summary.hasAttribute("tabindex")) {
        summary.tabIndex = -1;
      }
      summary.focus();
    }
    return true;
  }

  function send(form, event) {
    if (!window.FormData || !window.XMLHttpRequest || !window.DOMParser) {
      return; // the ordinary POST
    }
    event.preventDefault();
    var button = form.querySelector('[type="submit"]');
    var box = form.querySelector(".upload-progress");
    var bar = box ? box.querySelector("progress") : null;
    var status = box ? box.querySelector("[role=status]") : null;
    var old = form.querySelector(".upload-error");
    if (old) {
      old.remove();
    }
    if (box) {
      box.hidden = false;
    }
    if (bar) {
      bar.value = 0;
    }
    if (button) {
      button.disabled = true;
    }
    function say(text) {
      if (status) {
        status.textContent = text;
      }
    }
    function finish() {
      if (button) {
        button.disabled = false;
      }
    }

    var xhr = new XMLHttpRequest();
    xhr.open("POST", form.getAttribute("action") || window.location.pathname);
    xhr.setRequestHeader("X-Requested-With", "XMLHttpRequest");
    var token = csrfToken();
    if (token) {
      xhr.setRequestHeader("X-CSRF-Token", token);
    }
    var lastSaid = -10;
    xhr.upload.addEventListener("progress", function (e) {
      if (!e.lengthComputable) {
        return;
      }
      var percent = Math.round((e.loaded * 100) / e.total);
      if (bar) {
        bar.value = percent;
        bar.textContent = percent + "%";
      }
      if (percent - lastSaid >= 10 || percent === 100) { // a screen reader hears every tenth, not every step
        lastSaid = percent;
        say(TEXT.sending + percent + "%");
      }
    });
    xhr.upload.addEventListener("load", function () {
      say(TEXT.checking);
    });
    xhr.addEventListener("load", function () {
      var type = xhr.getResponseHeader("Content-Type") || "";
      if (xhr.status === 201 && type.indexOf("json") >= 0) {
        var body = {};
        try {
          body = JSON.parse(xhr.responseText);
        } catch (e) {
          body = {};
        }
        if (samePath(body.location)) {
          say(TEXT.done);
          window.location.assign(body.location);
          return;
        }
      }
      if (xhr.status === 200 && xhr.responseURL) { // a redirect the browser followed
        var target = new URL(xhr.responseURL);
        if (target.origin === window.location.origin) {
          window.location.assign(target.pathname + target.search);
          return;
        }
      }
      if (type.indexOf("text/html") === 0 && swapMain(xhr.responseText)) {
        return;
      }
      finish();
      say("");
      showError(form, problemMessage(xhr));
    });
    xhr.addEventListener("error", function () {
      finish();
      say("");
      showError(form, TEXT.network);
    });
    xhr.send(new FormData(form));
  }

  function enhance(root) {
    var forms = root.querySelectorAll("form[data-upload]");
    for (var i = 0; i < forms.length; i++) {
      (function (form) {
        if (form.dataset.uploadReady) {
          return;
        }
        form.dataset.uploadReady = "1";
        form.addEventListener("submit", function (event) {
          send(form, event);
        });
      })(forms[i]);
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () {
      enhance(document);
    });
  } else {
    enhance(document);
  }
})();
