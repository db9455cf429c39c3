/* Segment rule builder: form widgets that write the rule JSON into the
 * "rule" field, with a live count and sample of matching profiles.
 * Plain JavaScript, no dependencies. The JSON stays editable ("Edit as JSON").
 */
document.addEventListener("DOMContentLoaded", function () {
  "use strict";

  const root = document.getElementById("rule-builder");
  const textarea = document.getElementById("id_rule");
  if (!root || !textarea) return;
  const kindSelect = document.getElementById("id_kind");
  const LEAVES = {
    field: "Profile field", trait: "Trait", computed_trait: "Computed trait", event: "Event",
    has_identifier: "Has identifier", source: "Came from source", segment: "Member of segment",
    consent: "Consent allows",
  };
  const OP_LABELS = {
    eq: "is", neq: "is not", contains: "contains", starts_with: "starts with", in: "is one of",
    gt: ">", gte: "≥", lt: "<", lte: "≤", between: "between", is_set: "is set",
    is_not_set: "is not set", before: "before", after: "after",
    within_last_days: "in the last N days", more_than_days_ago: "more than N days ago",
  };
  let options = null;
  let rule = null;
  let previewTimer = null;

  /* Every generated control gets a name screen readers announce (by its class). */
  const LABELS = {
    "rb-mode": "Match all or any of the conditions", "rb-kind": "Condition type",
    "rb-field": "Profile field", "rb-op": "Comparison", "rb-value": "Value", "rb-type": "Value type",
    "rb-trait": "Trait name", "rb-event-name": "Event name", "rb-performed": "Performed or not",
    "rb-count": "How many times", "rb-count-value": "Number of times", "rb-window": "When",
    "rb-within": "Number of days", "rb-occurrence": "First or last time", "rb-property": "Event property",
  };

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([key, value]) => {
      if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else if (value !== undefined && value !== null) node.setAttribute(key, value);
    });
    if ((tag === "select" || tag === "input") && !node.hasAttribute("aria-label") && node.type !== "checkbox") {
      node.setAttribute("aria-label", LABELS[(attrs && attrs.class) || ""] || "Condition value");
    }
    children.flat().forEach((child) => {
      if (child !== null && child !== undefined) {
        node.append(child instanceof Node ? child : document.createTextNode(String(child)));
      }
    });
    return node;
  }

  function select(values, current, onchange, attrs) {
    const box = el("select", Object.assign({ onchange: (e) => onchange(e.target.value) }, attrs));
    values.forEach(([value, label]) => {
      const option = el("option", { value: value }, label);
      if (String(value) === String(current)) option.selected = true;
      box.append(option);
    });
    return box;
  }

  function input(value, oninput, attrs) {
    const box = el("input", Object.assign({ type: "text" }, attrs));
    box.value = value === undefined || value === null ? "" : value;
    box.addEventListener("input", (e) => oninput(e.target.value));
    return box;
  }

  function datalist(id, values) {
    let list = document.getElementById(id);
    if (!list) { list = el("datalist", { id: id }); document.body.append(list); }
    list.replaceChildren(...values.map((v) => el("option", { value: v })));
    return id;
  }

  function kindOf(node) { return Object.keys(LEAVES).find((key) => key in node); }
  function isGroup(node) { return node && ("all" in node || "any" in node); }

  function coerce(text, type) {
    if (type === "number") { const n = Number(text); return text.trim() !== "" && !isNaN(n) ? n : text; }
    if (type === "bool") return text === "true";
    return text;
  }

  function typeOfValue(value) {
    if (typeof value === "number") return "number";
    if (typeof value === "boolean") return "bool";
    return "text";
  }

  function save() {
    textarea.value = JSON.stringify(rule, null, 2);
    clearTimeout(previewTimer);
    previewTimer = setTimeout(preview, 350);
  }

  /* A comparison (op + value) on a field, trait, computed trait or property.
   * valueType: "text" | "number" | "bool" | "date" | "datetime" | "json". */
  function comparison(node, valueType, suggestions) {
    const wrap = el("span", { class: "rb-comparison" });
    const ops = options.operators[valueType] || options.operators.json;
    function draw() {
      const op = node.op;
      let type = valueType === "json" ? typeOfValue(Array.isArray(node.value) ? node.value[0] : node.value) : valueType;
      if (["gt", "gte", "lt", "lte"].includes(op)) type = "number";
      const parts = [select(ops.map((o) => [o, OP_LABELS[o] || o]), op, (v) => {
        node.op = v;
        if (["is_set", "is_not_set"].includes(v)) delete node.value;
        else if (v === "between") node.value = ["", ""];
        else if (v === "in") node.value = [];
        else if (["within_last_days", "more_than_days_ago"].includes(v)) node.value = 30;
        else if (Array.isArray(node.value) || node.value === undefined) node.value = "";
        draw(); save();
      }, { class: "rb-op" })];
      const dated = ["before", "after"].includes(op) || (op === "between" && ["date", "datetime"].includes(valueType));
      if (["is_set", "is_not_set"].includes(op)) {
        // no value
      } else if (["within_last_days", "more_than_days_ago"].includes(op)) {
        parts.push(input(node.value, (v) => { node.value = coerce(v, "number"); save(); }, { type: "number", min: 0, class: "rb-value" }));
      } else if (op === "between") {
        const bound = (i) => input(node.value[i], (v) => { node.value[i] = dated ? v : coerce(v, "number"); save(); },
          { type: dated ? "date" : "text", class: "rb-value", placeholder: dated ? "" : "number or YYYY-MM-DD" });
        parts.push(bound(0), " and ", bound(1));
      } else if (dated) {
        parts.push(input(node.value, (v) => { node.value = v; save(); }, { type: "date", class: "rb-value" }));
      } else if (type === "bool" || valueType === "bool") {
        if (typeof node.value !== "boolean") node.value = true;
        parts.push(select([["true", "true"], ["false", "false"]], String(node.value), (v) => { node.value = v === "true"; save(); }, { class: "rb-value" }));
      } else if (op === "in") {
        parts.push(input((node.value || []).join(", "), (v) => {
          node.value = v.split(",").map((s) => s.trim()).filter(Boolean).map((s) => coerce(s, type));
          save();
        }, { class: "rb-value", placeholder: "a, b, c", list: suggestions }));
      } else {
        parts.push(input(node.value, (v) => { node.value = coerce(v, type); save(); },
          { class: "rb-value", list: suggestions, type: type === "number" ? "number" : "text", step: "any" }));
      }
      if (valueType === "json" && ["eq", "neq", "in"].includes(op)) {
        parts.push(select([["text", "as text"], ["number", "as number"], ["bool", "as yes/no"]], type, (t) => {
          node.value = op === "in" ? [] : (t === "bool" ? true : (t === "number" ? 0 : ""));
          draw(); save();
        }, { class: "rb-type", title: "value type" }));
      }
      if (["eq", "neq", "contains", "starts_with", "in"].includes(op) && type === "text") {
        const box = el("input", { type: "checkbox", class: "rb-case" });
        box.checked = !!node.case_sensitive;
        box.addEventListener("change", () => { if (box.checked) node.case_sensitive = true; else delete node.case_sensitive; save(); });
        parts.push(el("label", { class: "rb-case-label" }, box, " match case"));
      }
      wrap.replaceChildren(...parts);
    }
    draw();
    return wrap;
  }

  function valuesList(query, id) {
    const params = new URLSearchParams(query);
    fetch(root.dataset.valuesUrl + "?" + params, { credentials: "same-origin" })
      .then((r) => r.json()).then((data) => datalist(id, (data.values || data.properties || []).map(String)));
    return id;
  }

  function defaults(kind) {
    switch (kind) {
      case "field": return { field: "country", op: "eq", value: "" };
      case "trait": return { trait: options.traits[0] || "", op: "eq", value: "" };
      case "computed_trait": {
        const t = options.computed_traits[0];
        return t ? { computed_trait: t.name, op: t.numeric ? "gte" : "eq", value: t.numeric ? 1 : "" } : { computed_trait: "", op: "gte", value: 1 };
      }
      case "event": return { event: options.purchase_event || options.events[0] || "", within_days: 30 };
      case "has_identifier": return { has_identifier: options.identifier_types[0] || "email" };
      case "source": return { source: options.sources.length ? options.sources[0].id : 0 };
      case "segment": return { segment: options.segments.length ? options.segments[0].id : 0 };
      case "consent": return { consent: options.purposes.length ? options.purposes[0].code : "" };
    }
  }

  function condition(node, replace) {
    const kind = kindOf(node);
    const row = el("div", { class: "rb-condition", "data-kind": kind });
    row.append(select(Object.entries(LEAVES), kind, (k) => replace(defaults(k)), { class: "rb-kind" }));
    if (kind === "field") {
      const fields = Object.keys(options.fields).map((f) => [f, f.replace(/_/g, " ")]);
      row.append(select(fields, node.field, (f) => {
        const type = options.fields[f];
        replace({ field: f, op: type === "bool" ? "eq" : (["date", "datetime"].includes(type) ? "within_last_days" : "eq"),
                  value: type === "bool" ? true : (["date", "datetime"].includes(type) ? 30 : "") });
      }, { class: "rb-field" }));
      const id = valuesList({ field: node.field }, "rb-values-field-" + node.field);
      row.append(comparison(node, options.fields[node.field], id));
    } else if (kind === "trait") {
      row.append(input(node.trait, (v) => { node.trait = v; save(); }, { class: "rb-trait", list: datalist("rb-traits", options.traits), placeholder: "trait" }));
      row.append(comparison(node, "json", valuesList({ trait: node.trait }, "rb-values-trait")));
    } else if (kind === "computed_trait") {
      const trait = options.computed_traits.find((t) => t.name === node.computed_trait);
      row.append(select(options.computed_traits.map((t) => [t.name, t.name]), node.computed_trait, (v) => {
        const t = options.computed_traits.find((c) => c.name === v);
        replace({ computed_trait: v, op: t.numeric ? "gte" : "eq", value: t.numeric ? 1 : "" });
      }));
      row.append(comparison(node, trait && !trait.numeric ? "text" : "number", null));
    } else if (kind === "event") {
      row.append(eventEditor(node));
    } else if (kind === "has_identifier") {
      row.append(select(options.identifier_types.map((t) => [t, t]), node.has_identifier, (v) => { node.has_identifier = v; save(); }));
    } else if (kind === "source") {
      row.append(select(options.sources.map((s) => [s.id, s.name]), node.source, (v) => { node.source = Number(v); save(); }));
    } else if (kind === "consent") {
      row.append(select(options.purposes.map((p) => [p.code, p.name]), node.consent, (v) => { node.consent = v; save(); }));
    } else if (kind === "segment") {
      const others = options.segments.filter((s) => String(s.id) !== root.dataset.segmentId);
      row.append(select(others.map((s) => [s.id, s.name]), node.segment, (v) => { node.segment = Number(v); save(); }));
    }
    return row;
  }

  function eventEditor(node) {
    const box = el("span", { class: "rb-event" });
    function draw() {
      const props = "rb-props-" + node.event;
      valuesList({ event: node.event }, props);
      const count = node.count ? Object.keys(node.count)[0] : "";
      const windowKind = "within_days" in node ? "within" : ("between" in node ? "between" : "");
      const occurrence = node.first ? "first" : (node.last ? "last" : "");
      const parts = [
        input(node.event, (v) => { node.event = v; save(); }, { class: "rb-event-name", list: datalist("rb-events", options.events), placeholder: "event name" }),
        select([["true", "performed"], ["false", "not performed"]], String(node.performed !== false), (v) => {
          if (v === "false") { node.performed = false; delete node.count; delete node.first; delete node.last; } else delete node.performed;
          draw(); save();
        }, { class: "rb-performed" }),
      ];
      if (node.performed !== false) {
        parts.push(select([["", "any number of times"], ["at_least", "at least"], ["at_most", "at most"], ["exactly", "exactly"]], count, (v) => {
          if (v) node.count = { [v]: count ? node.count[count] : 1 }; else delete node.count;
          draw(); save();
        }, { class: "rb-count" }));
        if (count) parts.push(input(node.count[count], (v) => { node.count = { [count]: coerce(v, "number") }; save(); }, { type: "number", min: 0, class: "rb-count-value" }), " times");
      }
      parts.push(select([["", "any time"], ["within", "in the last"], ["between", "between"]], windowKind, (v) => {
        delete node.within_days; delete node.between;
        if (v === "within") node.within_days = 30;
        if (v === "between") node.between = ["", ""];
        draw(); save();
      }, { class: "rb-window" }));
      if (windowKind === "within") parts.push(input(node.within_days, (v) => { node.within_days = coerce(v, "number"); save(); }, { type: "number", min: 1, class: "rb-within" }), " days");
      if (windowKind === "between") {
        [0, 1].forEach((i) => parts.push(input(node.between[i], (v) => { node.between[i] = v; save(); }, { type: "date" })));
      }
      if (node.performed !== false) {
        parts.push(select([["", "—"], ["first", "first time"], ["last", "last time"]], occurrence, (v) => {
          delete node.first; delete node.last;
          if (v) node[v] = { op: "within_last_days", value: 30 };
          draw(); save();
        }, { class: "rb-occurrence" }));
        if (occurrence) parts.push(comparison(node[occurrence], "datetime", null));
      }
      const filters = el("div", { class: "rb-where" });
      (node.where || []).forEach((filter, index) => {
        filters.append(el("div", { class: "rb-filter" }, "where ",
          input(filter.property, (v) => { filter.property = v; save(); }, { list: props, placeholder: "property", class: "rb-property" }),
          comparison(filter, "json", null),
          el("button", { type: "button", class: "rb-remove", "aria-label": "Remove this property filter", title: "remove", onclick: () => { node.where.splice(index, 1); if (!node.where.length) delete node.where; draw(); save(); } }, "×")));
      });
      filters.append(el("button", { type: "button", class: "rb-add-filter", onclick: () => {
        node.where = node.where || []; node.where.push({ property: "", op: "eq", value: "" }); draw(); save();
      } }, "+ property filter"));
      box.replaceChildren(...parts, filters);
    }
    draw();
    return box;
  }

  /* One entry of a group: a condition or a group, possibly wrapped in "not". */
  function item(list, index, redraw) {
    const negated = "not" in list[index];
    const inner = negated ? list[index].not : list[index];
    const replace = (node) => { list[index] = negated ? { not: node } : node; redraw(); save(); };
    const notBox = el("input", { type: "checkbox", class: "rb-not" });
    notBox.checked = negated;
    notBox.addEventListener("change", () => { list[index] = notBox.checked ? { not: inner } : inner; redraw(); save(); });
    const body = isGroup(inner) ? group(inner, redraw) : condition(inner, replace);
    return el("div", { class: "rb-item" + (negated ? " rb-negated" : "") },
      el("label", { class: "rb-not-label", title: "negate" }, notBox, " not"), body,
      el("button", { type: "button", class: "rb-remove", "aria-label": "Remove this condition", title: "remove", onclick: () => { list.splice(index, 1); redraw(); save(); } }, "×"));
  }

  function group(node, redraw) {
    const mode = "all" in node ? "all" : "any";
    const list = node[mode];
    return el("div", { class: "rb-group" },
      el("div", { class: "rb-group-head" }, select([["all", "Match all of"], ["any", "Match any of"]], mode, (v) => {
        if (v !== mode) { node[v] = node[mode]; delete node[mode]; redraw(); save(); }
      }, { class: "rb-mode" })),
      el("div", { class: "rb-children" }, list.map((_, index) => item(list, index, redraw))),
      el("div", { class: "rb-actions" },
        el("button", { type: "button", class: "rb-add-condition", onclick: () => { list.push(defaults("field")); redraw(); save(); } }, "+ Condition"),
        el("button", { type: "button", class: "rb-add-group", onclick: () => { list.push({ any: [defaults("field")] }); redraw(); save(); } }, "+ Group")));
  }

  const tree = el("div", { class: "rb-tree" });
  const result = el("div", { class: "rb-preview", "aria-live": "polite" });
  function draw() { tree.replaceChildren(group(rule, draw)); }

  function csrf() {
    const field = document.querySelector("input[name=csrfmiddlewaretoken]");
    return field ? field.value : "";
  }

  function preview() {
    if (kindSelect && kindSelect.value !== "dynamic") return;
    if (!(rule.all || rule.any).length) {
      result.textContent = "Add a condition to see the matching profiles.";
      return;
    }
    result.textContent = "Counting…";
    showSteps([]);
    fetch(root.dataset.previewUrl, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf() },
      body: JSON.stringify({ rule: rule, segment_id: root.dataset.segmentId ? Number(root.dataset.segmentId) : null }),
    }).then((r) => r.json()).then((data) => {
      if (data.code) {  // an error: {code, message, details}; rule errors in details.errors
        const errors = (data.details && data.details.errors) || [{ path: "$", message: data.message }];
        result.replaceChildren(el("ul", { class: "errorlist rb-errors" }, errors.map((e) => el("li", {}, e.path + ": " + e.message))));
        return;
      }
      showSteps(data.steps || [], data.estimated);
      const number = data.estimated
        ? (data.fewer_than ? "fewer than about " + data.fewer_than.toLocaleString()
          : "about " + data.count.toLocaleString() + (data.margin ? " ± " + data.margin.toLocaleString() : ""))
        : data.count.toLocaleString();
      result.replaceChildren(
        el("p", { class: "rb-count-line" }, "Matching profiles: ", el("strong", { class: "rb-count-number" }, number),
          data.estimated ? el("span", { class: "rb-estimate-note" }, " (estimated from " + data.sampled_profiles.toLocaleString() +
            " sampled profiles; the saved segment is counted exactly)") : ""),
        el("ul", { class: "rb-sample" }, data.sample.map((c) => el("li", {}, el("a", { href: c.url }, c.name), c.email ? " · " + c.email : ""))));
    }).catch(() => { result.textContent = "Could not count matching profiles."; });
  }

  /* Per-condition counts of the top group: how many profiles each condition
   * matches alone, and how many are left after it (all) or gathered so far (any),
   * so that a marketer sees which condition empties a segment. */
  function showSteps(steps, estimated) {
    const about = estimated ? "about " : "";
    const items = tree.querySelectorAll(":scope > .rb-group > .rb-children > .rb-item");
    const all = "all" in rule;
    items.forEach((item, index) => {
      let badge = item.querySelector(":scope > .rb-step");
      const step = steps[index];
      if (!step) { if (badge) badge.remove(); return; }
      if (!badge) { badge = el("span", { class: "rb-step" }); item.insertBefore(badge, item.lastChild); }
      badge.textContent = about + step.alone.toLocaleString() + " match this alone · " + about + step.running.toLocaleString() +
        (all ? " left after this" : " so far");
      badge.classList.toggle("rb-step-zero", step.running === 0 || step.alone === 0);
    });
  }

  function loadFromTextarea() {
    try {
      const parsed = JSON.parse(textarea.value || "{}");
      rule = isGroup(parsed) ? parsed : (Object.keys(parsed).length ? { all: [parsed] } : { all: [] });
      return true;
    } catch (error) { return false; }
  }

  function start(data) {
    options = data;
    if (!loadFromTextarea()) return; // not JSON: leave the plain field alone
    const rawRow = textarea.closest(".form-row") || textarea.parentNode;
    const toggle = el("button", { type: "button", class: "rb-json-toggle", onclick: () => {
      rawRow.classList.toggle("rb-raw-hidden");
    } }, "Edit as JSON");
    textarea.addEventListener("input", () => { if (loadFromTextarea()) { draw(); clearTimeout(previewTimer); previewTimer = setTimeout(preview, 350); } });
    rawRow.classList.add("rb-raw-hidden");
    root.replaceChildren(el("h2", {}, "Rule"), tree, el("div", { class: "rb-footer" }, toggle), result);
    root.hidden = !kindSelect || kindSelect.value === "dynamic" ? false : true;
    if (kindSelect) kindSelect.addEventListener("change", () => { root.hidden = kindSelect.value !== "dynamic"; if (!root.hidden) preview(); });
    draw();
    textarea.value = JSON.stringify(rule, null, 2);
    if (!root.hidden) preview();
  }

  fetch(root.dataset.optionsUrl, { credentials: "same-origin" }).then((r) => r.json()).then(start);
});
