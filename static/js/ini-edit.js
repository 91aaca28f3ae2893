// song.ini editor: add rows for extra keys (Django formset), and mark a changed gameplay
// modifier so the warning is seen before saving, not only after.
(function () {
  var add = document.getElementById("add-extra");
  var rows = document.getElementById("extra-rows");
  var template = document.getElementById("extra-template");
  var total = document.getElementById("id_extra-TOTAL_FORMS");
  if (add && rows && template && total) {
    add.addEventListener("click", function () {
      var index = parseInt(total.value, 10);
      var html = template.innerHTML.replace(/__prefix__/g, String(index));
      rows.insertAdjacentHTML("beforeend", html);
      total.value = String(index + 1);
      var input = rows.lastElementChild.querySelector("input[type=text]");
      if (input) input.focus();
    });
  }
  document.querySelectorAll("[data-gameplay]").forEach(function (input) {
    var initial = input.value;
    input.addEventListener("change", function () {
      input.closest(".field").classList.toggle("changed-gameplay", input.value !== initial);
    });
  });
})();
