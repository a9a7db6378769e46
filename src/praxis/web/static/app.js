// Small progressive enhancements; no inline scripts anywhere (CSP: script-src 'self').
document.addEventListener("change", (event) => {
  const el = event.target;
  if (el instanceof HTMLSelectElement && el.hasAttribute("data-autosubmit") && el.form) {
    el.form.requestSubmit();
  }
});
document.addEventListener("keydown", (event) => {
  // "/" focuses the page's search box, as in most staff tools.
  if (event.key === "/" && !(event.target instanceof HTMLInputElement || event.target instanceof HTMLTextAreaElement)) {
    const box = document.querySelector("[data-search]");
    if (box) { event.preventDefault(); box.focus(); }
  }
});
