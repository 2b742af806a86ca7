// databay-web status page: polls /api/links every second and redraws the table.
"use strict";
(function () {
  const body = document.querySelector("#links tbody");
  const planner = document.getElementById("planner");
  const updated = document.getElementById("updated");
  const message = document.getElementById("message");
  const token = document.getElementById("token");
  const rows = new Map();

  function when(iso, ahead) {
    if (!iso) return "—";
    const date = new Date(iso);
    const seconds = Math.round((date.getTime() - Date.now()) / 1000);
    const ago = ahead ? (seconds <= 0 ? "due" : `in ${seconds} s`)
                      : (seconds >= 0 ? "just now" : `${-seconds} s ago`);
    return `${date.toLocaleTimeString()} (${ago})`;
  }

  function cell(row, key, cls) {
    let td = row.querySelector(`[data-key="${key}"]`);
    if (!td) {
      td = document.createElement("td");
      td.dataset.key = key;
      if (cls) td.className = cls;
      row.appendChild(td);
    }
    return td;
  }

  function say(text, bad) {
    message.textContent = text;
    message.className = bad ? "message bad" : "message";
  }

  async function act(name, action) {
    const headers = {};
    if (token.value) headers["Authorization"] = `Bearer ${token.value}`;
    try {
      const reply = await fetch(`/api/links/${encodeURIComponent(name)}/${action}`,
                                { method: "POST", headers });
      const text = await reply.text();
      if (reply.ok) say(`${action}: ${name}`, false);
      else say(text.trim(), true);
    } catch (error) {
      say(`${action} ${name}: ${error}`, true);
    }
    refresh();
  }

  function row(link) {
    let tr = rows.get(link.name);
    if (!tr) {
      tr = document.createElement("tr");
      tr.dataset.link = link.name;
      cell(tr, "name"); cell(tr, "schedule"); cell(tr, "state", "state");
      cell(tr, "last_run"); cell(tr, "next_run"); cell(tr, "transfers", "num");
      cell(tr, "pulled", "num"); cell(tr, "pushed", "num"); cell(tr, "dead", "num");
      cell(tr, "error", "error");
      const actions = cell(tr, "actions");
      for (const action of ["pause", "resume", "run"]) {
        const button = document.createElement("button");
        button.type = "button";
        button.textContent = action;
        button.dataset.action = action;
        button.addEventListener("click", () => act(link.name, action));
        actions.appendChild(button);
      }
      body.appendChild(tr);
      rows.set(link.name, tr);
    }
    return tr;
  }

  function draw(data) {
    const p = data.planner;
    planner.textContent = `${p.name}: ${p.running ? "running" : "not running"}` +
      (p.ready ? "" : ` — not ready: ${p.reason}`);
    for (const link of data.links) {
      const tr = row(link);
      const c = link.counts;
      cell(tr, "name").textContent = link.name;
      cell(tr, "schedule").textContent = link.schedule;
      const state = cell(tr, "state");
      state.textContent = link.state;
      state.className = `state state-${link.state}`;
      tr.dataset.state = link.state;
      cell(tr, "last_run").textContent = when(link.last_run, false);
      cell(tr, "next_run").textContent = link.paused ? "paused" : when(link.next_run, true);
      cell(tr, "transfers").textContent = `${c.transfers}` + (c.failed ? ` / ${c.failed}` : "");
      cell(tr, "pulled").textContent = c.pulled;
      cell(tr, "pushed").textContent = c.pushed;
      cell(tr, "dead").textContent = c.dead_lettered;
      cell(tr, "error").textContent = link.last_error || "";
      tr.querySelector('[data-action="pause"]').disabled = link.paused;
      tr.querySelector('[data-action="resume"]').disabled = !link.paused;
    }
    updated.textContent = `updated ${new Date().toLocaleTimeString()}`;
  }

  let pending = false;
  async function refresh() {
    if (pending) return;
    pending = true;
    try {
      const reply = await fetch("/api/links", { cache: "no-store" });
      if (!reply.ok) throw new Error(`HTTP ${reply.status}`);
      draw(await reply.json());
    } catch (error) {
      planner.textContent = `disconnected (${error.message || error})`;
    } finally {
      pending = false;
    }
  }

  refresh();
  setInterval(refresh, 1000);
})();
