// Song list: apply a filter as soon as it changes (the Apply button stays for keyboards
// and for pages without JavaScript).
document.querySelectorAll("form.filters select").forEach(function (select) {
  select.addEventListener("change", function () { select.form.requestSubmit(); });
});
