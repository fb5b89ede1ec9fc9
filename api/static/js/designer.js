/*
 * Motcua — the procedure designer (/quan-tri/thu-tuc/{code}/thiet-ke). No framework, no build step.
 *
 * 1. The process: the vendored bpmn-js MODELER (bpmn-modeler.production.min.js, with camunda-bpmn-moddle's
 *    descriptor so camunda:candidateGroups, camunda:type, camunda:topic and camunda:dueDate round-trip) on the
 *    draft's BPMN, read from the form's textarea #bpmn-xml. A side panel edits the selected element: name, id, for
 *    a user task its role (candidate group) and the standard step the desk relies on (its id), for a service task
 *    its topic (camunda:type="external"). "Thêm bước tiếp theo" appends a step of a chosen kind after the selected
 *    element (or after the last step) with its id, name, topic, role and dueDate="${due_at}" set — an
 *    administrator who does not know BPMN builds a linear process. "Lưu quy trình" writes saveXML() into the
 *    textarea and posts the form. Without the modeler (script blocked) the textarea itself is the editor.
 * 2. The form: the JSON Schema textarea is previewed as the desk draws it (POST …/xem-truoc-bieu-mau, debounced);
 *    "Thêm trường" buttons insert a field skeleton.
 * 3. The papers of the catalogue entry: "Thêm giấy tờ" adds a row.
 * 4. Unsaved edits: each save posts one section's form and reloads the page, so an edit in another section would be
 *    lost. A section is marked dirty on input (or a change in the modeler); leaving the page warns (beforeunload),
 *    and posting any form while ANOTHER section is dirty asks first ("Phần … có thay đổi chưa lưu"). The reload
 *    after a save starts clean; a save the server refused comes back with its text marked unsaved (data-unsaved).
 *
 * The choices (roles, topics, standard steps, kinds of step) come from the page (#designer-palette, JSON made by
 * the server with their Vietnamese labels). The bpmn.io watermark the modeler draws stays visible (licence).
 */
(function () {
  "use strict";

  var EN = (document.documentElement.lang || "vi").toLowerCase().indexOf("en") === 0;
  var TEXT = {
    loading: EN ? "Loading the modeler…" : "Đang tải công cụ thiết kế quy trình…",
    noModeler: EN ? "The modeler is not available; edit the XML below." : "Không tải được công cụ thiết kế; có thể sửa trực tiếp nội dung quy trình bên dưới.",
    badXml: EN ? "The process cannot be drawn: " : "Không vẽ được quy trình: ",
    ready: EN ? "Select a step to edit it." : "Chọn một bước để sửa.",
    saving: EN ? "Saving the process…" : "Đang lưu quy trình…",
    kinds: {
      "bpmn:StartEvent": EN ? "Start event" : "Sự kiện bắt đầu",
      "bpmn:EndEvent": EN ? "End event" : "Sự kiện kết thúc",
      "bpmn:UserTask": EN ? "Step done by an official" : "Bước do cán bộ thực hiện",
      "bpmn:ServiceTask": EN ? "Automatic step" : "Bước tự động",
      "bpmn:ExclusiveGateway": EN ? "Decision" : "Rẽ nhánh theo quyết định",
      "bpmn:SequenceFlow": EN ? "Flow" : "Luồng chuyển tiếp",
      "bpmn:Task": EN ? "Step" : "Bước",
    },
    otherKind: EN ? "Element" : "Thành phần khác",
    idTaken: EN ? "This id is already used." : "Mã bước này đã được dùng.",
    idBad: EN ? "An id starts with a letter; letters, digits, _ and - only." : "Mã bước bắt đầu bằng chữ cái, chỉ gồm chữ không dấu, chữ số, dấu _ và -.",
    noRole: EN ? "— Choose a role —" : "— Chọn vai trò —",
    noTopic: EN ? "— Choose a task —" : "— Chọn tác vụ —",
    cannotAppend: EN ? "Select a step to append after (not an end event)." : "Hãy chọn bước đứng trước (không phải sự kiện kết thúc).",
    appended: EN ? "Appended: " : "Đã thêm bước: ",
    badJson: EN ? "The form is not valid JSON yet: " : "Biểu mẫu chưa phải JSON hợp lệ: ",
    previewFailed: EN ? "The preview could not be loaded." : "Không tải được bản xem trước.",
    newField: EN ? "New field" : "Trường mới",
    unsaved: function (names) {
      return EN
        ? "Unsaved changes in: " + names.join(", ") + ". They are lost when the page reloads. Continue?"
        : "Phần " + names.join(", ") + " có thay đổi chưa lưu; tiếp tục thì các thay đổi đó sẽ mất khi trang tải lại. Vẫn tiếp tục?";
    },
  };

  function $(id) {
    return document.getElementById(id);
  }

  function palette() {
    var node = $("designer-palette");
    try {
      return JSON.parse(node ? node.textContent : "{}");
    } catch (e) {
      return {};
    }
  }

  function fillSelect(select, pairs, empty) {
    select.textContent = "";
    if (empty !== undefined) select.appendChild(new Option(empty, ""));
    pairs.forEach(function (p) {
      select.appendChild(new Option(p[1], p[0]));
    });
  }

  function csrf() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  // ------------------------------------------------------------------ the modeler

  function startModeler(data) {
    var container = $("modeler");
    var textarea = $("bpmn-xml");
    var form = $("process-form");
    var status = $("modeler-status");
    if (!container || !textarea || !form) return;
    if (typeof window.BpmnJS !== "function") {
      status.textContent = TEXT.noModeler;
      return;
    }
    status.textContent = TEXT.loading;
    fetch("/static/vendor/bpmn-js/camunda-bpmn-moddle/camunda.json", { credentials: "same-origin" })
      .then(function (r) {
        if (!r.ok) throw new Error(String(r.status));
        return r.json();
      })
      .then(function (camunda) {
        var modeler = new window.BpmnJS({ container: container, moddleExtensions: { camunda: camunda } });
        return modeler.importXML(textarea.value).then(function () {
          modeler.get("canvas").zoom("fit-viewport", "auto");
          container.parentNode.classList.add("ready");
          status.textContent = TEXT.ready;
          wire(modeler, data, textarea, form, status);
          window.motcuaModeler = modeler; // the browser tests read the diagram through it
        });
      })
      .catch(function (error) {
        status.textContent = TEXT.badXml + (error && error.message ? error.message : String(error));
      });
  }

  function isEditable(element) {
    return element && element.type !== "bpmn:Process" && element.type !== "label" && element.businessObject;
  }

  function wire(modeler, data, textarea, form, status) {
    var modeling = modeler.get("modeling");
    var registry = modeler.get("elementRegistry");
    var selection = modeler.get("selection");
    var elementFactory = modeler.get("elementFactory");
    var autoPlace = modeler.get("autoPlace");
    var eventBus = modeler.get("eventBus");

    var panel = {
      none: $("panel-none"),
      fields: $("panel-fields"),
      kind: $("panel-kind"),
      name: $("el-name"),
      id: $("el-id"),
      role: $("el-role"),
      step: $("el-step"),
      topic: $("el-topic"),
      message: $("panel-message"),
    };
    fillSelect(panel.role, data.roles || [], TEXT.noRole);
    fillSelect(panel.step, data.steps || []);
    fillSelect(panel.topic, data.topics || [], TEXT.noTopic);
    var kindSelect = $("next-kind");
    fillSelect(
      kindSelect,
      (data.kinds || []).map(function (k) {
        return [k.kind, k.label];
      })
    );
    var current = null;

    function show(element) {
      current = isEditable(element) ? element : null;
      panel.message.textContent = "";
      if (!current) {
        panel.none.hidden = false;
        panel.fields.hidden = true;
        return;
      }
      var bo = current.businessObject;
      panel.none.hidden = true;
      panel.fields.hidden = false;
      panel.kind.textContent = TEXT.kinds[current.type] || TEXT.otherKind;
      panel.name.value = bo.name || "";
      panel.id.value = bo.id || "";
      var user = current.type === "bpmn:UserTask";
      var service = current.type === "bpmn:ServiceTask";
      Array.prototype.forEach.call(panel.fields.querySelectorAll("[data-for]"), function (p) {
        p.hidden = !((p.getAttribute("data-for") === "user" && user) || (p.getAttribute("data-for") === "service" && service));
      });
      if (user) {
        panel.role.value = bo.get("camunda:candidateGroups") || "";
        var standard = (data.steps || []).some(function (s) {
          return s[0] === bo.id;
        });
        panel.step.value = standard ? bo.id : "";
      }
      if (service) panel.topic.value = bo.get("camunda:topic") || "";
    }

    function update(props) {
      if (current) modeling.updateProperties(current, props);
    }

    function freeId(id) {
      if (!registry.get(id)) return id;
      for (var n = 2; n < 1000; n++) {
        if (!registry.get(id + "_" + n)) return id + "_" + n;
      }
      return id + "_" + Date.now();
    }

    function setId(id) {
      if (!current || id === current.businessObject.id) return true;
      if (!/^[A-Za-z_][A-Za-z0-9_-]{0,79}$/.test(id)) {
        panel.message.textContent = TEXT.idBad;
        return false;
      }
      if (registry.get(id)) {
        panel.message.textContent = TEXT.idTaken;
        return false;
      }
      update({ id: id });
      return true;
    }

    eventBus.on("commandStack.changed", function () {
      markDirty(form);
    });
    eventBus.on("selection.changed", function (event) {
      show(event.newSelection && event.newSelection.length === 1 ? event.newSelection[0] : null);
    });
    eventBus.on("element.changed", function (event) {
      if (current && event.element === current) show(current);
    });
    panel.name.addEventListener("change", function () {
      update({ name: panel.name.value.trim() || undefined });
    });
    panel.id.addEventListener("change", function () {
      if (!setId(panel.id.value.trim())) panel.id.value = current ? current.businessObject.id : "";
    });
    panel.role.addEventListener("change", function () {
      update({ "camunda:candidateGroups": panel.role.value || undefined });
    });
    panel.step.addEventListener("change", function () {
      if (panel.step.value) setId(panel.step.value);
    });
    panel.topic.addEventListener("change", function () {
      update({ "camunda:type": panel.topic.value ? "external" : undefined, "camunda:topic": panel.topic.value || undefined });
    });

    // the element a new step follows: the selected one, else the last step of the chain from the start event
    function lastStep() {
      var candidates = registry.filter(function (e) {
        return e.type !== "label" && e.businessObject && e.businessObject.$instanceOf && e.businessObject.$instanceOf("bpmn:FlowNode");
      });
      var tails = candidates.filter(function (e) {
        return e.type !== "bpmn:EndEvent" && e.type !== "bpmn:BoundaryEvent" &&
          !(e.outgoing || []).some(function (c) {
            return c.type === "bpmn:SequenceFlow";
          });
      });
      return tails.length ? tails[tails.length - 1] : null;
    }

    $("append-step").addEventListener("click", function () {
      var kind = (data.kinds || []).filter(function (k) {
        return k.kind === kindSelect.value;
      })[0];
      if (!kind) return;
      var selected = selection.get();
      var source = selected.length === 1 && isEditable(selected[0]) && selected[0].type !== "bpmn:SequenceFlow" ? selected[0] : lastStep();
      if (!source || source.type === "bpmn:EndEvent") {
        status.textContent = TEXT.cannotAppend;
        return;
      }
      var shape = elementFactory.createShape({ type: kind.type });
      var placed = autoPlace.append(source, shape) || shape;
      var props = { id: freeId(kind.id), name: kind.name };
      if (kind.topic) {
        props["camunda:type"] = "external";
        props["camunda:topic"] = kind.topic;
      }
      if (kind.role) props["camunda:candidateGroups"] = kind.role;
      if (kind.due) props["camunda:dueDate"] = "${due_at}";
      modeling.updateProperties(placed, props);
      modeler.get("canvas").zoom("fit-viewport", "auto"); // the whole chain stays in sight as it grows
      selection.select(placed);
      status.textContent = TEXT.appended + kind.label;
    });

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      status.textContent = TEXT.saving;
      modeler.saveXML({ format: true }).then(function (result) {
        textarea.value = result.xml;
        form.submit();
      });
    });
  }

  // ------------------------------------------------------------------ the form's live preview

  function formPreview() {
    var textarea = $("form-json");
    var target = $("form-preview");
    if (!textarea || !target) return;
    var timer = null;
    var asked = 0;
    function refresh() {
      var mine = ++asked;
      var body = new FormData();
      body.append("csrf_token", csrf());
      body.append("form_json", textarea.value);
      fetch(textarea.getAttribute("data-preview"), { method: "POST", body: body, credentials: "same-origin" })
        .then(function (r) {
          return r.text().then(function (html) {
            return { ok: r.status === 200 || r.status === 422, html: html };
          });
        })
        .then(function (answer) {
          if (mine !== asked) return; // a later keystroke already asked again
          if (answer.ok) {
            target.innerHTML = answer.html; // drawn by the server's autoescaped template
          } else {
            target.textContent = TEXT.previewFailed;
          }
        })
        .catch(function () {
          if (mine === asked) target.textContent = TEXT.previewFailed;
        });
    }
    textarea.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(refresh, 400);
    });

    var helpers = $("field-helpers");
    if (!helpers) return;
    helpers.hidden = false;
    var skeletons = {
      text: { type: "string", minLength: 1, maxLength: 255 },
      date: { type: "string", format: "date", "x-widget": "date" },
      "id-number": { type: "string", pattern: "^[0-9]{12}$", "x-widget": "id-number" },
      address: { type: "string", maxLength: 500, "x-widget": "address" },
      money: { type: "integer", minimum: 0, "x-widget": "money" },
    };
    Array.prototype.forEach.call(helpers.querySelectorAll("[data-add-field]"), function (button) {
      button.addEventListener("click", function () {
        var schema;
        try {
          schema = JSON.parse(textarea.value || "{}");
        } catch (e) {
          target.textContent = TEXT.badJson + e.message;
          return;
        }
        schema["$schema"] = schema["$schema"] || "https://json-schema.org/draft/2020-12/schema";
        schema.type = schema.type || "object";
        schema.additionalProperties = false;
        schema.properties = schema.properties || {};
        var n = Object.keys(schema.properties).length + 1;
        var key = "truong_" + n;
        while (schema.properties[key]) key = "truong_" + ++n;
        var field = JSON.parse(JSON.stringify(skeletons[button.getAttribute("data-add-field")]));
        field["x-label"] = { vi: TEXT.newField + " " + n, en: "Field " + n };
        field["x-order"] = n * 10;
        schema.properties[key] = field;
        textarea.value = JSON.stringify(schema, null, 2);
        markDirty(textarea.form);
        refresh();
      });
    });
  }

  // ------------------------------------------------------------------ the papers' rows

  function paperRows() {
    var button = $("add-paper");
    var body = $("paper-rows");
    if (!button || !body) return;
    button.hidden = false;
    button.addEventListener("click", function () {
      var rows = body.querySelectorAll("[data-paper-row]");
      var last = rows[rows.length - 1];
      var copy = last.cloneNode(true);
      var index = rows.length;
      copy.querySelector("th").firstChild.textContent = String(index + 1);
      Array.prototype.forEach.call(copy.querySelectorAll("[name]"), function (input) {
        input.name = input.name.replace(/^paper\.\d+\./, "paper." + index + ".");
        var label = input.getAttribute("aria-label");
        if (label) input.setAttribute("aria-label", label.replace(/\d+$/, String(index + 1)));
        if (input.type === "checkbox") input.checked = /mandatory$/.test(input.name);
        else if (input.tagName === "INPUT") input.value = /count$/.test(input.name) ? "1" : "";
      });
      body.appendChild(copy);
      markDirty(button.form);
      copy.querySelector('[name$=".name"]').focus();
    });
  }

  // ------------------------------------------------------------------ unsaved edits

  var SECTION_FORMS = ["form.designer-entry", "#process-form", "#form-form", "#template-form"];
  var dirty = []; // the section forms with unsaved edits
  var leaving = false; // a post the administrator agreed to: no second warning as the page unloads

  function sectionName(form) {
    var section = form && form.closest("section");
    var heading = section && section.querySelector("h2");
    var text = heading ? heading.textContent.replace(/^\s*\d+\.\s*/, "").trim() : "";
    return "“" + text + "”";
  }

  function markDirty(form) {
    if (!form || dirty.indexOf(form) >= 0 || !SECTION_FORMS.some(function (q) { return form.matches(q); })) return;
    dirty.push(form);
    form.setAttribute("data-dirty", "");
  }

  function trackUnsaved() {
    SECTION_FORMS.forEach(function (query) {
      var form = document.querySelector(query);
      if (!form) return;
      var mark = function () {
        markDirty(form);
      };
      form.addEventListener("input", mark);
      form.addEventListener("change", mark);
      if (form.hasAttribute("data-unsaved")) markDirty(form);
    });
    // capture: runs before a form's own submit handler (the modeler's), which it may stop
    document.addEventListener(
      "submit",
      function (event) {
        var form = event.target;
        var submitter = event.submitter;
        if (submitter && submitter.getAttribute("formtarget")) return; // the PDF preview opens in the frame
        var others = dirty.filter(function (f) {
          return f !== form;
        });
        if (others.length && !window.confirm(TEXT.unsaved(others.map(sectionName)))) {
          event.preventDefault();
          event.stopImmediatePropagation();
          return;
        }
        leaving = true; // the submit event comes after the browser's own checks: the page is left
      },
      true
    );
    window.addEventListener("beforeunload", function (event) {
      if (leaving || !dirty.length) return;
      event.preventDefault();
      event.returnValue = TEXT.unsaved(dirty.map(sectionName));
      return event.returnValue;
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    trackUnsaved();
    startModeler(palette());
    formPreview();
    paperRows();
  });
})();
