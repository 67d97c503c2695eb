// OpenCCM console behaviour, loaded as a file (the Content-Security-Policy
// allows no inline script). Everything here is progressive: the pages work
// without it.
(function () {
  "use strict";

  // Selects marked data-autosubmit submit their form on change.
  document.addEventListener("change", function (e) {
    var t = e.target;
    if (t.matches && t.matches("[data-autosubmit]") && t.form) {
      t.form.submit();
    }
  });

  // Forms marked data-confirm ask first.
  document.addEventListener("submit", function (e) {
    var f = e.target;
    var msg = f.getAttribute && f.getAttribute("data-confirm");
    if (msg && !window.confirm(msg)) {
      e.preventDefault();
    }
  }, true);

  // Fields that apply to some app types only are shown for those.
  function syncTyped() {
    var checked = document.querySelector("[data-app-type]:checked");
    var type = checked ? checked.value : "";
    document.querySelectorAll(".typed").forEach(function (el) {
      var types = (el.getAttribute("data-for") || "").split(" ");
      el.hidden = types.indexOf(type) < 0;
    });
  }
  document.addEventListener("change", function (e) {
    if (e.target.matches && e.target.matches("[data-app-type]")) {
      syncTyped();
    }
  });
  document.addEventListener("DOMContentLoaded", syncTyped);

  // htmx requests carry the page's CSRF token.
  document.addEventListener("htmx:configRequest", function (e) {
    var tok = document.querySelector("input[name=csrf]");
    if (tok) {
      e.detail.headers["X-CSRF-Token"] = tok.value;
    }
  });

  // Images: the Add Image form's platform radios show that platform's
  // fields; checkboxes show or hide the fields they govern; hex inputs
  // drop a pasted 0x prefix and spaces.
  function syncImageForm() {
    var checked = document.querySelector("[data-image-platform]:checked");
    if (checked) {
      document.querySelectorAll("[data-platform-for]").forEach(function (el) {
        el.hidden = el.getAttribute("data-platform-for") !== checked.value;
      });
    }
    document.querySelectorAll("[data-when-checked],[data-when-unchecked]").forEach(function (el) {
      var id = el.getAttribute("data-when-checked") || el.getAttribute("data-when-unchecked");
      var box = document.getElementById(id);
      if (box) {
        el.hidden = el.hasAttribute("data-when-checked") ? !box.checked : box.checked;
      }
    });
  }
  document.addEventListener("change", function (e) {
    var t = e.target;
    if (t.matches && (t.matches("[data-image-platform]") || t.matches("input[type=checkbox][id]"))) {
      syncImageForm();
    }
  });
  document.addEventListener("DOMContentLoaded", syncImageForm);
  document.addEventListener("input", function (e) {
    var t = e.target;
    if (t.matches && t.matches("input[data-hex]")) {
      var v = t.value.replace(/\s+/g, "").replace(/^0[xX]/, "");
      if (v !== t.value) {
        t.value = v;
      }
    }
  });
})();
