import type { MinuteActivity } from './admin-activity.recorder.js';
import type { EntriesQuery } from './admin-request.parser.js';
import type {
  AdminEntriesPage,
  AdminEntryView,
  AdminHealth,
  AdminStats,
} from './output-cache-admin.service.js';

/** Everything the dashboard shows. */
export interface DashboardModel {
  /** The dashboard's own path (`/admin/output-cache`), as the request reached it. */
  base: string;
  query: EntriesQuery;
  /** The most entries a page may show (`maxTake`). */
  maxTake: number;
  stats: AdminStats;
  timeline: MinuteActivity[];
  health: AdminHealth;
  /** The entries page, or why the store could not list it. */
  page: AdminEntriesPage | { error: string };
  /** The outcome of the purge just made (after the form's redirect). */
  notice?: { purged: number; by: string; soft: boolean };
  /** Nonce of the inline stylesheet (the page's CSP allows no other style). */
  nonce: string;
}

const HTML_ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/**
 * Escapes text for HTML content and quoted attribute values. Every value from the cache
 * (paths, tags, keys, route ids, vary values) passes through it: they come from requests.
 *
 * @example
 * ```ts
 * escapeHtml('<script>'); // '&lt;script&gt;'
 * ```
 */
export function escapeHtml(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]);
}

const e = escapeHtml;

const CSS = `
:root{--fg:#1f2933;--muted:#616e7c;--line:#d9e2ec;--bg:#f5f7fa;--card:#fff;--accent:#2563eb;--bad:#c81e1e;--good:#0e7c3a}
*{box-sizing:border-box}body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:var(--fg);background:var(--bg)}
header{display:flex;align-items:center;gap:12px;padding:12px 20px;background:#102a43;color:#fff}
header h1{font-size:17px;margin:0}header .store{opacity:.8}
main{padding:16px 20px;max-width:1280px}
h2{font-size:15px;margin:20px 0 8px}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(112px,1fr));gap:8px}
.card{background:var(--card);border:1px solid var(--line);border-radius:6px;padding:8px 10px}
.card b{display:block;font-size:20px}.card span{color:var(--muted);font-size:12px}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;font-weight:600}
.ok{background:#def7ec;color:var(--good)}.ko{background:#fde8e8;color:var(--bad)}
.notice{background:#e1effe;border:1px solid #a4cafe;padding:8px 12px;border-radius:6px;margin-bottom:8px}
.error{background:#fde8e8;border:1px solid #f8b4b4;padding:8px 12px;border-radius:6px}
.panel{background:var(--card);border:1px solid var(--line);border-radius:6px;padding:10px}
form.inline{display:inline}
form.bar{display:flex;flex-wrap:wrap;gap:8px;align-items:end}
label{font-size:12px;color:var(--muted);display:flex;flex-direction:column;gap:2px}
input,select{font:inherit;padding:4px 6px;border:1px solid var(--line);border-radius:4px}
button{font:inherit;font-size:12px;padding:3px 8px;border:1px solid var(--line);border-radius:4px;background:#fff;cursor:pointer}
button.danger{border-color:#f8b4b4;color:var(--bad)}
button.tag{border-radius:10px;background:#f0f4f8;margin:1px}
table{width:100%;border-collapse:collapse;background:var(--card);border:1px solid var(--line)}
th,td{text-align:left;padding:5px 8px;border-bottom:1px solid var(--line);vertical-align:top}
th{font-size:12px;color:var(--muted);font-weight:600}
td.actions{white-space:nowrap}
td.num,th.num{text-align:right;white-space:nowrap}
td.path{max-width:300px;word-break:break-all;font-family:ui-monospace,monospace;font-size:12px}
.muted{color:var(--muted)}.pager{margin-top:8px;display:flex;gap:12px;align-items:center}
svg text{font-size:10px}
`;

/**
 * The dashboard page: stats cards, the hit ratio of the last hour, store health, the entries
 * with filters and paging, and purge forms (plain HTML forms that POST and redirect back: no
 * script at all). Every value is escaped.
 *
 * @example
 * ```ts
 * res.send(renderDashboard(model));
 * ```
 */
export function renderDashboard(model: DashboardModel): string {
  const { stats, health } = model;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Output cache</title><style nonce="${e(model.nonce)}">${CSS}</style></head>
<body>
<header><h1>Output cache</h1><span class="store">${e(health.store)}</span>
<span class="badge ${health.ok ? 'ok' : 'ko'}" data-testid="health">${health.ok ? 'healthy' : 'unhealthy'}</span></header>
<main>
${renderNotice(model.notice)}
<section aria-label="Stats"><div class="cards">
${card('Hits', stats.hits)}${card('Misses', stats.misses)}${card('Hit ratio', percent(hitRatio(stats)))}
${card('Stored', stats.stored)}${card('Bypasses', sum(stats.bypassed))}${card('Evictions', stats.evictions?.total ?? 0)}
${card('Store errors', stats.storeErrors)}${card('Entries', stats.usage?.entries ?? entriesOf(model.page))}
${card('Bytes', stats.usage ? bytes(stats.usage.bytes) : 'n/a')}
</div></section>
<h2>Hit ratio, last 60 minutes <span class="muted">(line; bars: requests per minute)</span></h2>
<div class="panel">${renderChart(model.timeline)}</div>
<h2>Store</h2>
<div class="panel" data-testid="store-health">${renderHealth(health)}</div>
<h2>Entries</h2>
${renderFilters(model)}
${renderEntries(model)}
<h2>Purge</h2>
${renderPurgeForms(model)}
</main></body></html>`;
}

function card(label: string, value: string | number): string {
  return `<div class="card"><b>${e(value)}</b><span>${e(label)}</span></div>`;
}

function hitRatio(stats: AdminStats): number {
  if (typeof stats.hitRatio === 'number') return stats.hitRatio;
  const total = stats.hits + stats.misses;
  return total === 0 ? 0 : stats.hits / total;
}

function percent(ratio: number): string {
  return `${(ratio * 100).toFixed(1)}%`;
}

function sum(counts: Record<string, number>): number {
  return Object.values(counts).reduce((a, b) => a + b, 0);
}

function entriesOf(page: DashboardModel['page']): number | string {
  return 'error' in page || !page.complete ? 'n/a' : page.total;
}

function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

function seconds(s: number): string {
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.floor(s / 60)} min`;
  return `${Math.floor(s / 3600)} h`;
}

function renderNotice(notice: DashboardModel['notice']): string {
  if (!notice) return '';
  const what = notice.soft ? 'Marked stale' : 'Purged';
  return `<p class="notice" role="status">${what} ${e(notice.purged)} ${notice.purged === 1 ? 'entry' : 'entries'} (by ${e(notice.by)}).</p>`;
}

/** The hit ratio per minute as an inline SVG polyline; minutes without traffic are gaps. */
function renderChart(timeline: MinuteActivity[]): string {
  const width = 1100;
  const height = 130;
  const left = 34;
  const top = 8;
  const plotW = width - left - 8;
  const plotH = height - top - 20;
  const step = plotW / Math.max(1, timeline.length - 1);
  const lines: string[] = [];
  let points: string[] = [];
  timeline.forEach((minute, i) => {
    const total = minute.hits + minute.misses;
    if (total === 0) {
      if (points.length > 0) lines.push(points.join(' '));
      points = [];
      return;
    }
    const x = left + i * step;
    const y = top + plotH * (1 - minute.hits / total);
    points.push(`${x.toFixed(1)},${y.toFixed(1)}`);
  });
  if (points.length > 0) lines.push(points.join(' '));
  const traffic = timeline.reduce((n, m) => n + m.hits + m.misses, 0);
  // Requests per minute as faint bars behind the ratio: a ratio of 3 requests weighs little.
  const busiest = Math.max(1, ...timeline.map((m) => m.hits + m.misses));
  const barW = Math.max(1, step * 0.6);
  const bars = timeline
    .map((minute, i) => {
      const total = minute.hits + minute.misses;
      if (total === 0) return '';
      const h = (plotH * total) / busiest;
      const x = left + i * step - barW / 2;
      return `<rect x="${x.toFixed(1)}" y="${(top + plotH - h).toFixed(1)}" width="${barW.toFixed(1)}" height="${h.toFixed(1)}" fill="#dbeafe"><title>${total} requests, ${minute.hits} served from the cache</title></rect>`;
    })
    .join('');
  const shapes = lines
    .map((p) =>
      p.includes(' ')
        ? `<polyline points="${p}" fill="none" stroke="#2563eb" stroke-width="2"/>`
        : `<circle cx="${p.split(',')[0]}" cy="${p.split(',')[1]}" r="2.5" fill="#2563eb"/>`,
    )
    .join('');
  return `<svg viewBox="0 0 ${width} ${height}" width="100%" height="${height}" role="img" aria-label="Hit ratio per minute over the last hour: ${traffic} requests" data-testid="chart">
<line x1="${left}" y1="${top}" x2="${width - 8}" y2="${top}" stroke="#d9e2ec"/>
<line x1="${left}" y1="${top + plotH / 2}" x2="${width - 8}" y2="${top + plotH / 2}" stroke="#d9e2ec"/>
<line x1="${left}" y1="${top + plotH}" x2="${width - 8}" y2="${top + plotH}" stroke="#9fb3c8"/>
<text x="2" y="${top + 4}" fill="#616e7c">100%</text><text x="8" y="${top + plotH / 2 + 4}" fill="#616e7c">50%</text><text x="14" y="${top + plotH + 4}" fill="#616e7c">0%</text>
<text x="${left}" y="${height - 4}" fill="#616e7c">-60 min</text><text x="${width - 30}" y="${height - 4}" fill="#616e7c">now</text>
${bars}${shapes}${traffic === 0 ? `<text x="${left + plotW / 2 - 50}" y="${top + plotH / 2 - 6}" fill="#616e7c">no cached traffic yet</text>` : ''}
</svg>`;
}

function renderHealth(health: AdminHealth): string {
  const ping = health.ping.ok
    ? `answered in ${e(health.ping.ms)} ms`
    : `failed after ${e(health.ping.ms)} ms: ${e(health.ping.error ?? 'unknown error')}`;
  return `<span class="badge ${health.ok ? 'ok' : 'ko'}">${health.ok ? 'healthy' : 'unhealthy'}</span>
 store <b>${e(health.store)}</b> · circuit breaker <b>${e(health.breaker)}</b> · read ${ping}`;
}

/** A dashboard link keeping the filters, with `changes` applied. */
function link(model: DashboardModel, changes: Partial<EntriesQuery>): string {
  return `${model.base}${queryOf({ ...model.query, ...changes })}`;
}

function queryOf(query: Partial<EntriesQuery>): string {
  const params = new URLSearchParams();
  if (query.route) params.set('route', query.route);
  if (query.tag) params.set('tag', query.tag);
  if (query.prefix) params.set('prefix', query.prefix);
  if (query.skip) params.set('skip', String(query.skip));
  if (query.take && query.take !== 50) params.set('take', String(query.take));
  const text = params.toString();
  return text ? `?${text}` : '';
}

function renderFilters(model: DashboardModel): string {
  const q = model.query;
  const take = [...new Set([20, 50, 100, 200, q.take])]
    .filter((n) => n <= model.maxTake)
    .sort((a, b) => a - b);
  return `<form class="bar panel" method="get" action="${e(model.base)}" aria-label="Filters">
<label>Route<input name="route" value="${e(q.route ?? '')}" placeholder="Catalog/category"></label>
<label>Tag<input name="tag" value="${e(q.tag ?? '')}" placeholder="Product:42"></label>
<label>Path prefix<input name="prefix" value="${e(q.prefix ?? '')}" placeholder="/blog"></label>
<label>Per page<select name="take">${take.map((n) => `<option${n === q.take ? ' selected' : ''}>${n}</option>`).join('')}</select></label>
<button type="submit">Filter</button> <a href="${e(model.base)}">Clear</a>
</form>`;
}

/** A form that purges one selection (hard; the `Stale` button of the same form marks it stale). */
function purgeForm(
  model: DashboardModel,
  by: string,
  value: string,
  label: string,
  options: { className?: string; text?: string; soft?: boolean } = {},
): string {
  const back = queryOf(model.query);
  return `<form class="inline" method="post" action="${e(model.base)}/dashboard/purge">
<input type="hidden" name="by" value="${e(by)}">${
    by === 'all' ? '' : `<input type="hidden" name="value" value="${e(value)}">`
  }${back ? `<input type="hidden" name="back" value="${e(back)}">` : ''}<button type="submit" class="${e(options.className ?? 'danger')}" aria-label="Purge ${e(label)}" title="Purge ${e(label)}">${e(options.text ?? 'Purge')}</button>${
    options.soft
      ? `<button type="submit" name="soft" value="1" aria-label="Mark stale ${e(label)}" title="Mark stale ${e(label)} (served during grace while refreshed)">Stale</button>`
      : ''
  }</form>`;
}

function renderEntries(model: DashboardModel): string {
  const page = model.page;
  if ('error' in page) return `<p class="error" role="alert">${e(page.error)}</p>`;
  if (page.items.length === 0) {
    return `<p class="panel muted" data-testid="no-entries">No entries${page.skip > 0 ? ' on this page' : ''}.</p>`;
  }
  const rows = page.items.map((entry) => renderRow(model, entry)).join('\n');
  const last = page.skip + page.items.length;
  const prev =
    page.skip > 0
      ? `<a href="${e(link(model, { skip: Math.max(0, page.skip - page.take) }))}">← Previous</a>`
      : '';
  const hasNext = page.complete ? last < page.total : page.items.length === page.take;
  const next = hasNext ? `<a href="${e(link(model, { skip: last }))}">Next →</a>` : '';
  const of = page.complete
    ? ` of ${e(page.total)}`
    : ` (first ${e(model.query.skip + page.total)} matches counted)`;
  return `<table data-testid="entries"><thead><tr><th>Path</th><th>Route</th><th>Vary</th><th>Tags</th>
<th class="num">Size</th><th class="num">Age</th><th class="num">TTL left</th><th class="num">Hits</th><th>Purge</th></tr></thead>
<tbody>
${rows}
</tbody></table>
<div class="pager">${prev}<span class="muted">${page.skip + 1}–${last}${of}</span>${next}</div>`;
}

function renderRow(model: DashboardModel, entry: AdminEntryView): string {
  const vary = entry.vary
    ? Object.entries(entry.vary)
        .map(([name, value]) => `${e(name)}=${e(Array.isArray(value) ? value.join(', ') : value)}`)
        .join('<br>') || '<span class="muted">none</span>'
    : '<span class="muted">hashed key</span>';
  const tags = entry.tags
    .map((tag) => purgeForm(model, 'tag', tag, `tag ${tag}`, { className: 'tag', text: tag }))
    .join('');
  const state = entry.state === 'fresh' ? seconds(entry.ttlSeconds) : entry.state;
  return `<tr data-key="${e(entry.key)}"><td class="path" title="${e(entry.key)}">${e(entry.path)}</td>
<td>${purgeForm(model, 'route', entry.routeId, `route ${entry.routeId}`, { className: 'tag', text: entry.routeId })}</td>
<td>${vary}</td><td>${tags}</td><td class="num">${e(bytes(entry.size))}</td><td class="num">${e(seconds(entry.ageSeconds))}</td>
<td class="num">${e(state)}</td><td class="num">${e(entry.hits)}</td>
<td class="actions">${purgeForm(model, 'key', entry.key, `entry ${entry.path}`, { soft: true })}</td></tr>`;
}

function renderPurgeForms(model: DashboardModel): string {
  const back = queryOf(model.query);
  return `<div class="panel"><form class="bar" method="post" action="${e(model.base)}/dashboard/purge" aria-label="Purge by selector">
${back ? `<input type="hidden" name="back" value="${e(back)}">` : ''}
<label>By<select name="by"><option value="tag">tag</option><option value="route">route</option><option value="prefix">path prefix</option><option value="key">key</option></select></label>
<label>Value<input name="value" required placeholder="Product:42"></label>
<label>Soft<input type="checkbox" name="soft" value="1"></label>
<button type="submit" class="danger">Purge</button></form>
<p>${purgeForm(model, 'all', '', 'everything', { text: 'Purge everything', soft: true })}
<span class="muted"> Soft (Stale) marks entries stale: served during their grace while one request renders them anew.</span></p></div>`;
}
