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
// Intake forms: a question that depends on another answer in the same step is shown or hidden as
// the patient answers (the server drops answers whose condition does not hold either way).
function intakeConditions(form) {
  const valueOf = (name) => {
    const els = Array.from(form.elements).filter((el) => el.name === name);
    if (!els.length) return [];
    if (els[0].type === "checkbox") {
      if (els.length === 1) return [els[0].checked ? "true" : "false"];
      return els.filter((el) => el.checked).map((el) => el.value);
    }
    if (els[0].type === "radio") return els.filter((el) => el.checked).map((el) => el.value);
    return [els[0].value];
  };
  form.querySelectorAll("[data-cond-field]").forEach((box) => {
    let wanted = [];
    try { wanted = JSON.parse(box.getAttribute("data-cond-values") || "[]").map(String); } catch (e) { wanted = []; }
    const shown = valueOf(box.getAttribute("data-cond-field")).some((v) => wanted.includes(v));
    box.hidden = !shown;
    box.querySelectorAll(".cond-hint").forEach((hint) => { hint.hidden = true; });
  });
}
document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("intake-step");
  if (!form) return;
  intakeConditions(form);
  form.addEventListener("change", () => intakeConditions(form));
  form.addEventListener("input", () => intakeConditions(form));
});
// A block or row that was just booked or changed is scrolled into view.
document.addEventListener("DOMContentLoaded", () => {
  const hit = document.querySelector(".block.highlight");
  if (hit) hit.scrollIntoView({ block: "center", inline: "center" });
});
// The schedule grid's block menus load their actions when opened (the grid shows hundreds of
// visits; each menu's forms are fetched once, through htmx so the CSRF header and swaps apply).
// Without script the menu's link opens the same actions on a page of their own.
document.addEventListener("toggle", (event) => {
  const menu = event.target;
  if (!(menu instanceof HTMLDetailsElement) || !menu.classList.contains("block-menu") || !menu.open) return;
  if (menu.dataset.loaded || typeof htmx === "undefined") return;
  const link = menu.querySelector(".menu a[href]");
  if (!link) return;
  menu.dataset.loaded = "1";
  htmx.ajax("GET", link.getAttribute("href"), { target: menu.querySelector(".menu"), swap: "innerHTML" });
}, true);
