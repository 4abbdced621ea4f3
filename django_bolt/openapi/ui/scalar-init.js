// Starts Scalar on the element that names the schema, without its web fonts (offline).
window.addEventListener("load", function () {
  var el = document.getElementById("scalar");
  Scalar.createApiReference(el, {
    url: el.dataset.url,
    withDefaultFonts: false,
    hideClientButton: true,
    telemetry: false,
  });
});
