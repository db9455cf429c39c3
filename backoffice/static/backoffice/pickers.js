/* Customer pickers (Django's autocomplete, select2): give select2's own
 * controls the name of their field, which select2 leaves out (screen
 * readers, and axe-core's "label" and "aria-input-field-name" rules). The
 * inline search box of a multiple picker exists once the pickers are made; a
 * single picker's is created when its list opens. */
(function () {
  "use strict";

  function labelFor(select) {
    const label = select && select.id ? document.querySelector("label[for='" + select.id + "']") : null;
    return label ? "Search: " + label.textContent.trim().replace(/:$/, "") : "Search";
  }

  function name(field, select) {
    if (!field.hasAttribute("aria-label")) field.setAttribute("aria-label", labelFor(select));
  }

  /* The closed picker (role combobox) is named by the shown choice alone:
   * empty before a pick. Its field's label comes first. */
  function nameSelection(container) {
    const select = container.previousElementSibling;
    const selection = container.querySelector(".select2-selection");
    const label = select && select.id ? document.querySelector("label[for='" + select.id + "']") : null;
    if (!selection || !label) return;
    if (!label.id) label.id = select.id + "-label";
    const named = (selection.getAttribute("aria-labelledby") || "").split(" ").filter(Boolean);
    if (!named.includes(label.id)) selection.setAttribute("aria-labelledby", [label.id, ...named].join(" "));
    // the shown choice inside is a read-only textbox of its own: named by the label too
    const shown = selection.querySelector(".select2-selection__rendered[role=textbox]");
    if (shown && !shown.hasAttribute("aria-labelledby")) shown.setAttribute("aria-labelledby", label.id);
  }

  function nameAll() {
    document.querySelectorAll("select + .select2-container").forEach(nameSelection);
    document.querySelectorAll(".select2-container .select2-search__field").forEach(function (field) {
      const container = field.closest(".select2-container");
      name(field, container ? container.previousElementSibling : null);
    });
    if (window.django && window.django.jQuery) {
      window.django.jQuery(document).on("select2:open", function (event) {
        document.querySelectorAll(".select2-dropdown .select2-search__field").forEach(function (field) {
          name(field, event.target);
        });
      });
    }
  }

  /* Django's autocomplete.js makes the pickers in a jQuery "ready" callback,
   * which may run after the load event: queue behind it. */
  window.addEventListener("load", function () {
    if (window.django && window.django.jQuery) window.django.jQuery(nameAll);
    else nameAll();
  });
})();
