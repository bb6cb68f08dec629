/* The API's interactive docs: Swagger UI (static/vendor/swagger-ui) on /api/v1/openapi.json, no inline script. */
"use strict";
(function () {
  const settings = JSON.parse(document.getElementById("swagger-settings").textContent);
  settings.dom_id = "#swagger-ui";
  settings.presets = [SwaggerUIBundle.presets.apis];
  settings.layout = "BaseLayout";
  SwaggerUIBundle(settings);
})();
