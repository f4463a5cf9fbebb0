// The journey editor: shows only the trigger fields of the chosen trigger type. Without it every
// field shows, and the ones another type uses are ignored on save.
(function () {
  "use strict";

  function triggerFields() {
    var select = document.querySelector("#id_trigger-type");
    if (!select) return;
    var groups = document.querySelectorAll("[data-trigger-for]");

    function show() {
      groups.forEach(function (group) {
        var types = group.getAttribute("data-trigger-for").split(" ");
        group.hidden = types.indexOf(select.value) === -1;
      });
    }

    select.addEventListener("change", show);
    show();
  }

  triggerFields();
})();
