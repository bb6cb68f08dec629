// The client form shows the doctor's fields or the structure's, by the kind chosen (ClientAdmin.fieldsets).
// Without JavaScript every fieldset stays visible; the domain rules refuse what does not fit the kind.
"use strict";
(function () {
  function update(select) {
    var kind = select.value;
    var doctor = kind === "doctor";
    var structure = kind === "msp" || kind === "cds";
    document.querySelectorAll("fieldset.client-kind-doctor").forEach(function (fieldset) {
      fieldset.hidden = structure;
    });
    document.querySelectorAll("fieldset.client-kind-structure").forEach(function (fieldset) {
      fieldset.hidden = doctor;
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    var select = document.getElementById("id_kind");
    if (!select) {
      return;
    }
    update(select);
    select.addEventListener("change", function () { update(select); });
  });
})();
