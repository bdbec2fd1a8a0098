// Starts Swagger UI on this service's OpenAPI document. A file, not an inline script: the page's
// Content-Security-Policy runs scripts from this origin only.
"use strict";
window.addEventListener("load", () => {
  window.ui = SwaggerUIBundle({
    url: document.body.dataset.openapi,
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
    layout: "BaseLayout",
  });
});
