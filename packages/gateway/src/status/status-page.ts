import type { GatewayStatus, StatusIncident } from './status-board.js';

/** Seconds between the page's reloads (a meta refresh: no script on the page). */
export const STATUS_REFRESH_SECONDS = 5;

const ENTITIES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/**
 * Text made safe for HTML content and quoted attribute values. Everything the page shows passes
 * through here: user names, SOCKS USERIDs and error messages come from the network.
 */
export function escapeHtml(text: unknown): string {
  return String(text).replace(/[&<>"']/g, (c) => ENTITIES[c]!);
}

function duration(ms: number): string {
  let s = Math.max(0, Math.floor(ms / 1000));
  const d = Math.floor(s / 86_400);
  s -= d * 86_400;
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  return [d && `${d}d`, (d || h) && `${h}h`, (d || h || m) && `${m}m`, `${s}s`].filter(Boolean).join(' ');
}

const time = (at: number) =>
  new Date(at)
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, 'Z');
const hostPort = (a: { host: string; port: number } | undefined) =>
  a ? (a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`) : '—';
const rate = (perSecond: number) => (perSecond >= 10 ? perSecond.toFixed(0) : perSecond.toFixed(2));

function table(id: string, head: string[], rows: string[][], empty: string): string {
  if (rows.length === 0) return `<p id="${id}" class="empty">${escapeHtml(empty)}</p>`;
  const th = head.map((h) => `<th>${escapeHtml(h)}</th>`).join('');
  const body = rows.map((cells) => `<tr>${cells.map((c) => `<td>${c}</td>`).join('')}</tr>`).join('\n');
  return `<table id="${id}"><thead><tr>${th}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

function incidentRow(r: StatusIncident, now: number): string[] {
  const where = [
    r.connection && `connection ${r.connection}`,
    r.source && `from ${r.source}`,
    r.target && `to ${r.target}`,
    r.userId && `USERID ${r.userId}`,
  ].filter(Boolean);
  return [
    `<span title="${escapeHtml(time(r.at))}">${escapeHtml(duration(now - r.at))} ago</span>`,
    escapeHtml(r.kind),
    `<code>${escapeHtml(r.reason)}</code>`,
    escapeHtml(where.join(', ')),
  ];
}

/**
 * The gateway's status page: plain HTML rendered on the server, no script, reloaded every
 * `STATUS_REFRESH_SECONDS` by a meta refresh. Served at `/` beside `/metrics`.
 */
export function renderStatusPage(status: GatewayStatus): string {
  const protocols = Object.entries(status.usersByProtocol).sort(([a], [b]) => a.localeCompare(b));
  const online = protocols.reduce((n, [, count]) => n + count, 0);
  const contact = Object.entries(status.contact)
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(' ');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="refresh" content="${STATUS_REFRESH_SECONDS}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>CrossTalk gateway ${escapeHtml(status.id.slice(0, 12))}</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #1b1b1b; max-width: 70em; }
h1 { font-size: 1.4em; margin: 0 0 .5em; } h2 { font-size: 1.1em; margin: 1.5em 0 .4em; }
table { border-collapse: collapse; margin-bottom: .9em; } th, td { text-align: left; padding: .25em .9em .25em 0; vertical-align: top; }
thead th { border-bottom: 1px solid #999; } tbody tr:nth-child(even) { background: #f3f3f3; }
code { font-size: .95em; word-break: break-all; } #recent td:nth-child(-n+2) { white-space: nowrap; } .empty, footer { color: #666; }
dl { display: grid; grid-template-columns: max-content auto; gap: .2em 1em; margin: 0; } dt { color: #555; } dd { margin: 0; }
</style>
</head>
<body>
<h1>CrossTalk gateway</h1>
<dl id="gateway">
<dt>id</dt><dd><code>${escapeHtml(status.id)}</code></dd>
<dt>up</dt><dd id="uptime" title="since ${escapeHtml(time(status.startedAt))}">${escapeHtml(duration(status.now - status.startedAt))}</dd>
<dt>SOCKS4</dt><dd id="socks"><code>${escapeHtml(hostPort(status.socks))}</code></dd>
<dt>G2G</dt><dd id="g2g"><code>${escapeHtml(status.g2g ? hostPort(status.g2g) : contact)}</code></dd>
</dl>

<h2>Users online: <span id="online">${online}</span></h2>
${table(
  'users-by-protocol',
  ['protocol', 'users'],
  protocols.map(([protocol, count]) => [escapeHtml(protocol), String(count)]),
  'Nobody is logged in through this gateway.',
)}
${table(
  'users',
  ['user', 'protocol', 'online for'],
  status.users.map((u) => [
    escapeHtml(u.address),
    escapeHtml(u.protocol),
    `<span title="since ${escapeHtml(time(u.since))}">${escapeHtml(duration(status.now - u.since))}</span>`,
  ]),
  '',
)}

<h2>Translated events per second (last ${status.windowSeconds} s)</h2>
${table(
  'translations',
  ['from', 'to', 'per second', 'total'],
  status.translations.map((t) => [escapeHtml(t.from), escapeHtml(t.to), rate(t.perSecond), String(t.total)]),
  'No event has been translated yet.',
)}

<h2>Recent refusals and errors</h2>
${table(
  'recent',
  ['when', 'what', 'reason', 'where'],
  status.recent.map((r) => incidentRow(r, status.now)),
  'None.',
)}

<h2>Links</h2>
<ul id="links">
<li><a href="/metrics">/metrics</a>: Prometheus metrics (the @crosstalk/gateway README lists them)</li>
<li><a href="/status.json">/status.json</a>: these figures as JSON</li>
<li>Running a gateway: docs/operating.md in the CrossTalk repository</li>
</ul>
<footer>As of ${escapeHtml(time(status.now))}; reloads every ${STATUS_REFRESH_SECONDS} s.</footer>
</body>
</html>
`;
}
