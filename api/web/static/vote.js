// Community voting on the comparison page, through the public JSON API.
// One anonymous voter token per browser (localStorage); each vote is written,
// then the figures are re-read at the write's position, so the page always
// shows the vote it has just cast.
(() => {
  "use strict";
  const section = document.getElementById("vote");
  if (!section) return;
  const { a, b } = section.dataset;
  const status = document.getElementById("vote-status");
  const TOKEN = "verdict-ledger:voter-token";
  const MINE = "verdict-ledger:my-votes";
  const mine = JSON.parse(localStorage.getItem(MINE) || "{}");

  // Mirrors api/present.py: whole percents, halves up, "—" when unknown.
  const pct = (v) => (v === null || v === undefined ? "—" : `${Math.floor(v + 0.5)}%`);
  const count = (n, noun) => `${n} ${noun}${n === 1 ? "" : "s"}`;
  const span = (f) => `${pct(f.low).replace("%", "")}–${pct(f.high)}`;
  const interval = (f) => (f.total ? `${count(f.total, "vote")}; 95% interval ${span(f)}` : "no votes yet");

  async function detail(response) {
    try { return (await response.json()).detail || response.statusText; } catch { return response.statusText; }
  }

  async function token(renew) {
    const kept = localStorage.getItem(TOKEN);
    if (kept && !renew) return kept;
    const response = await fetch("/api/voters", { method: "POST" });
    if (!response.ok) throw new Error(await detail(response));
    const fresh = (await response.json()).token;
    localStorage.setItem(TOKEN, fresh);
    for (const key of Object.keys(mine)) delete mine[key]; // a new voter has cast nothing yet
    return fresh;
  }

  async function send(method, url, body) {
    for (const renew of [false, true]) {
      const response = await fetch(url, {
        method,
        headers: { Authorization: `Bearer ${await token(renew)}`, "Content-Type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      if (response.status === 401 && !renew) continue; // a token this ledger no longer knows
      if (method === "DELETE" && response.status === 404) return {}; // nothing left to retract
      if (!response.ok) throw new Error(await detail(response));
      return response.status === 204 ? {} : response.json();
    }
  }

  async function read(url, receipt) {
    const response = await fetch(receipt.position ? `${url}?min_position=${receipt.position}` : url);
    if (!response.ok) throw new Error(await detail(response));
    return response.json();
  }

  function showCard(card) {
    const f = card.community;
    for (const el of document.querySelectorAll(`[data-community="${CSS.escape(card.slug)}"]`)) {
      el.querySelector("[data-share]").textContent = pct(f.ship_pct);
      el.querySelector("[data-count]").textContent = f.total ? count(f.total, "vote") : "no votes yet";
      el.querySelector("[data-spread]").textContent = f.total ? span(f) : "";
      el.querySelector("[data-provisional]").hidden = !f.provisional;
      el.title = interval(f);
    }
    const tally = document.querySelector(`[data-tally="${CSS.escape(card.slug)}"]`);
    if (tally) tally.textContent = `${f.ship} ship · ${f.skip} skip`;
    return f;
  }

  function showComparison(view) {
    showCard(view.a);
    showCard(view.b);
    const picks = view.head_to_head;
    for (const side of ["a", "b"]) {
      section.querySelector(`[data-h2h="${side}"]`).textContent = count(picks[side], "pick");
    }
    section.querySelector("[data-h2h-provisional]").hidden = !picks.provisional;
    // The split bar is an SVG drawn in picks, so it needs no inline style.
    section.querySelector("[data-h2h-split]").setAttribute("viewBox", `0 0 ${Math.max(picks.a + picks.b, 1)} 1`);
    section.querySelector('[data-h2h-bar="a"]').setAttribute("width", picks.a);
    const right = section.querySelector('[data-h2h-bar="b"]');
    right.setAttribute("x", picks.a);
    right.setAttribute("width", picks.b);
  }

  const keyOf = (button) => (button.dataset.tool ? `tool:${button.dataset.tool}` : `pick:${a}/${b}`);
  const valueOf = (button) => button.dataset.choice || button.dataset.pick;

  function press() {
    for (const button of section.querySelectorAll("button[data-tool], button[data-pick]")) {
      button.setAttribute("aria-pressed", String(mine[keyOf(button)] === valueOf(button)));
    }
  }

  section.addEventListener("click", async (event) => {
    const button = event.target.closest("button[data-tool], button[data-pick]");
    if (!button) return;
    const group = button.parentElement.querySelectorAll("button");
    const { tool, name } = button.dataset;
    const key = keyOf(button);
    const value = valueOf(button);
    const retract = mine[key] === value;
    const url = tool ? `/api/tools/${tool}/vote` : `/api/comparisons/${a}/${b}/vote`;
    const body = retract ? undefined : tool ? { choice: value } : { pick: value };
    group.forEach((each) => { each.disabled = true; });
    status.textContent = "Saving your vote…";
    let saved = false;
    try {
      const receipt = await send(retract ? "DELETE" : "PUT", url, body);
      saved = true;
      if (retract) delete mine[key]; else mine[key] = value;
      localStorage.setItem(MINE, JSON.stringify(mine));
      press();
      if (tool) {
        const f = showCard(await read(`/api/tools/${tool}`, receipt));
        status.textContent = `${retract ? "Vote taken back" : `You voted ${value}`} on ${name}. Community ship is now ${pct(f.ship_pct)}.`;
      } else {
        showComparison(await read(`/api/comparisons/${a}/${b}`, receipt));
        status.textContent = retract ? "Pick taken back." : `You picked ${button.textContent.trim()}.`;
      }
    } catch (error) {
      status.textContent = saved
        ? `Your vote is saved; reload to see the new figures (${error.message}).`
        : `Your vote was not saved: ${error.message}`;
    } finally {
      group.forEach((each) => { each.disabled = false; });
    }
  });

  press();
  if (section.dataset.closed !== undefined) return; // a retired comparison takes no votes
  for (const button of section.querySelectorAll("button[disabled]")) button.disabled = false;
})();
