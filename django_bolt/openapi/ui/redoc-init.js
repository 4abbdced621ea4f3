// Starts ReDoc on the element that names the schema (no inline script, for CSP).
window.addEventListener("load", function () {
  var el = document.getElementById("redoc");
  Redoc.init(el.dataset.url, { disableSearch: false }, el);
});
