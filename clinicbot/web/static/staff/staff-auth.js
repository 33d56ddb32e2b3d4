// The staff token, shared by the staff pages: kept in sessionStorage (gone when the tab closes)
// under "clinicbot.staffToken" and sent as "Authorization: Bearer <token>". A 401 sends the
// person back to the login page, which returns here afterwards.
"use strict";

const staffAuth = (() => {
  const KEY = "clinicbot.staffToken";

  const token = () => sessionStorage.getItem(KEY) || "";
  const save = (value) => sessionStorage.setItem(KEY, value);
  const clear = () => sessionStorage.removeItem(KEY);

  function toLogin() {
    const next = window.location.pathname + window.location.search;
    window.location.assign(`/staff/login?next=${encodeURIComponent(next)}`);
  }

  // fetch() with the token; on 401 forget it and go to the login page (the promise then rejects).
  async function request(url, options = {}) {
    const headers = { ...(options.headers || {}), Authorization: `Bearer ${token()}` };
    const response = await fetch(url, { ...options, headers, cache: "no-store" });
    if (response.status === 401) {
      clear();
      toLogin();
      throw new Error("unauthorized");
    }
    return response;
  }

  // Where to go after logging in: only a staff page of this site.
  function nextPage(fallback) {
    const next = new URLSearchParams(window.location.search).get("next") || "";
    return /^\/staff\/[^/\\]/.test(next) ? next : fallback;
  }

  return { token, save, clear, toLogin, request, nextPage };
})();
