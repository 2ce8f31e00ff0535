// Starts Swagger UI on the document the page names (data-url), with "Try it
// out" ready, so that a request can be sent from the browser. A file of its
// own rather than inline, so that the page's Content-Security-Policy allows
// no inline script.
"use strict";
window.addEventListener("load", function () {
  var el = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: el.getAttribute("data-url"),
    dom_id: "#swagger-ui",
    deepLinking: true,
    tryItOutEnabled: false,
    persistAuthorization: false,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout"
  });
});
