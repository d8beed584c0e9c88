// codenator admin: renders the ledger snapshot pushed over /api/events.
//
// Rules of this file:
// - Every piece of ledger data reaches the page as a text node (h() below
//   turns strings into text nodes; attributes are set with setAttribute on
//   non-URL attributes only). Nothing is ever assigned to innerHTML.
// - Nothing here writes: the page only GETs /api/*.
// - Times show relative ("3 min ago") with the absolute time on hover, and
//   are refreshed every few seconds without a network call.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);

  // ---- DOM helpers -------------------------------------------------------

  /** An element with properties and children; strings become text nodes. */
  function h(tag, props, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") el.className = v;
      else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
      else if (k === "data") Object.assign(el.dataset, v);
      else el.setAttribute(k, v === true ? "" : String(v));
    }
    add(el, children);
    return el;
  }

  function add(el, children) {
    for (const c of children.flat(Infinity)) {
      if (c === null || c === undefined || c === false) continue;
      el.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
    }
  }

  function fill(el, ...children) {
    el.replaceChildren();
    add(el, children);
  }

  const empty = (text) => h("div", { class: "empty" }, text);
  const muted = (text) => h("span", { class: "muted" }, text);
  const mono = (text, title) => h("span", { class: "mono", title }, text);

  // ---- times -------------------------------------------------------------

  function ago(iso) {
    const t = Date.parse(iso);
    if (Number.isNaN(t)) return "—";
    const s = Math.round((Date.now() - t) / 1000);
    const abs = Math.abs(s);
    let v;
    if (abs < 10) return s >= 0 ? "just now" : "in a moment";
    if (abs < 60) v = `${abs} s`;
    else if (abs < 90 * 60) v = `${Math.round(abs / 60)} min`;
    else if (abs < 36 * 3600) v = `${Math.round(abs / 3600)} h`;
    else v = `${Math.round(abs / 86400)} d`;
    return s >= 0 ? `${v} ago` : `in ${v}`;
  }

  function absolute(iso) {
    const t = new Date(iso);
    return Number.isNaN(t.getTime()) ? String(iso) : `${t.toLocaleString()} (${iso})`;
  }

  /** A <time> showing "3 min ago", the absolute time on hover. */
  function when(iso) {
    if (!iso) return muted("—");
    return h("time", { datetime: iso, title: absolute(iso), data: { rel: iso } }, ago(iso));
  }

  function refreshTimes() {
    for (const t of document.querySelectorAll("time[data-rel]")) {
      t.textContent = ago(t.dataset.rel);
    }
    if (state.updatedAt) $("live-text").textContent = liveText();
  }

  // ---- tones -------------------------------------------------------------

  const TASK_TONE = {
    queued: "idle", assigned: "idle", active: "info", blocked: "bad",
    reported: "warn", integrated: "ok", done: "ok", cancelled: "mute",
  };
  const ACTION_TONE = {
    ok: "ok", idle_healthy: "idle", continue_task: "ok", wake_slot: "info",
    waiting_dependencies: "idle", await_integration: "warn", task_blocked: "bad",
    blocked_restart_required: "bad", lease_expired: "bad", idle_stale: "warn",
    parked: "mute", coordinator_inbox: "info", coordinator_heartbeat_due: "warn",
    coordinator_summary_pause: "warn", summary_pause_hold: "warn",
  };
  const ATTEMPT_TONE = {
    completed: "ok", delivered: "ok", planned: "idle", dry_run: "idle",
    blocked: "warn", failed: "bad", error: "bad",
  };
  const DECISION_TONE = { PAUSE: "bad", WAKE: "info", NOTIFY: "warn", DONT_NOTIFY: "ok" };
  const DECISION_TEXT = {
    PAUSE: "Summary pause due", WAKE: "Slots to wake", NOTIFY: "Coordinator should look",
    DONT_NOTIFY: "Nothing needs attention",
  };

  const badge = (text, tone, title) =>
    h("span", { class: `badge ${tone || "idle"}`, title }, text);
  const taskBadge = (st) => badge(st || "—", TASK_TONE[st] || "idle");

  /** A slot's heartbeat as [label, tone], from its row and its wake action. */
  function beat(row, action) {
    const why = (action && action.reason) || "";
    if (row.heartbeat_status === "failed") return ["failed", "bad"];
    if (row.heartbeat_status === "stale" || /heartbeat_(overdue|stale)/.test(why)) return ["stale", "warn"];
    if (!row.heartbeat_checked_at) return ["none", /heartbeat/.test(why) ? "warn" : "idle"];
    return [row.heartbeat_status || "ok", "ok"];
  }

  /** The ledger's names (wake_slot, task_inbox_unread) as words. */
  const words = (name) => String(name || "").replaceAll("_", " ");
  /** A wake-plan action: its name as words, the reference's name and the prompt on hover. */
  const actionBadge = (a) => badge(words(a.action), ACTION_TONE[a.action] || "idle", a.prompt ? `${a.action}: ${a.prompt}` : a.action);

  const short = (sha) => (sha ? String(sha).slice(0, 7) : "");
  const shorten = (s, n) => (s && s.length > n ? `${s.slice(0, Math.ceil(n / 2) - 1)}…${s.slice(-Math.floor(n / 2))}` : s);

  function taskLink(id, label) {
    if (!id) return muted("—");
    return h("button", { type: "button", class: "link", onclick: () => openTask(id), title: id }, label || id);
  }

  // ---- state -------------------------------------------------------------

  const state = {
    snap: null,
    updatedAt: 0,
    snapshots: 0,
    filter: "open",
    query: "",
    poolSeq: 0,
    openTaskId: null,
    taskSeq: 0,
  };

  function liveText() {
    if (!state.updatedAt) return "Connecting…";
    const s = Math.round((Date.now() - state.updatedAt) / 1000);
    return s < 5 ? "Live" : `Live · last change ${ago(new Date(state.updatedAt).toISOString())}`;
  }

  function setLive(kind, text) {
    $("live").dataset.state = kind;
    $("live-text").textContent = text;
  }

  // ---- sections ----------------------------------------------------------

  function actionsBySlot(s) {
    const m = new Map();
    for (const a of s.wake_plan.actions || []) m.set(a.slot, a);
    return m;
  }

  function renderHeader(s) {
    fill($("store-root"), mono(s.store.root, s.store.dir));
    const d = s.wake_plan.decision;
    fill($("decision"), badge(DECISION_TEXT[d] || d, DECISION_TONE[d] || "idle", `wake plan: ${d}`));
  }

  function card(label, value, note, tone, id) {
    return h("div", { class: `card ${tone || ""}`, id },
      h("div", { class: "card-label" }, label),
      h("div", { class: "card-value" }, String(value)),
      h("div", { class: "card-note" }, note));
  }

  function renderCards(s, attention) {
    const counts = s.status.task_counts || {};
    const n = (k) => counts[k] || 0;
    const workers = s.status.slots.filter((r) => r.slot !== "coordinator");
    const active = workers.filter((r) => r.status === "active").length;
    const parked = workers.length - active;
    const pause = s.board.progress.summary_pause;
    const pauseValue = pause.due ? "Due" : pause.warning ? "Soon" : "Clear";
    const pauseNote = pause.due
      ? "Stop, summarize, then record the pause"
      : `${pause.integrations_since_pause}/${pause.range.recommended} since last summary`;
    fill($("cards"),
      card("Sessions", active, parked ? `${workers.length} workers · ${parked} parked` : `${workers.length} workers`, "", "card-sessions"),
      card("Open tasks", s.board.progress.open_tasks, `${n("queued") + n("assigned")} queued · ${n("active")} active`, "", "card-open"),
      card("Reports waiting", n("reported"), "awaiting integration", n("reported") ? "warn" : "", "card-reports"),
      card("Integrated", n("integrated") + n("done"), n("blocked") ? h("span", { class: "bad-text" }, `${n("blocked")} blocked`) : "no blocked tasks", "ok", "card-integrated"),
      card("Needs attention", attention.length, attention.length ? "see the list" : "all clear", attention.length ? "bad" : "ok", "card-attention"),
      card("Summary pause", pauseValue, pauseNote, pause.due ? "bad" : pause.warning ? "warn" : "", "card-pause"));
  }

  /** What stands out: stale or failed heartbeats, expired leases, blocked
   * tasks, failed wake attempts and jobs, a due summary pause. */
  function attentionItems(s) {
    const items = [];
    const acts = actionsBySlot(s);
    for (const row of s.status.slots) {
      const a = acts.get(row.slot);
      if (row.status !== "active") continue;
      const [label, tone] = beat(row, a);
      if (tone === "bad" || tone === "warn") {
        items.push({ tone, title: `${row.slot}: heartbeat ${label}`, detail: row.heartbeat_checked_at ? ["last ", when(row.heartbeat_checked_at)] : ["no heartbeat recorded"] });
      }
      if (row.lease_expired) {
        items.push({ tone: "bad", title: `${row.slot}: lease expired`, detail: [row.current_task_id || "", " · expired ", when(row.lease_expires_at)], task: row.current_task_id });
      }
    }
    for (const t of s.board.tasks) {
      if (t.status !== "blocked") continue;
      const b = (t.blockers || []).map((x) => x.message).filter(Boolean).pop();
      items.push({ tone: "bad", title: `Blocked: ${t.title || t.task_id}`, detail: [t.slot, b ? ` · ${b}` : ""], task: t.task_id });
    }
    for (const w of s.wake_attempts) {
      if (ATTEMPT_TONE[w.status] === "bad") {
        items.push({ tone: "bad", title: `Wake of ${w.slot} ${w.status}`, detail: [w.error || w.reason || w.action, " · ", when(w.created_at)] });
      }
    }
    for (const j of s.jobs.jobs || []) {
      if (j.state === "failed") items.push({ tone: "bad", title: `Job ${j.job_id} failed`, detail: [j.title || j.slot || j.coordinator, j.reason ? ` · ${j.reason}` : "", " · ", when(j.updated_at)], task: j.task_id });
    }
    const pause = s.board.progress.summary_pause;
    if (pause.due) items.push({ tone: "warn", title: "Summary pause due", detail: [pause.reason || "stop, summarize, record the pause"] });
    return items;
  }

  function renderAttention(items) {
    $("attention-count").textContent = items.length ? String(items.length) : "";
    if (!items.length) {
      fill($("attention-body"), h("div", { class: "all-clear" }, h("span", { class: "check", "aria-hidden": "true" }), "Nothing is stuck: heartbeats fresh, no expired leases, nothing blocked."));
      return;
    }
    fill($("attention-body"), h("ul", { class: "attn" }, items.map((it) =>
      h("li", { class: it.tone },
        h("div", { class: "attn-title" }, it.task ? taskLink(it.task, it.title) : it.title),
        h("div", { class: "attn-detail" }, it.detail)))));
  }

  function renderSessions(s) {
    const acts = actionsBySlot(s);
    const inbox = new Map(s.inboxes.map((i) => [i.slot, i]));
    const rows = s.status.slots;
    $("sessions-count").textContent = String(rows.length);
    if (!rows.length) {
      fill($("sessions-body"), empty("No sessions have registered yet."));
      return;
    }
    const head = h("tr", {}, ["Session", "Now", "Inbox", "Heartbeat", "Wake plan"].map((c) => h("th", {}, c)));
    const body = rows.map((r) => {
      const a = acts.get(r.slot);
      const [bl, bt] = beat(r, a);
      const ib = inbox.get(r.slot) || { unread: r.unread, headlines: [] };
      const now = r.current_task_id
        ? h("div", { class: "now" }, taskBadge(r.current_task_status),
          h("div", { class: "clamp2" }, taskLink(r.current_task_id, r.current_task_title || r.current_task_id)),
          r.lease_expires_at ? h("div", { class: `sub ${r.lease_expired ? "bad-text" : ""}` }, r.lease_expired ? "lease expired " : "lease ends ", when(r.lease_expires_at)) : null)
        : h("div", { class: "now" }, muted(r.last_task_id ? "idle · last " : "idle"), r.last_task_id ? taskLink(r.last_task_id) : null);
      const tone = bt === "bad" || r.lease_expired ? "bad" : bt === "warn" ? "warn" : "";
      const about = [r.project, r.focus].filter(Boolean).join(" · ") || r.identity || "";
      return h("tr", { class: tone, data: { slot: r.slot } },
        h("td", {}, h("div", { class: "slot" }, r.slot, r.status !== "active" ? badge(r.status, "mute") : null),
          about ? h("div", { class: "sub clip", title: about }, about) : null,
          r.branch ? h("div", { class: "sub mono clip", title: r.branch }, r.branch) : null),
        h("td", {}, now),
        h("td", {}, ib.unread ? h("span", { class: "pill", title: ib.headlines.join("\n") }, `${ib.unread} unread`) : muted("none"),
          ib.headlines.length ? h("div", { class: "sub clip", title: ib.headlines.join("\n") }, ib.headlines[0]) : null),
        h("td", {}, badge(bl, bt), h("div", { class: "sub" }, when(r.heartbeat_checked_at))),
        h("td", {}, a ? actionBadge(a) : muted("—"),
          a && a.reason ? h("div", { class: "sub clip", title: a.reason }, words(a.reason)) : null));
    });
    const cols = h("colgroup", {}, ["24%", "31%", "19%", "11%", "15%"].map((w) => {
      const c = h("col", {});
      c.style.width = w;
      return c;
    }));
    fill($("sessions-body"), h("table", { class: "fixed" }, cols, h("thead", {}, head), h("tbody", {}, body)));
  }

  function renderWork(s) {
    const acts = actionsBySlot(s);
    const workers = s.status.slots.filter((r) => r.slot !== "coordinator");
    if (!workers.length) {
      fill($("work-body"), empty("No worker slots."));
      return;
    }
    fill($("work-body"), h("ul", { class: "work" }, workers.map((r) => {
      const a = acts.get(r.slot);
      const what = r.current_task_id
        ? [taskLink(r.current_task_id, r.current_task_title || r.current_task_id)]
        : r.last_task_id ? [muted("Latest: "), taskLink(r.last_task_id), muted(` (${r.last_task_status})`)] : [muted("Nothing assigned yet")];
      return h("li", { data: { slot: r.slot } },
        h("div", { class: "work-head" }, h("span", { class: "slot" }, r.slot),
          a ? actionBadge(a) : null),
        h("div", { class: "work-task" }, what),
        h("div", { class: "sub" }, r.current_task_id ? ["updated ", when(r.current_task_updated_at || r.current_task_assigned_at)] : (a && a.safe_to_assign ? "safe to assign" : (a && a.reason ? words(a.reason) : ""))));
    })));
  }

  /** A progress bar over status counts (integrated and done are done). */
  function progress(counts) {
    const total = Object.values(counts || {}).reduce((a, b) => a + b, 0);
    const done = (counts.integrated || 0) + (counts.done || 0);
    const pct = total ? Math.round((done / total) * 100) : 0;
    const bar = h("div", { class: "bar", role: "progressbar", "aria-valuenow": pct, "aria-valuemin": 0, "aria-valuemax": 100, title: `${done} of ${total} integrated` },
      h("div", { class: "fill" }));
    bar.firstChild.style.width = `${pct}%`;
    const chips = Object.entries(counts || {}).map(([k, v]) => h("span", { class: `chip ${TASK_TONE[k] || "idle"}` }, `${k} ${v}`));
    return [h("div", { class: "progress" }, bar, h("span", { class: "pct" }, total ? `${done}/${total}` : "no tasks")), h("div", { class: "chips" }, chips)];
  }

  /** Fill the list section `name` (#name-count, #name-body): one <li> per
   * item, or the text saying there is none. */
  function listSection(name, items, none, listClass, item) {
    $(`${name}-count`).textContent = items.length ? String(items.length) : "";
    fill($(`${name}-body`), items.length ? h("ul", { class: listClass }, items.map(item)) : empty(none));
  }

  const renderMilestones = (s) => listSection("milestones", s.board.milestones, "No milestones on the board.", "stack", (m) =>
    h("li", { data: { milestone: m.milestone_id } },
      h("div", { class: "stack-head" }, h("strong", {}, m.title || m.milestone_id), badge(m.status || "—", m.status === "done" ? "ok" : m.status === "active" ? "info" : "idle")),
      m.description ? h("div", { class: "sub" }, m.description) : null,
      progress(m.task_counts)));

  const renderLanes = (s) => listSection("lanes", s.board.lanes, "No lanes on the board.", "stack", (l) =>
    h("li", { data: { lane: l.lane_id } },
      h("div", { class: "stack-head" }, h("strong", {}, l.title || l.lane_id),
        l.owner_slot ? h("span", { class: "owner", title: "owner" }, l.owner_slot) : muted("no owner"),
        badge(l.status || "—", l.status === "active" ? "info" : "idle")),
      l.description || l.project ? h("div", { class: "sub" }, [l.project, l.description].filter(Boolean).join(" · ")) : null,
      progress(l.task_counts)));

  const renderReports = (s) => listSection("reports", s.board.reports, "No commit reports yet.", "feed", (r) =>
    h("li", { data: { report: r.id } },
      h("div", { class: "feed-head" }, mono(short(r.sha), r.sha), h("span", { class: "feed-title" }, r.subject || "(no subject)")),
      h("div", { class: "sub" }, r.slot, r.branch ? [" · ", mono(r.branch)] : null,
        r.task_id ? [" · ", taskLink(r.task_id)] : null,
        (r.changed || []).length ? ` · ${r.changed.length} file${r.changed.length === 1 ? "" : "s"}` : null,
        " · ", when(r.created_at))));

  const renderReceipts = (s) => listSection("receipts", s.board.integration_receipts, "Nothing integrated yet.", "feed", (r) =>
    h("li", { data: { receipt: r.task_id } },
      h("div", { class: "feed-head" }, h("span", { class: "tick", "aria-hidden": "true" }), taskLink(r.task_id)),
      h("div", { class: "sub" }, r.slot, r.commit ? [" · at ", mono(short(r.commit), r.commit)] : muted(" · no commit recorded"),
        r.milestone_id ? ` · ${r.milestone_id}` : null, " · ", when(r.integrated_at))));

  const renderWake = (s) => listSection("wake", s.wake_attempts, "No wake attempts recorded.", "feed", (w) =>
    h("li", { class: ATTEMPT_TONE[w.status] === "bad" ? "bad" : "" },
      h("div", { class: "feed-head" }, badge(w.status || "—", ATTEMPT_TONE[w.status] || "idle"), h("span", { class: "feed-title" }, `${w.slot} · ${w.action || "wake"}`)),
      h("div", { class: "sub" }, [w.adapter, w.error || w.reason].filter(Boolean).join(" · "), " · ", when(w.created_at))));

  const renderMessages = (s) => listSection("messages", s.messages, "No messages yet.", "feed messages", (m) =>
    h("li", {},
      h("div", { class: "feed-head" },
        h("span", { class: "route" }, m.from || "?", h("span", { class: "arrow", "aria-hidden": "true" }, " → "), m.to || "?"),
        badge(m.type, m.type === "commit_report" ? "warn" : m.type === "task.assign" ? "info" : "idle"),
        h("span", { class: "feed-title" }, m.subject || ""),
        h("span", { class: "right" }, when(m.created_at))),
      m.excerpt ? h("div", { class: "excerpt" }, m.excerpt + (m.truncated ? "…" : "")) : null,
      m.task_id ? h("div", { class: "sub" }, "task ", taskLink(m.task_id)) : null));

  const JOB_TONE = { running: "info", completed: "ok", failed: "bad", killed: "warn", queued: "idle" };
  const fileName = (p) => String(p).split("/").pop();
  const renderJobs = (s) => listSection("jobs", s.jobs.jobs || [], "No background jobs.", "feed", (j) =>
    h("li", { class: j.state === "failed" ? "bad" : "", data: { job: j.job_id, state: j.state } },
      h("div", { class: "feed-head" }, badge(j.state, JOB_TONE[j.state] || "idle"),
        h("span", { class: "feed-title", title: j.job_id }, j.title || j.job_id),
        j.task_id ? taskLink(j.task_id) : null),
      h("div", { class: "sub" }, mono(j.job_id), " · ", j.slot ? h("span", { class: "job-slot", title: `dispatched by ${j.coordinator}` }, `as ${j.slot}`) : `from ${j.coordinator}`,
        j.tokens ? h("span", { class: "job-tokens", title: `${j.tokens.input} input (${j.tokens.cached_input} cached), ${j.tokens.output} output` + (j.tokens.context_window ? `; ${j.tokens.context_used} of ${j.tokens.context_window} context tokens` : "") }, ` · ${j.tokens.total} tokens` + (j.tokens.context_percent !== null && j.tokens.context_percent !== undefined ? ` · ${j.tokens.context_percent.toFixed(1)}% of context` : "")) : null,
        j.tmux_session ? h("span", { class: "job-tmux mono", title: `tmux -L ${j.tmux_session} attach -t ${j.tmux_session}` }, ` · tmux ${j.tmux_session}`) : null,
        j.exit_code !== null && j.exit_code !== undefined ? ` · exit ${j.exit_code}` : null,
        " · ", j.ended_at ? ["ended ", when(j.ended_at)] : j.started_at ? ["started ", when(j.started_at)] : ["queued ", when(j.created_at)]),
      j.files.length ? h("div", { class: "sub job-files" }, `${j.files.length} file${j.files.length === 1 ? "" : "s"}: `,
        j.files.map((f, i) => [i ? ", " : "", h("span", { class: "mono", title: `${f.kind} ${f.path}` }, fileName(f.path))])) : null,
      j.reason ? h("div", { class: "sub bad-text job-reason" }, j.reason) : null,
      j.summary ? h("div", { class: "excerpt" }, j.summary) : null,
      j.progress.length ? h("ul", { class: "job-notes" }, j.progress.map((n) => h("li", { class: "sub" }, n))) : null));

  function render(s) {
    const attention = attentionItems(s);
    renderHeader(s);
    renderCards(s, attention);
    renderAttention(attention);
    renderSessions(s);
    renderWork(s);
    renderMilestones(s);
    renderLanes(s);
    renderReports(s);
    renderReceipts(s);
    renderWake(s);
    renderMessages(s);
    renderJobs(s);
  }

  // ---- the task pool -----------------------------------------------------

  async function getJson(url) {
    const r = await fetch(url, { headers: { Accept: "application/json" }, cache: "no-store" });
    const body = await r.json().catch(() => ({ error: "bad_response", message: `HTTP ${r.status}` }));
    if (!r.ok) throw new Error(body.message || body.error || `HTTP ${r.status}`);
    return body;
  }

  async function refreshPool() {
    const seq = ++state.poolSeq;
    const q = new URLSearchParams({ filter: state.filter });
    if (state.query.trim()) q.set("q", state.query.trim());
    try {
      const page = await getJson(`/api/tasks?${q}`);
      if (seq !== state.poolSeq) return; // a newer query is on its way
      renderPool(page);
    } catch (e) {
      if (seq === state.poolSeq) fill($("pool-body"), empty(`Cannot list tasks: ${e.message}`));
    }
  }

  function renderPool(page) {
    $("pool-count").textContent = page.total > page.returned ? `${page.returned} of ${page.total}` : String(page.total);
    const body = $("pool-body");
    body.dataset.filter = state.filter;
    body.dataset.query = state.query;
    if (!page.tasks.length) {
      fill(body, empty(state.query ? "No task matches the search." : "No tasks here."));
      return;
    }
    const head = h("tr", {}, ["Task", "Slot", "Status", "Milestone", "Updated"].map((c) => h("th", {}, c)));
    const rows = page.tasks.map((t) =>
      h("tr", {
        class: `clickable ${t.status === "blocked" || t.lease_expired ? "bad" : ""}`,
        tabindex: 0,
        data: { taskId: t.task_id, status: t.status },
        onclick: () => openTask(t.task_id),
        onkeydown: (e) => { if (e.key === "Enter") openTask(t.task_id); },
      },
      h("td", {}, h("div", { class: "task-title" }, t.title || t.task_id), h("div", { class: "sub mono" }, t.task_id)),
      h("td", { class: "nowrap" }, t.slot),
      h("td", { class: "nowrap" }, taskBadge(t.status), t.lease_expired ? [" ", badge("lease expired", "bad")] : null),
      h("td", { class: "nowrap" }, t.milestone_id || muted("—"), t.lane_id ? h("div", { class: "sub" }, t.lane_id) : null),
      h("td", { class: "nowrap" }, when(t.updated_at || t.assigned_at))));
    fill(body, h("table", {}, h("thead", {}, head), h("tbody", {}, rows)));
  }

  // ---- a task's record ---------------------------------------------------

  function field(label, value) {
    return [h("dt", {}, label), h("dd", {}, value === null || value === undefined || value === "" ? muted("—") : value)];
  }

  function list(items, fmt) {
    if (!items || !items.length) return muted("none");
    return h("ul", { class: "plain" }, items.map((x) => h("li", {}, fmt ? fmt(x) : x)));
  }

  async function openTask(id) {
    state.openTaskId = id;
    const dlg = $("task-dialog");
    fill($("task-id"), id);
    fill($("task-title"), "Loading…");
    fill($("task-body"));
    if (!dlg.open) dlg.showModal();
    await loadTask();
  }

  async function loadTask() {
    const id = state.openTaskId;
    if (!id) return;
    const seq = ++state.taskSeq;
    try {
      const r = await getJson(`/api/tasks/${encodeURIComponent(id)}`);
      if (seq === state.taskSeq && state.openTaskId === id) renderTask(r);
    } catch (e) {
      if (seq === state.taskSeq) {
        fill($("task-title"), "Cannot load the task");
        fill($("task-body"), empty(e.message));
      }
    }
  }

  function renderTask(r) {
    const t = r.task;
    fill($("task-id"), mono(t.task_id), " ", taskBadge(t.status));
    fill($("task-title"), t.title || t.task_id);
    const lease = r.lease
      ? [r.lease.expired ? badge("expired", "bad") : badge("held", "ok"), " ", r.lease.expired ? "expired " : "ends ", when(r.lease.expires_at), r.lease.run_id ? [" · run ", mono(r.lease.run_id)] : null]
      : null;
    const facts = h("dl", { class: "facts" },
      field("Slot", t.slot), field("Project", t.project), field("Milestone", t.milestone_id), field("Lane", t.lane_id),
      field("Branch", t.branch ? mono(t.branch) : ""), field("Worktree", t.worktree ? mono(t.worktree) : ""),
      field("Commit", t.commit ? mono(t.commit) : ""), field("Lease", lease),
      field("Depends on", t.dependency_ids.length ? t.dependency_ids.map((d) => [taskLink(d), " "]) : ""),
      field("Waiting on", r.waiting_on.length ? r.waiting_on.join(", ") : ""),
      field("Assigned", when(t.assigned_at || t.created_at)), field("Started", when(t.started_at)),
      field("Reported", when(t.reported_at)), field("Integrated", when(t.integrated_at || t.done_at)),
      field("Updated", when(t.updated_at)), field("Created by", t.created_by));
    const history = r.history.length
      ? h("ol", { class: "timeline" }, r.history.map((c) =>
        h("li", {}, taskBadge(c.status), " ", c.by ? c.by : muted("unknown"), " · ", when(c.at),
          c.run_id ? [" · run ", mono(c.run_id)] : null, c.note ? h("div", { class: "sub" }, c.note) : null)))
      : muted("no history recorded");
    const messages = r.messages.length
      ? h("ul", { class: "feed messages" }, r.messages.map((m) =>
        h("li", {}, h("div", { class: "feed-head" }, h("span", { class: "route" }, `${m.from} → ${m.to}`), badge(m.type, "idle"),
          h("span", { class: "feed-title" }, m.subject), h("span", { class: "right" }, when(m.created_at))),
        m.message ? h("div", { class: "excerpt" }, m.message) : null)))
      : muted("no messages");
    fill($("task-body"),
      t.message ? h("div", { class: "desc" }, t.message) : null,
      t.visible_progress_summary ? h("div", { class: "progress-note" }, h("strong", {}, "Progress: "), t.visible_progress_summary) : null,
      facts,
      h("div", { class: "dlg-cols" },
        h("div", {}, h("h3", {}, "Acceptance criteria"), list(t.acceptance_criteria)),
        h("div", {}, h("h3", {}, "Tests"), list(t.tests)),
        h("div", {}, h("h3", {}, "Blockers"), list(t.blockers, (b) => [b.message, b.recorded_at ? [" · ", when(b.recorded_at)] : null]))),
      h("h3", {}, "History"), history,
      h("h3", {}, `Messages${r.messages_omitted ? ` (newest ${r.messages.length} of ${r.messages_total})` : ""}`), messages,
      h("details", { class: "raw" }, h("summary", {}, "Full record (JSON)"), h("pre", {}, JSON.stringify(t, null, 2))));
  }

  // ---- wiring ------------------------------------------------------------

  function onSnapshot(ev) {
    let s;
    try {
      s = JSON.parse(ev.data);
    } catch (e) {
      return;
    }
    state.snap = s;
    state.snapshots += 1;
    state.updatedAt = Date.now();
    $("banner").hidden = true;
    render(s);
    refreshPool();
    if (state.openTaskId && $("task-dialog").open) loadTask();
    setLive("ok", liveText());
    document.body.dataset.snapshots = String(state.snapshots);
  }

  function connect() {
    const es = new EventSource("/api/events");
    es.addEventListener("snapshot", onSnapshot);
    es.addEventListener("store_error", (ev) => {
      let msg = "the ledger could not be read";
      try { msg = JSON.parse(ev.data).message || msg; } catch (e) { /* keep the default */ }
      const b = $("banner");
      b.textContent = `Cannot read the ledger: ${msg}`;
      b.hidden = false;
      setLive("bad", "Ledger unreadable");
    });
    es.onopen = () => setLive("ok", liveText());
    es.onerror = () => setLive("bad", "Disconnected · retrying");
  }

  function init() {
    for (const b of document.querySelectorAll("[data-filter]")) {
      b.addEventListener("click", () => {
        state.filter = b.dataset.filter;
        for (const o of document.querySelectorAll("[data-filter]")) o.setAttribute("aria-pressed", String(o === b));
        refreshPool();
      });
    }
    let timer = 0;
    $("pool-search").addEventListener("input", (e) => {
      state.query = e.target.value;
      clearTimeout(timer);
      timer = setTimeout(refreshPool, 120);
    });
    $("task-close").addEventListener("click", () => $("task-dialog").close());
    $("task-dialog").addEventListener("close", () => { state.openTaskId = null; });
    $("task-dialog").addEventListener("click", (e) => { if (e.target === $("task-dialog")) $("task-dialog").close(); });
    setInterval(refreshTimes, 5000);
    connect();
  }

  init();
})();
