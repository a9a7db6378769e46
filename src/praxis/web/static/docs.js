// Starts Swagger UI from a file, not an inline script, so the page keeps the strict CSP.
window.addEventListener("load", () => {
  const el = document.getElementById("swagger-ui");
  window.SwaggerUIBundle({ url: el.dataset.spec, dom_id: "#swagger-ui", deepLinking: true });
});
