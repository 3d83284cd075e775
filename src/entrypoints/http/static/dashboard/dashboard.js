// The live dashboard (/admin): signs in with the normal login, then reads
// GET /api/admin/dashboard/stream (Server-Sent Events) through fetch(), which, unlike
// EventSource, can send the access token in the Authorization header. The token is kept
// in memory only; the refresh cookie set at sign-in renews it. No string is ever parsed
// as HTML: every text goes in through textContent.
"use strict";

(() => {
  const STREAM = "/api/admin/dashboard/stream";
  const HISTORY_SECONDS = 300;
  const AUDIT_ROWS = 15;
  const FIRST_RETRY_MS = 1000;
  const MAX_RETRY_MS = 30000;

  const byId = (id) => document.getElementById(id);
  const state = {
    token: null,
    abort: null,
    lastEventId: null,
    retryMs: FIRST_RETRY_MS,
    points: new Map(),
    charts: [],
  };

  // --- Showing one part of the page at a time -------------------------------------------

  function show(part) {
    for (const id of ["sign-in", "refused", "dashboard"]) {
      byId(id).hidden = id !== part;
    }
    byId("sign-out").hidden = part === "sign-in";
  }

  function status(text, kind) {
    const element = byId("status");
    element.textContent = text;
    element.className = "status" + (kind ? " " + kind : "");
  }

  function clearFigures() {
    for (const output of document.querySelectorAll(".tile output")) {
      output.textContent = "–";
      output.className = "";
    }
    byId("audit-entries").replaceChildren();
    state.points.clear();
    state.lastEventId = null;
    drawCharts();
  }

  // --- Signing in and out ---------------------------------------------------------------

  async function postJson(path, body, token) {
    const headers = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (token) headers.Authorization = "Token " + token;
    return fetch(path, {
      method: "POST",
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
      cache: "no-store",
    });
  }

  async function renewed() {
    try {
      const response = await postJson("/api/auth/refresh");
      if (!response.ok) return null;
      return (await response.json()).user.token;
    } catch {
      return null;
    }
  }

  function firstError(body) {
    const errors = (body && body.errors) || {};
    for (const [field, messages] of Object.entries(errors)) {
      return field + " " + [].concat(messages).join(", ");
    }
    return null;
  }

  async function signIn(event) {
    event.preventDefault();
    const error = byId("sign-in-error");
    error.hidden = true;
    const email = byId("email").value.trim();
    const password = byId("password").value;
    let response;
    try {
      response = await postJson("/api/users/login", { user: { email, password } });
    } catch {
      error.textContent = "The server cannot be reached.";
      error.hidden = false;
      return;
    }
    const body = await response.json().catch(() => null);
    if (!response.ok) {
      error.textContent =
        response.status === 401
          ? "That email and password do not match an account."
          : firstError(body) || "Signing in failed (" + response.status + ").";
      error.hidden = false;
      return;
    }
    byId("password").value = "";
    start(body.user.token);
  }

  async function signOut() {
    const token = state.token;
    stop();
    clearFigures();
    if (token) {
      await postJson("/api/auth/logout", undefined, token).catch(() => null);
    }
    show("sign-in");
    status("Signed out");
  }

  function start(token) {
    state.token = token;
    state.retryMs = FIRST_RETRY_MS;
    status("Connecting…");
    connect();
  }

  function stop() {
    state.token = null;
    if (state.abort) state.abort.abort();
    state.abort = null;
  }

  // --- The stream -----------------------------------------------------------------------

  async function connect() {
    if (!state.token) return;
    if (state.abort) state.abort.abort();
    const abort = new AbortController();
    state.abort = abort;
    const headers = { Authorization: "Token " + state.token, Accept: "text/event-stream" };
    if (state.lastEventId !== null) headers["Last-Event-ID"] = state.lastEventId;
    const url = STREAM + "?history=" + HISTORY_SECONDS;
    let response;
    try {
      response = await fetch(url, { headers, signal: abort.signal, cache: "no-store" });
    } catch {
      if (!abort.signal.aborted) retryLater();
      return;
    }
    if (response.status === 401) {
      await reauthenticate();
      return;
    }
    if (response.status === 403) {
      refused();
      return;
    }
    if (!response.ok) {
      const after = Number(response.headers.get("Retry-After"));
      retryLater(after > 0 ? after * 1000 : undefined);
      return;
    }
    try {
      for await (const message of events(response.body)) {
        if (abort.signal.aborted) return;
        const verdict = handle(message);
        if (verdict) {
          await verdict();
          return;
        }
      }
    } catch {
      if (abort.signal.aborted) return;
    }
    if (!abort.signal.aborted) retryLater();
  }

  async function* events(body) {
    const reader = body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer = (buffer + value).replace(/\r\n/g, "\n");
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        yield parse(block);
      }
    }
  }

  function parse(block) {
    const message = { id: null, event: "message", data: [], retry: null };
    for (const line of block.split("\n")) {
      if (line === "" || line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const name = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? "" : line.slice(colon + 1);
      if (value.startsWith(" ")) value = value.slice(1);
      if (name === "id") message.id = value;
      else if (name === "event") message.event = value;
      else if (name === "data") message.data.push(value);
      else if (name === "retry") message.retry = Number(value);
    }
    message.data = message.data.join("\n");
    return message;
  }

  // Returns what to do instead of reading on, when the message ends the stream.
  function handle(message) {
    if (message.retry > 0) state.retryMs = message.retry;
    switch (message.event) {
      case "figures":
        state.retryMs = FIRST_RETRY_MS;
        showFigures(JSON.parse(message.data));
        return null;
      case "audit":
        if (message.id !== null) state.lastEventId = message.id;
        addEntry(JSON.parse(message.data));
        return null;
      case "expired":
        return reauthenticate;
      case "session_ended":
        return async () => {
          stop();
          clearFigures();
          show("sign-in");
          status("Your session ended: sign in again");
        };
      case "forbidden":
        return async () => refused();
      case "error":
        return async () => retryLater();
      default:
        return null;
    }
  }

  async function reauthenticate() {
    const token = await renewed();
    if (token) {
      state.token = token;
      connect();
      return;
    }
    stop();
    clearFigures();
    show("sign-in");
    status("Sign in to watch the dashboard");
  }

  function refused() {
    stop();
    clearFigures();
    show("refused");
    status("No access");
  }

  function retryLater(ms) {
    const wait = ms || state.retryMs;
    state.retryMs = Math.min(state.retryMs * 2, MAX_RETRY_MS);
    status("Reconnecting…", "trouble");
    setTimeout(() => {
      if (state.token) connect();
    }, wait);
  }

  // --- Figures --------------------------------------------------------------------------

  const integer = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
  const decimal = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });
  const percent = new Intl.NumberFormat(undefined, { style: "percent", maximumFractionDigits: 2 });

  function put(id, value, format, bad) {
    const output = byId(id);
    const known = value !== null && value !== undefined;
    output.textContent = known ? format(value) : "–";
    output.className = known ? (bad ? "bad" : "") : "unknown";
  }

  function milliseconds(value) {
    return (value < 10 ? decimal.format(value) : integer.format(value)) + " ms";
  }

  function age(seconds) {
    if (seconds < 90) return integer.format(seconds) + " s";
    if (seconds < 5400) return integer.format(seconds / 60) + " min";
    return decimal.format(seconds / 3600) + " h";
  }

  function showFigures(figures) {
    show("dashboard");
    const at = new Date(figures.at);
    status("Live · " + at.toLocaleTimeString(), "live");
    put("requests-per-second", figures.requestsPerSecond, (v) => decimal.format(v));
    put("error-rate", figures.errorRate, (v) => percent.format(v), figures.errorRate > 0.01);
    put("p50", figures.p50Ms, milliseconds);
    put("p99", figures.p99Ms, milliseconds, figures.p99Ms > 1000);
    put("active-users", figures.activeUsers, (v) => integer.format(v));
    const hour = figures.lastHour || {};
    put("signups", figures.lastHour && hour.signups, (v) => integer.format(v));
    put("articles", figures.lastHour && hour.articles, (v) => integer.format(v));
    put("comments", figures.lastHour && hour.comments, (v) => integer.format(v));
    const outbox = figures.outbox;
    put(
      "outbox-backlog",
      outbox && outbox.backlog,
      (v) => integer.format(v) + (outbox.capped ? "+" : ""),
      outbox && outbox.oldestAgeSeconds > 60,
    );
    byId("outbox-oldest").textContent =
      outbox && outbox.oldestAgeSeconds !== null
        ? "oldest waits " + age(outbox.oldestAgeSeconds)
        : "events waiting";
    put("job-queue-depth", figures.jobQueueDepth, (v) => integer.format(v));
    put("live-connections", figures.liveConnections, (v) => integer.format(v));
    put("api-processes", figures.apiProcesses, (v) => integer.format(v));
    for (const point of figures.seconds) state.points.set(point.t, point);
    const newest = figures.seconds.length ? figures.seconds[figures.seconds.length - 1].t : null;
    if (newest !== null) {
      for (const t of state.points.keys()) {
        if (t <= newest - HISTORY_SECONDS) state.points.delete(t);
      }
    }
    drawCharts();
  }

  function addEntry(entry) {
    const row = document.createElement("tr");
    const actor = entry.actor || {};
    const target = entry.target || {};
    const cells = [
      new Date(entry.occurredAt).toLocaleTimeString(),
      actor.username || actor.process || actor.kind || "",
      entry.action,
      target.id ? target.type + " " + target.id : target.type || "",
      entry.outcome,
    ];
    for (const text of cells) {
      const cell = document.createElement("td");
      cell.textContent = text;
      row.append(cell);
    }
    row.lastChild.className = "outcome-" + entry.outcome;
    const body = byId("audit-entries");
    body.prepend(row);
    while (body.rows.length > AUDIT_ROWS) body.deleteRow(-1);
  }

  // --- Charts (uPlot) -------------------------------------------------------------------

  const CHARTS = [
    {
      id: "chart-requests",
      series: [
        { label: "requests/s", value: (p) => p.requests, stroke: "#1f5fbf" },
        { label: "5xx/s", value: (p) => p.errors, stroke: "#b42318" },
      ],
    },
    {
      id: "chart-latency",
      // A second with no request has no latency: points show the lone seconds between gaps.
      points: true,
      series: [
        { label: "p50 ms", value: (p) => p.p50Ms, stroke: "#067647" },
        { label: "p99 ms", value: (p) => p.p99Ms, stroke: "#b54708" },
      ],
    },
    {
      id: "chart-activity",
      series: [
        { label: "sign-ups", value: (p) => p.signups, stroke: "#6941c6" },
        { label: "articles", value: (p) => p.articles, stroke: "#1f5fbf" },
        { label: "comments", value: (p) => p.comments, stroke: "#c11574" },
      ],
    },
  ];

  function columns(spec) {
    const points = [...state.points.values()].sort((a, b) => a.t - b.t);
    return [points.map((p) => p.t), ...spec.series.map((s) => points.map(s.value))];
  }

  function makeChart(spec) {
    const element = byId(spec.id);
    const width = Math.max(element.clientWidth, 240);
    const chart = new uPlot(
      {
        width,
        height: 200,
        cursor: { drag: { x: false, y: false } },
        scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.1)] } },
        series: [
          {},
          ...spec.series.map((s) => ({
            label: s.label,
            stroke: s.stroke,
            width: 2,
            spanGaps: false,
            points: spec.points ? { show: true, size: 5, fill: s.stroke } : { show: false },
          })),
        ],
        axes: [{}, { size: 55 }],
      },
      columns(spec),
      element,
    );
    new ResizeObserver(() => {
      chart.setSize({ width: Math.max(element.clientWidth, 240), height: 200 });
    }).observe(element);
    return { spec, chart };
  }

  function drawCharts() {
    if (typeof uPlot === "undefined" || byId("dashboard").hidden) return;
    if (!state.charts.length) state.charts = CHARTS.map(makeChart);
    for (const { spec, chart } of state.charts) chart.setData(columns(spec));
  }

  // --- Start ----------------------------------------------------------------------------

  byId("sign-in-form").addEventListener("submit", signIn);
  byId("sign-out").addEventListener("click", signOut);

  (async () => {
    const token = await renewed();
    if (token) {
      start(token);
    } else {
      show("sign-in");
      status("Sign in to watch the dashboard");
      byId("email").focus();
    }
  })();
})();
