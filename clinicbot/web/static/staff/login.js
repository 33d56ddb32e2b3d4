// Checks the token against /staff/api/session before keeping it, then goes where it was asked.
"use strict";

(() => {
  const form = document.getElementById("login-form");
  const input = document.getElementById("token");
  const error = document.getElementById("login-error");

  function fail(message) {
    error.textContent = message;
    error.hidden = false;
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.hidden = true;
    const candidate = input.value.trim();
    let response;
    try {
      response = await fetch("/staff/api/session", {
        headers: { Authorization: `Bearer ${candidate}` },
        cache: "no-store",
      });
    } catch (_) {
      fail("Sem conexão com o serviço da clínica. Tente de novo.");
      return;
    }
    if (response.status === 401) {
      fail("Token inválido.");
      return;
    }
    if (!response.ok) {
      fail(`O serviço respondeu com erro (${response.status}). Tente de novo.`);
      return;
    }
    staffAuth.save(candidate);
    window.location.assign(staffAuth.nextPage("/staff/dashboard"));
  });
})();
