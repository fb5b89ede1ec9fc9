/*
 * Motcua — the process diagram of one dossier (sơ đồ quy trình), drawn with the bpmn-js viewer.
 * No framework, no build step. A page that shows it:
 *
 *   <link rel="stylesheet" href="/static/vendor/bpmn-js/assets/diagram-js.css">
 *   <link rel="stylesheet" href="/static/vendor/bpmn-js/assets/bpmn-js.css">
 *   <link rel="stylesheet" href="/static/css/diagram.css">
 *   <div id="diagram" data-dossier="{{ code }}"></div>
 *   <script src="/static/vendor/bpmn-js/bpmn-viewer.production.min.js" defer></script>
 *   <script src="/static/js/diagram.js" defer></script>
 *
 * It fetches GET /api/dossiers/{code}/diagram with the page's own credentials (the session cookie), draws the
 * BPMN, marks the steps done (class motcua-completed) and the current step(s) (class motcua-current), and
 * writes the same as an ordered text list beside the drawing, for screen readers and for anyone who prefers
 * text. Without the viewer (script blocked, old browser) the list alone is shown.
 *
 * The bpmn.io watermark the viewer draws must stay visible (bpmn-js licence): nothing here covers it.
 */
(function () {
  "use strict";

  var EN = (document.documentElement.lang || "vi").toLowerCase().indexOf("en") === 0;
  var TEXT = {
    title: EN ? "Steps of the procedure" : "Các bước của quy trình",
    figure: EN ? "Process diagram of dossier " : "Sơ đồ quy trình của hồ sơ ",
    loading: EN ? "Loading the process diagram…" : "Đang tải sơ đồ quy trình…",
    done: EN ? "done" : "đã xong",
    current: EN ? "in progress" : "đang thực hiện",
    pending: EN ? "not reached" : "chưa đến",
    now: EN ? "Current step: " : "Bước hiện tại: ",
    finished: EN ? "No step is in progress." : "Không có bước nào đang thực hiện.",
    legendDone: EN ? "Done" : "Đã xong",
    legendCurrent: EN ? "In progress" : "Đang thực hiện",
    login: EN ? "Please log in again to see the diagram." : "Hãy đăng nhập lại để xem sơ đồ.",
    forbidden: EN ? "You may not see this dossier." : "Bạn không có quyền xem hồ sơ này.",
    missing: EN ? "Dossier not found." : "Không tìm thấy hồ sơ.",
    failed: EN ? "The diagram could not be loaded." : "Không tải được sơ đồ quy trình.",
    noViewer: EN ? "The drawing is not available; the steps are listed below." : "Không hiển thị được hình vẽ; các bước được liệt kê dưới đây.",
  };
  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      node.setAttribute(k, attrs[k]);
    });
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function problemText(status) {
    if (status === 401) return TEXT.login;
    if (status === 403) return TEXT.forbidden;
    if (status === 404) return TEXT.missing;
    return TEXT.failed;
  }

  function load(code) {
    return fetch("/api/dossiers/" + encodeURIComponent(code) + "/diagram", {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    }).then(function (response) {
      if (!response.ok) {
        var error = new Error(problemText(response.status));
        error.status = response.status;
        throw error;
      }
      return response.json();
    });
  }

  function statusOf(id, current, completed) {
    if (current.indexOf(id) >= 0) return "current";
    if (completed.indexOf(id) >= 0) return "completed";
    return "pending";
  }

  // element id → BPMN kind ("userTask", "exclusiveGateway", …), read from the XML itself (no viewer needed)
  function kinds(xml) {
    var found = {};
    var doc = new DOMParser().parseFromString(xml, "application/xml");
    var all = doc.getElementsByTagNameNS("http://www.omg.org/spec/BPMN/20100524/MODEL", "*");
    for (var i = 0; i < all.length; i++) {
      var id = all[i].getAttribute("id");
      if (id) found[id] = all[i].localName;
    }
    return found;
  }

  // The steps in the order of the process file (the server keeps it): named activities and events
  function steps(data) {
    var kind = kinds(data.xml);
    return Object.keys(data.names).filter(function (id) {
      var k = kind[id] || "task";
      return !!data.names[id] && /(Task|SubProcess|CallActivity|Activity|Event)$/.test(k) && k !== "boundaryEvent";
    });
  }

  function renderList(aside, data) {
    var list = el("ol", { class: "motcua-steps" });
    var ids = steps(data);
    // done first in the order they were done, then the current ones, then the rest in file order
    var ordered = data.completed
      .filter(function (id) {
        return ids.indexOf(id) >= 0;
      })
      .concat(
        data.current.filter(function (id) {
          return ids.indexOf(id) >= 0;
        }),
        ids.filter(function (id) {
          return data.completed.indexOf(id) < 0 && data.current.indexOf(id) < 0;
        })
      );
    ordered.forEach(function (id) {
      var status = statusOf(id, data.current, data.completed);
      var item = el("li", { class: "motcua-step motcua-step-" + status, "data-activity": id });
      if (status === "current") item.setAttribute("aria-current", "step");
      item.appendChild(el("span", { class: "motcua-step-name" }, data.names[id]));
      item.appendChild(document.createTextNode(" "));
      item.appendChild(el("span", { class: "motcua-step-status" }, "(" + TEXT[status === "completed" ? "done" : status] + ")"));
      list.appendChild(item);
    });
    var now = data.current
      .map(function (id) {
        return data.names[id] || id;
      })
      .join("; ");
    var summary = el("p", { class: "motcua-now", role: "status" }, now ? TEXT.now + now : TEXT.finished);
    aside.replaceChildren(el("h2", { id: "motcua-steps-title" }, TEXT.title), summary, list);
  }

  function legend() {
    var box = el("p", { class: "motcua-legend", "aria-hidden": "true" });
    box.appendChild(el("span", { class: "motcua-key motcua-key-completed" }, TEXT.legendDone));
    box.appendChild(el("span", { class: "motcua-key motcua-key-current" }, TEXT.legendCurrent));
    return box;
  }

  function mark(viewer, data) {
    var canvas = viewer.get("canvas");
    var registry = viewer.get("elementRegistry");
    data.completed.forEach(function (id) {
      if (registry.get(id)) canvas.addMarker(id, "motcua-completed");
    });
    data.current.forEach(function (id) {
      if (registry.get(id)) canvas.addMarker(id, "motcua-current");
    });
    // the flows between two steps done (or from a done step into the current one) are drawn as travelled
    registry
      .filter(function (element) {
        return element.type === "bpmn:SequenceFlow";
      })
      .forEach(function (flow) {
        var from = flow.source && flow.source.id;
        var to = flow.target && flow.target.id;
        if (data.completed.indexOf(from) >= 0 && (data.completed.indexOf(to) >= 0 || data.current.indexOf(to) >= 0)) {
          canvas.addMarker(flow.id, "motcua-travelled");
        }
      });
  }

  function show(container) {
    var code = container.getAttribute("data-dossier");
    if (!code) return;
    container.classList.add("motcua-diagram");
    container.setAttribute("aria-busy", "true");
    var figure = el("figure", { class: "motcua-diagram-figure" });
    var canvasBox = el("div", { class: "motcua-diagram-canvas", role: "img", "aria-label": TEXT.figure + code });
    figure.appendChild(canvasBox);
    var aside = el("section", { class: "motcua-diagram-steps", "aria-labelledby": "motcua-steps-title" });
    aside.appendChild(el("p", { role: "status" }, TEXT.loading));
    container.replaceChildren(figure, aside);

    load(code)
      .then(function (data) {
        if (typeof window.BpmnJS !== "function") {
          figure.replaceChildren(el("p", { class: "motcua-diagram-note" }, TEXT.noViewer));
          renderList(aside, data);
          return;
        }
        var viewer = new window.BpmnJS({ container: canvasBox });
        return viewer.importXML(data.xml).then(function () {
          // the drawing repeats the list: keep the SVG out of the accessibility tree, the figure is labelled
          var svg = canvasBox.querySelector("svg");
          if (svg) svg.setAttribute("aria-hidden", "true");
          viewer.get("canvas").zoom("fit-viewport", "auto");
          mark(viewer, data);
          figure.appendChild(legend());
          renderList(aside, data);
          container.motcuaViewer = viewer;
        }, function (error) {
          figure.replaceChildren(el("p", { class: "motcua-diagram-note" }, TEXT.noViewer));
          renderList(aside, data);
          if (window.console) window.console.warn("bpmn-js import failed", error);
        });
      })
      .catch(function (error) {
        aside.replaceChildren(el("p", { class: "motcua-diagram-error", role: "alert" }, error.status ? error.message : TEXT.failed));
      })
      .then(function () {
        container.removeAttribute("aria-busy");
      });
  }

  function start() {
    var container = document.querySelector("#diagram[data-dossier]");
    if (!container) return;
    // one click away: inside a closed <details> the diagram is drawn when it is first opened (a hidden canvas
    // cannot be fitted), and not fetched at all when nobody opens it
    var details = container.closest("details");
    if (details && !details.open) {
      details.addEventListener("toggle", function once() {
        if (!details.open) return;
        details.removeEventListener("toggle", once);
        show(container);
      });
      return;
    }
    show(container);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
