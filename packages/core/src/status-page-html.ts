/**
 * The status page: one self-contained document (no external assets, no build step). Its script
 * fetches the same URL as JSON every two seconds and counts cooldowns down locally every second,
 * against the server's clock. Every value goes into the page as text, never as markup.
 */
export function statusPageHtml(nonce: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<link rel="icon" href="data:,">
<title>aibridge status</title>
<style nonce="${nonce}">
:root { color-scheme: light dark; --bg: #f7f7f8; --card: #fff; --fg: #1d1d1f; --muted: #6b6b76; --line: #e3e3e8;
  --valid: #1f883d; --temporary: #b35900; --permanent: #cf222e; --font: system-ui, -apple-system, "Segoe UI", sans-serif; }
@media (prefers-color-scheme: dark) { :root { --bg: #111114; --card: #1b1b20; --fg: #ececf1; --muted: #9a9aa6; --line: #2c2c34;
  --valid: #3fb950; --temporary: #f0883e; --permanent: #ff6b6b; } }
* { box-sizing: border-box; }
body { margin: 0; padding: 24px; background: var(--bg); color: var(--fg); font: 14px/1.45 var(--font); }
header { display: flex; align-items: baseline; gap: 16px; flex-wrap: wrap; margin-bottom: 20px; }
h1 { font-size: 20px; margin: 0; }
h2 { font-size: 15px; margin: 0 0 10px; }
#live { color: var(--muted); }
#live.offline { color: var(--permanent); }
section { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 16px; margin-bottom: 16px; overflow-x: auto; }
.providers { display: grid; grid-template-columns: repeat(auto-fit, minmax(360px, 1fr)); gap: 16px; margin-bottom: 16px; }
.providers section { margin: 0; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 6px 10px 6px 0; border-bottom: 1px solid var(--line); white-space: nowrap; vertical-align: top; }
th { color: var(--muted); font-weight: 500; font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
tr:last-child td { border-bottom: 0; }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 13px; }
.state { display: inline-block; padding: 1px 8px; border-radius: 999px; font-size: 12px; font-weight: 600; border: 1px solid currentColor; }
.state.valid, .outcome.ok { color: var(--valid); }
.state.temporary { color: var(--temporary); }
.state.permanent { color: var(--permanent); }
.outcome { font-weight: 600; color: var(--temporary); }
.outcome.upstream_error, .outcome.exhausted, .outcome.transport_error, .outcome.timeout, .outcome.truncated, .outcome.internal_error { color: var(--permanent); }
.muted { color: var(--muted); }
.empty { color: var(--muted); padding: 8px 0; }
.summary { color: var(--muted); margin-left: 8px; font-weight: 400; }
</style>
</head>
<body>
<header><h1>aibridge status</h1><span id="live">connecting…</span></header>
<div class="providers" id="providers"></div>
<section><h2>Recent requests <span class="summary" id="recent-count"></span></h2><div id="recent"></div></section>
<script nonce="${nonce}">
'use strict';
(() => {
  let snapshot = null;
  let offset = 0; // server clock minus this browser's clock
  const serverNow = () => Date.now() + offset;

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === 'class') node.className = v; else node.setAttribute(k, v);
    }
    for (const c of children) if (c !== null && c !== undefined) node.append(c instanceof Node ? c : String(c));
    return node;
  }

  function duration(ms) {
    const s = Math.max(0, Math.ceil(ms / 1000));
    if (s < 60) return s + 's';
    const m = Math.floor(s / 60);
    if (m < 60) return m + 'm ' + String(s % 60).padStart(2, '0') + 's';
    const h = Math.floor(m / 60);
    if (h < 48) return h + 'h ' + String(m % 60).padStart(2, '0') + 'm';
    return Math.floor(h / 24) + 'd ' + (h % 24) + 'h';
  }

  // A cooldown ends by itself at its deadline: the key is valid from then on, refresh or not.
  function stateOf(key) {
    if (key.state === 'temporary' && key.until !== undefined && key.until <= serverNow()) return 'valid';
    return key.state;
  }

  function keyRow(key) {
    const state = stateOf(key);
    const out = state !== 'valid';
    const left = out && key.until !== undefined ? key.until - serverNow() : null;
    return el('tr', { 'data-key': key.hint, 'data-state': state },
      el('td', { class: 'mono' }, key.hint),
      el('td', {}, el('span', { class: 'state ' + state }, state === 'temporary' ? 'cooling' : state)),
      el('td', {}, out && key.reason ? key.reason.replace(/_/g, ' ') : ''),
      el('td', { class: 'mono' }, out && key.status ? key.status : ''),
      el('td', left !== null ? { class: 'countdown', 'data-remaining': String(Math.max(0, Math.ceil(left / 1000))) } : { class: 'countdown muted' },
        left !== null ? duration(left) : out ? 'until reset' : ''));
  }

  function renderKeys() {
    const root = document.getElementById('providers');
    const sections = Object.entries(snapshot.keys).map(([provider, keys]) => {
      const counts = { valid: 0, temporary: 0, permanent: 0 };
      for (const k of keys) counts[stateOf(k)]++;
      const summary = keys.length === 0 ? 'no pool (BYOK only)' : counts.valid + ' of ' + keys.length + ' usable';
      const table = keys.length === 0 ? el('div', { class: 'empty' }, 'No keys configured.')
        : el('table', {}, el('thead', {}, el('tr', {}, ...['Key', 'State', 'Reason', 'Status', 'Back in'].map((h) => el('th', {}, h)))),
          el('tbody', {}, ...keys.map(keyRow)));
      return el('section', { 'data-provider': provider }, el('h2', {}, provider, el('span', { class: 'summary' }, summary)), table);
    });
    root.replaceChildren(...sections);
  }

  function tokens(usage) {
    if (!usage) return '';
    const parts = [];
    if (usage.inputTokens !== null) parts.push(usage.inputTokens + ' in');
    if (usage.outputTokens !== null) parts.push(usage.outputTokens + ' out');
    if (usage.cacheReadTokens) parts.push(usage.cacheReadTokens + ' cache read');
    if (usage.cacheWriteTokens) parts.push(usage.cacheWriteTokens + ' cache write');
    return parts.join(' · ');
  }

  function renderRecent() {
    const root = document.getElementById('recent');
    document.getElementById('recent-count').textContent = snapshot.recent.length ? '(last ' + snapshot.recent.length + ')' : '';
    if (snapshot.recent.length === 0) {
      root.replaceChildren(el('div', { class: 'empty' }, 'No requests since this page was set up.'));
      return;
    }
    const head = el('tr', {}, ...['Time', 'Provider', 'Request', 'Status', 'Outcome', 'Keys tried', 'Model', 'Tokens', 'Duration'].map((h) => el('th', {}, h)));
    const rows = snapshot.recent.map((r) => el('tr', { 'data-request': r.id },
      el('td', { class: 'mono' }, new Date(r.startedAt).toLocaleTimeString()),
      el('td', {}, r.provider),
      el('td', { class: 'mono' }, r.method + ' ' + r.path),
      el('td', { class: 'mono' }, r.status === null ? '–' : r.status),
      el('td', {}, el('span', { class: 'outcome ' + r.outcome }, r.outcome.replace(/_/g, ' '))),
      el('td', { class: 'mono' }, r.credentialKind === 'byok' ? 'own key (BYOK)' : r.keysTried.join(' → ') || '–'),
      el('td', { class: 'mono' }, r.model || ''),
      el('td', { class: 'tokens' }, tokens(r.usage)),
      el('td', { class: 'mono' }, r.durationMs < 1000 ? r.durationMs + ' ms' : (r.durationMs / 1000).toFixed(1) + ' s')));
    root.replaceChildren(el('table', {}, el('thead', {}, head), el('tbody', {}, ...rows)));
  }

  function setLive(text, ok) {
    const live = document.getElementById('live');
    live.textContent = text;
    live.className = ok ? '' : 'offline';
  }

  async function refresh() {
    try {
      const res = await fetch(location.href, { headers: { accept: 'application/json' }, cache: 'no-store', credentials: 'same-origin' });
      if (!res.ok) throw new Error('HTTP ' + res.status);
      snapshot = await res.json();
      offset = snapshot.now - Date.now();
      renderKeys();
      renderRecent();
      setLive('updated ' + new Date(snapshot.now).toLocaleTimeString(), true);
    } catch (err) {
      setLive('offline (' + (err && err.message ? err.message : err) + '), retrying', false);
    } finally {
      setTimeout(refresh, 2000);
    }
  }

  setInterval(() => { if (snapshot) renderKeys(); }, 1000);
  refresh();
})();
</script>
</body>
</html>
`
}
