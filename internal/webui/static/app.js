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
})();
