// The dashboard's only script: live counts, the merchant switcher, the mobile menu, copy and
// confirm buttons. Every page works without it.
(function () {
  "use strict";

  var POLL_MS = 30000;

  function pollCounts() {
    var section = document.querySelector("[data-counts-url]");
    if (!section || !window.fetch) return;
    var url = section.getAttribute("data-counts-url");
    var numbers = new Intl.NumberFormat("en-US");

    function refresh() {
      if (document.hidden) return;
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) {
          if (!response.ok) throw new Error("counts: HTTP " + response.status);
          return response.json();
        })
        .then(function (counts) {
          Object.keys(counts).forEach(function (name) {
            var value = section.querySelector('[data-count="' + name + '"]');
            if (value) value.textContent = numbers.format(counts[name]);
            var card = section.querySelector('[data-count-warn="' + name + '"]');
            if (card) card.classList.toggle("stat--quiet", !counts[name]);
          });
        })
        .catch(function () { /* keep the last figures; the next tick tries again */ });
    }

    window.setInterval(refresh, POLL_MS);
    document.addEventListener("visibilitychange", function () {
      if (!document.hidden) refresh();
    });
  }

  function switcher() {
    var form = document.querySelector("[data-switcher]");
    if (!form) return;
    var button = form.querySelector("[data-switcher-submit]");
    if (button) button.hidden = true;
    form.querySelector("select").addEventListener("change", function () { form.submit(); });
  }

  function mobileMenu() {
    var toggle = document.querySelector("[data-nav-toggle]");
    var shell = document.querySelector("[data-shell]");
    if (!toggle || !shell) return;
    toggle.addEventListener("click", function () {
      var open = shell.classList.toggle("shell--nav-open");
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
    });
  }

  function copyButtons() {
    document.querySelectorAll("[data-copy]").forEach(function (button) {
      if (!navigator.clipboard) return;
      button.hidden = false;
      button.addEventListener("click", function () {
        var source = document.querySelector(button.getAttribute("data-copy"));
        navigator.clipboard.writeText(source.textContent.trim()).then(function () {
          button.querySelector("span").textContent = "Copied";
        });
      });
    });
  }

  function confirmForms() {
    document.querySelectorAll("form[data-confirm]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (!window.confirm(form.getAttribute("data-confirm"))) event.preventDefault();
      });
    });
  }

  pollCounts();
  switcher();
  mobileMenu();
  copyButtons();
  confirmForms();
})();
