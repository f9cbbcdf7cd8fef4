// Posts the demo form as JSON. A retry of the same submission reuses its Idempotency-Key, so the server
// stores it once.
"use strict";
const form = document.getElementById("contact");
const result = document.getElementById("result");
let key = crypto.randomUUID();

form.addEventListener("input", () => { key = crypto.randomUUID(); });
form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const data = Object.fromEntries(new FormData(form));
  data.consent = form.elements.consent.checked;
  result.textContent = "Sending…";
  result.className = "";
  try {
    const res = await fetch(form.action, {
      method: "POST",
      headers: { "Content-Type": "application/json", "Accept": "application/json", "Idempotency-Key": key },
      body: JSON.stringify(data),
    });
    const body = await res.json();
    if (res.status === 201) {
      result.textContent = "Received: " + body.id;
      result.className = "ok";
      result.dataset.status = String(res.status);
      result.dataset.id = body.id;
      return;
    }
    const lines = (body.errors || []).map((e) => e.field + ": " + e.message);
    result.textContent = body.title + (lines.length ? " — " + lines.join("; ") : "");
    result.className = "error";
    result.dataset.status = String(res.status);
  } catch (err) {
    result.textContent = "Could not reach the server; please try again.";
    result.className = "error";
  }
});
