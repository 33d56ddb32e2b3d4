// The staff dashboard: reads /staff/api/dashboard and /staff/api/dashboard/review with the staff
// token and draws them with the vendored Chart.js. Every figure is also written as text (tiles
// and tables), so the page reads without the charts. body[data-state] is loading|ready|error.
"use strict";

(() => {
  if (!staffAuth.token()) {
    staffAuth.toLogin();
    return;
  }

  const $ = (id) => document.getElementById(id);

  // The page names the default clinic; show the staff's own (their token's) clinic instead.
  staffAuth
    .request("/staff/api/session")
    .then((response) => response.json())
    .then((session) => {
      $("clinic-name").textContent = session.clinic.name;
      document.title = `${session.clinic.name} · Painel do assistente`;
    })
    .catch(() => {});
  const LOCALE = "pt-BR";
  const COLORS = ["#0b7a75", "#e07a1f", "#4a6fa5", "#b5485d", "#7c8c3c", "#8a5fb0"];
  const STAGES = {
    started: "Começou",
    identified: "Identificou-se (CPF)",
    slot_chosen: "Escolheu o horário",
    booked: "Agendou",
  };
  const charts = {};

  // --- formatting (the browser test mirrors these) -------------------------------------------
  const count = (n) => n.toLocaleString(LOCALE);
  const percent = (v) =>
    v === null ? "—" : `${(v * 100).toLocaleString(LOCALE, { minimumFractionDigits: 1, maximumFractionDigits: 1 })}%`;
  const millis = (v) => (v === null ? "—" : `${Math.round(v).toLocaleString(LOCALE)} ms`);
  const confidence = (v) =>
    v === null ? "—" : v.toLocaleString(LOCALE, { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  // ISO date or clinic-local ISO instant, read as written (never through the browser's zone).
  function day(iso) {
    const [y, m, d] = iso.slice(0, 10).split("-");
    return `${d}/${m}/${y}`;
  }
  const moment = (iso) => `${day(iso)} ${iso.slice(11, 16)}`;

  // --- the date range: URL ⇄ inputs ---------------------------------------------------------
  function rangeQuery() {
    const params = new URLSearchParams();
    if ($("from").value) params.set("from", $("from").value);
    if ($("to").value) params.set("to", $("to").value);
    return params;
  }

  function readUrl() {
    const params = new URLSearchParams(window.location.search);
    $("from").value = params.get("from") || "";
    $("to").value = params.get("to") || "";
    $("below").value = params.get("below") || "";
  }

  function writeUrl() {
    const params = rangeQuery();
    if ($("below").value) params.set("below", $("below").value);
    window.history.replaceState(null, "", `${window.location.pathname}?${params}`);
  }

  function shiftDays(iso, days) {
    const date = new Date(`${iso}T12:00:00Z`);
    date.setUTCDate(date.getUTCDate() + days);
    return date.toISOString().slice(0, 10);
  }

  // --- rendering -----------------------------------------------------------------------------
  function cell(row, text, className) {
    const td = document.createElement("td");
    td.textContent = text;
    if (className) td.className = className;
    row.appendChild(td);
  }

  function fillTable(id, rows, columns, empty) {
    const body = $(id).querySelector("tbody");
    body.replaceChildren();
    if (!rows.length) {
      const tr = document.createElement("tr");
      const td = document.createElement("td");
      td.colSpan = columns.length;
      td.className = "empty";
      td.textContent = empty;
      tr.appendChild(td);
      body.appendChild(tr);
      return;
    }
    for (const item of rows) {
      const tr = document.createElement("tr");
      columns.forEach(([value, className]) => cell(tr, value(item), className));
      body.appendChild(tr);
    }
  }

  function tile(id, value, detail) {
    $(id).querySelector(".value").textContent = value;
    $(id).querySelector(".detail").textContent = detail || "";
  }

  function chart(id, config) {
    if (charts[id]) charts[id].destroy();
    const options = {
      animation: false,
      responsive: true,
      maintainAspectRatio: false,
      plugins: { legend: { display: config.data.datasets.length > 1 } },
      ...(config.options || {}),
    };
    charts[id] = new Chart($(id), { ...config, options });
  }

  function renderFigures(report) {
    const c = report.conversations;
    tile("kpi-conversations", count(c.started), `${count(c.ended)} encerradas`);
    tile("kpi-bookings", count(report.bookings), "");
    tile("kpi-resolution", percent(c.resolution_rate),
      `${count(c.resolved_by_bot)} de ${count(c.ended)} encerradas`);
    tile("kpi-handoff", percent(c.handoff_rate), `${count(c.handed_off)} conversas`);
    const r = report.reply_times;
    tile("kpi-reply-p50", millis(r.p50_ms), `${count(r.replies)} respostas`);
    tile("kpi-reply-p95", millis(r.p95_ms), "");

    fillTable("table-daily", report.daily, [
      [(d) => day(d.day)], [(d) => count(d.conversations), "num"], [(d) => count(d.bookings), "num"],
    ], "Sem dados.");
    chart("chart-daily", {
      data: {
        labels: report.daily.map((d) => day(d.day).slice(0, 5)),
        datasets: [
          { type: "bar", label: "Conversas", data: report.daily.map((d) => d.conversations),
            backgroundColor: COLORS[0] },
          { type: "line", label: "Agendamentos", data: report.daily.map((d) => d.bookings),
            borderColor: COLORS[1], backgroundColor: COLORS[1] },
        ],
      },
      options: { scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } },
    });

    fillTable("table-funnel", report.funnel, [
      [(s) => STAGES[s.stage] || s.stage], [(s) => count(s.reached), "num"],
      [(s) => count(s.dropped), "num"], [(s) => percent(s.drop_rate), "num"],
    ], "Sem dados.");
    chart("chart-funnel", {
      type: "bar",
      data: {
        labels: report.funnel.map((s) => STAGES[s.stage] || s.stage),
        datasets: [{ label: "Chegaram", data: report.funnel.map((s) => s.reached),
          backgroundColor: COLORS[2] }],
      },
      options: { scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } },
    });

    fillTable("table-intents", report.intents, [
      [(i) => i.intent], [(i) => count(i.messages), "num"], [(i) => percent(i.share), "num"],
    ], "Nenhuma mensagem classificada.");
    chart("chart-intents", {
      type: "bar",
      data: {
        labels: report.intents.map((i) => i.intent),
        datasets: [{ label: "Mensagens", data: report.intents.map((i) => i.messages),
          backgroundColor: COLORS[0] }],
      },
      options: { indexAxis: "y", scales: { x: { beginAtZero: true, ticks: { precision: 0 } } } },
    });

    const rem = report.reminders;
    [["sent", rem.sent], ["confirmed", rem.confirmed], ["declined", rem.declined],
      ["failed", rem.failed]].forEach(([key, value]) => { $(`reminders-${key}`).textContent = count(value); });
    chart("chart-reminders", {
      type: "bar",
      data: {
        labels: ["Enviados", "Confirmados", "Recusados", "Falharam"],
        datasets: [{ label: "Lembretes", data: [rem.sent, rem.confirmed, rem.declined, rem.failed],
          backgroundColor: [COLORS[2], COLORS[0], COLORS[1], COLORS[3]] }],
      },
      options: { scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } },
    });

    const w = report.waiting_list;
    [["joined", w.joined], ["offers", w.offers_sent], ["filled", w.filled],
      ["declined", w.declined], ["lapsed", w.lapsed]].forEach(([key, value]) => {
      $(`waiting-${key}`).textContent = count(value);
    });

    fillTable("table-api", report.api, [
      [(a) => a.service], [(a) => count(a.calls), "num"], [(a) => count(a.errors), "num"],
      [(a) => percent(a.error_rate), "num"], [(a) => count(a.client_errors), "num"],
      [(a) => millis(a.p50_ms), "num"], [(a) => millis(a.p95_ms), "num"],
    ], "Nenhuma chamada registrada.");
    chart("chart-api", {
      type: "bar",
      data: {
        labels: report.api.map((a) => a.service),
        datasets: [
          { label: "p50 (ms)", data: report.api.map((a) => a.p50_ms), backgroundColor: COLORS[0] },
          { label: "p95 (ms)", data: report.api.map((a) => a.p95_ms), backgroundColor: COLORS[1] },
        ],
      },
      options: { scales: { y: { beginAtZero: true } } },
    });
  }

  function renderReview(review) {
    $("below").value = review.below;
    fillTable("table-review", review.messages, [
      [(m) => moment(m.at)], [(m) => m.text, "text"], [(m) => m.intent || "—"],
      [(m) => m.predicted_intent || "—"], [(m) => confidence(m.confidence), "num"],
    ], "Nenhuma mensagem para revisar.");
    $("review-truncated").hidden = !review.truncated;
    $("review-truncated").textContent =
      `Só as ${count(review.messages.length)} mensagens mais recentes: escolha um período menor para ver as outras.`;
  }

  // --- loading -------------------------------------------------------------------------------
  async function getJSON(url) {
    const response = await staffAuth.request(url);
    const body = await response.json();
    if (!response.ok) throw new Error(body.error || `HTTP ${response.status}`);
    return body;
  }

  function reviewQuery() {
    const params = rangeQuery();
    if ($("below").value) params.set("below", $("below").value);
    return params;
  }

  async function load() {
    document.body.dataset.state = "loading";
    $("status").textContent = "Carregando…";
    try {
      const report = await getJSON(`/staff/api/dashboard?${rangeQuery()}`);
      $("from").value = report.period.from;
      $("to").value = report.period.to;
      const review = await getJSON(`/staff/api/dashboard/review?${reviewQuery()}`);
      renderFigures(report);
      renderReview(review);
      writeUrl();
      $("status").textContent = `Período: ${day(report.period.from)} a ${day(report.period.to)}`;
      document.body.dataset.state = "ready";
    } catch (error) {
      if (error.message === "unauthorized") return;
      $("status").textContent = `Não foi possível carregar o painel: ${error.message}`;
      document.body.dataset.state = "error";
    }
  }

  async function downloadYaml() {
    try {
      const response = await staffAuth.request(`/staff/api/dashboard/review.yml?${reviewQuery()}`);
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const blob = await response.blob();
      const link = document.createElement("a");
      link.href = URL.createObjectURL(blob);
      link.download = `nlu_review_${$("from").value}_${$("to").value}.yml`;
      link.click();
      URL.revokeObjectURL(link.href);
    } catch (error) {
      if (error.message !== "unauthorized") {
        $("status").textContent = `Não foi possível baixar o YAML: ${error.message}`;
      }
    }
  }

  $("range").addEventListener("submit", (event) => {
    event.preventDefault();
    load();
  });
  $("review-form").addEventListener("submit", (event) => {
    event.preventDefault();
    load();
  });
  document.querySelectorAll("[data-days]").forEach((button) => {
    button.addEventListener("click", () => {
      if (!$("to").value) return;
      $("from").value = shiftDays($("to").value, 1 - Number(button.dataset.days));
      load();
    });
  });
  $("download-yaml").addEventListener("click", downloadYaml);
  $("logout").addEventListener("click", () => {
    staffAuth.clear();
    window.location.assign("/staff/login");
  });

  readUrl();
  load();
})();
