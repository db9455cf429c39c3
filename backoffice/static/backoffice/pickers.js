/* Customer pickers (Django's autocomplete, select2): give select2's own search
 * box the name of the field it searches, which select2 leaves unlabelled
 * (screen readers, and axe-core's "label" rule). The inline box of a
 * multiple picker exists once the page has loaded; a single picker's box is
 * created when its list opens. */
(function () {
  "use strict";

  function labelFor(select) {
    const label = select && select.id ? document.querySelector("label[for='" + select.id + "']") : null;
    return label ? "Search: " + label.textContent.trim().replace(/:$/, "") : "Search";
  }

  function name(field, select) {
    if (!field.hasAttribute("aria-label")) field.setAttribute("aria-label", labelFor(select));
  }

  window.addEventListener("load", function () {
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
  });
})();
