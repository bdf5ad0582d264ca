// The dashboard of one website: date range and comparison, filters, cards, the chart,
// the breakdown panels, goals, funnels and the live panel.

import { h, clear, replace, icon, toast, copyText } from './dom.js';
import { api } from './api.js';
import { lineChart, bar } from './chart.js';
import {
  METRICS, PERIODS, fmtInt, fmtCompact, fmtDec, fmtPercent, fmtRange, fmtDay, fmtDayLong, fmtHour, fmtTime,
  percentChange, periodRange, addDays, daysBetween, isDay, countryName, countryFlag, todayIn,
} from './format.js';
import { COMPARES, OPERATOR_LABELS, dimensionLabel, withFilter, goalFilter } from './state.js';

const CARD_METRICS = ['visitors', 'visits', 'pageviews', 'bounceRate', 'visitDuration'];
const LIVE_CAP = 50;

export function snippetFor(config, site) {
  const src = config?.trackerUrl || `${location.origin}/js/script.js`;
  return `<script defer src="${src}" data-website-id="${site.id}"></script>`;
}

function errorBox(err, retry) {
  return h('div', { class: 'error-box', role: 'alert' },
    h('p', {}, err?.message || String(err)),
    retry ? h('button', { type: 'button', class: 'btn btn-small', onclick: retry }, icon('refresh'), 'Retry') : null);
}

function skeletonRows(n = 5) {
  return h('ul', { class: 'rows rows-skeleton', 'aria-hidden': 'true' },
    Array.from({ length: n }, (_, i) => h('li', { class: 'skeleton-row' }, h('span', { class: `skeleton skeleton-w${(i % 3) + 1}` }))));
}

const store = {
  get(key, fallback) { try { return localStorage.getItem(key) ?? fallback; } catch { return fallback; } },
  set(key, value) { try { localStorage.setItem(key, value); } catch { /* private mode */ } },
};

// ---------------------------------------------------------------------------------------

export function createDashboard(app) {
  const site = app.site;
  const owner = app.mode === 'owner';
  let gen = 0;
  let controller = null;
  let pending = 0;
  let range = null;
  let state = app.state;
  let goalsById = new Map();

  const el = h('div', { class: 'dashboard', dataset: { websiteId: site.id, state: 'loading' } });

  // ---- toolbar -------------------------------------------------------------------------
  const periodSelect = h('select', { id: 'period', class: 'select', 'aria-label': 'Date range' },
    PERIODS.map((p) => h('option', { value: p.id }, p.label)));
  const fromInput = h('input', { type: 'date', class: 'input input-date', 'aria-label': 'First day', max: '9999-12-31' });
  const toInput = h('input', { type: 'date', class: 'input input-date', 'aria-label': 'Last day', max: '9999-12-31' });
  const customBox = h('form', { class: 'custom-range', hidden: true },
    fromInput, h('span', { class: 'muted', 'aria-hidden': 'true' }, '–'), toInput,
    h('button', { type: 'submit', class: 'btn btn-small btn-primary' }, 'Apply'));
  const compareSelect = h('select', { id: 'compare', class: 'select', 'aria-label': 'Comparison' },
    COMPARES.map((c) => h('option', { value: c.id }, c.label)));
  const prevBtn = h('button', { type: 'button', class: 'btn btn-icon', 'aria-label': 'Previous period', title: 'Previous period' }, '‹');
  const nextBtn = h('button', { type: 'button', class: 'btn btn-icon', 'aria-label': 'Next period', title: 'Next period' }, '›');
  const rangeLabel = h('span', { class: 'range-label', id: 'range-label' });
  const chips = h('div', { class: 'chips', role: 'list', 'aria-label': 'Active filters' });

  periodSelect.addEventListener('change', () => {
    if (periodSelect.value === 'custom') {
      customBox.hidden = false;
      fromInput.value = range.from;
      toInput.value = range.to;
      fromInput.focus();
      return;
    }
    app.navigate({ period: periodSelect.value, from: null, to: null });
  });
  customBox.addEventListener('submit', (e) => {
    e.preventDefault();
    const from = fromInput.value;
    const to = toInput.value;
    if (!isDay(from) || !isDay(to)) { toast('Choose both days of the range.', 'error'); return; }
    if (from > to) { toast('The first day must not be after the last.', 'error'); return; }
    if (daysBetween(from, to) > 3660) { toast('A range can be at most 3,660 days long.', 'error'); return; }
    app.navigate({ period: 'custom', from, to });
  });
  compareSelect.addEventListener('change', () => app.navigate({ compare: compareSelect.value }));
  const shift = (dir) => {
    const len = daysBetween(range.from, range.to);
    app.navigate({ period: 'custom', from: addDays(range.from, dir * len), to: addDays(range.to, dir * len) });
  };
  prevBtn.addEventListener('click', () => shift(-1));
  nextBtn.addEventListener('click', () => shift(1));

  const toolbar = h('div', { class: 'toolbar' },
    h('div', { class: 'toolbar-range' }, h('div', { class: 'range-step' }, prevBtn, periodSelect, nextBtn), customBox),
    h('div', { class: 'toolbar-compare' }, compareSelect),
    rangeLabel);

  // ---- empty state ---------------------------------------------------------------------
  const emptyBanner = h('section', { class: 'empty-banner', hidden: true, 'aria-labelledby': 'empty-title' });
  // Days imported from another tool as daily aggregates (mpctl import): said, with what they lack.
  const importedNote = h('p', { class: 'imported-note', hidden: true, id: 'imported-note' });
  const METRIC_WORDS = { visitors: 'visitors', visits: 'visits', pageviews: 'page views', events: 'events',
    bounceRate: 'bounce rate', visitDuration: 'visit duration', viewsPerVisit: 'views per visit' };
  function renderImportedNote(imported) {
    importedNote.hidden = !imported;
    if (!imported) return;
    const days = `${imported.days} imported day${imported.days === 1 ? '' : 's'} (${fmtRange(imported.from, imported.to)})`;
    let text;
    if (!imported.included) text = `${days} are not counted here: ${imported.reason}.`;
    else {
      text = `Includes ${days}: daily totals brought in from another analytics tool.`;
      const lacking = imported.unavailable.map((m) => METRIC_WORDS[m] || m);
      if (lacking.length) text += ` They have no ${lacking.join(', ')} for this view.`;
    }
    importedNote.textContent = text;
  }
  function renderEmptyBanner() {
    const snippet = snippetFor(app.config, site);
    replace(emptyBanner,
      h('h2', { id: 'empty-title' }, 'No data yet — paste the snippet'),
      owner
        ? [h('p', {}, `Add this line to the <head> of every page of ${site.domain}. Visits show up here, live, as soon as it is in place.`),
          h('div', { class: 'snippet' }, h('code', { class: 'snippet-code' }, snippet),
            h('button', { type: 'button', class: 'btn btn-small', onclick: async () => toast(await copyText(snippet) ? 'Snippet copied' : 'Copy failed; select the text instead', 'ok') }, icon('copy'), 'Copy')),
          h('p', { class: 'muted' }, 'Or send events from a server with POST /track. ', h('a', { href: app.hrefFor({ view: 'settings' }) }, 'Website settings'))]
        : h('p', {}, 'This website has not recorded any visits yet.'));
  }

  // ---- cards ---------------------------------------------------------------------------
  const cardEls = {};
  const cardsEl = h('div', { class: 'cards', role: 'group', 'aria-label': 'Key numbers' },
    CARD_METRICS.map((m) => {
      const value = h('span', { class: 'card-value' }, '—');
      const change = h('span', { class: 'card-change' });
      const btn = h('button', {
        type: 'button', class: 'card', dataset: { metric: m }, 'aria-pressed': 'false',
        title: `Show ${METRICS[m].short.toLowerCase()} in the chart`,
        onclick: () => app.navigate({ metric: m }, { replace: true }),
      }, h('span', { class: 'card-label' }, METRICS[m].label), value, change);
      cardEls[m] = { btn, value, change };
      return btn;
    }));
  const cardsError = h('div', { class: 'cards-error', hidden: true });

  function renderCards(ov) {
    cardsError.hidden = true;
    const cur = ov.range;
    const prev = ov.comparison || null;
    for (const m of CARD_METRICS) {
      const { btn, value, change } = cardEls[m];
      const v = cur[m];
      value.textContent = METRICS[m].format(v);
      value.dataset.value = String(v);
      value.title = METRICS[m].exact(v);
      btn.classList.remove('is-loading', 'is-stale');
      clear(change);
      change.className = 'card-change';
      delete change.dataset.value;
      if (!prev) continue;
      const pct = percentChange(v, prev[m]);
      if (v === 0 && prev[m] === 0) {
        change.append('—');
        change.title = `No ${METRICS[m].short.toLowerCase()} in either period`;
        continue;
      }
      const was = `${METRICS[m].exact(prev[m])} in ${fmtRange(prev.from, prev.to)}`;
      if (pct === null) {
        change.append(h('span', { class: 'change-new' }, 'new'));
        change.title = `Nothing to compare with (${was})`;
        continue;
      }
      const rounded = Math.round(pct);
      change.dataset.value = String(Math.round(pct * 10) / 10);
      const good = METRICS[m].lowerIsBetter ? rounded < 0 : rounded > 0;
      change.classList.add(rounded === 0 ? 'flat' : good ? 'good' : 'bad');
      if (rounded !== 0) change.append(icon(rounded > 0 ? 'up' : 'down', 'icon-small'));
      change.append(`${fmtInt(Math.abs(rounded))}%`);
      change.title = `${rounded >= 0 ? '+' : '−'}${fmtDec(Math.abs(pct))}% compared with ${was}`;
    }
  }

  // ---- chart ---------------------------------------------------------------------------
  const chart = lineChart();
  const chartTitle = h('h2', { class: 'panel-title' });
  const chartNote = h('span', { class: 'muted chart-note' });
  const chartLegend = h('div', { class: 'chart-legend' });
  const chartEmpty = h('p', { class: 'chart-empty', hidden: true }, 'No visits in this period');
  const chartBody = h('div', { class: 'chart-body' }, chart.el, chartEmpty);
  const chartPanel = h('section', { class: 'panel panel-chart', 'aria-labelledby': 'chart-title' },
    h('header', { class: 'panel-head' }, h('div', {}, chartTitle, chartNote), chartLegend), chartBody);
  chartTitle.id = 'chart-title';
  let lastSeries = null;

  function renderChart(ts) {
    lastSeries = ts;
    const m = state.metric;
    const def = METRICS[m];
    const hourly = ts.interval === 'hour';
    chartTitle.textContent = def.label;
    chartNote.textContent = hourly ? ' per hour' : ' per day';
    const pts = ts.points;
    const cpts = ts.comparison?.points || null;
    const label = (p) => (hourly ? `${fmtDayLong(range.from)}, ${fmtHour(p.t, site.timeZone)}` : fmtDayLong(p.t));
    const cLabel = (p) => (hourly ? `${fmtDayLong(ts.comparison.from)}, ${fmtHour(p.t, site.timeZone)}` : fmtDayLong(p.t));
    replace(chartLegend,
      h('span', { class: 'legend-item' }, h('span', { class: 'swatch' }), fmtRange(range.from, range.to)),
      cpts ? h('span', { class: 'legend-item' }, h('span', { class: 'swatch swatch-compare' }), fmtRange(ts.comparison.from, ts.comparison.to)) : null);
    chart.el.dataset.points = String(pts.length);
    chartEmpty.hidden = pts.some((p) => p.events > 0);
    // Stop the line at the current hour or day: later buckets hold zeros only because they have not happened.
    const now = Date.now();
    const today = todayIn(site.timeZone);
    const past = pts.filter((p) => (hourly ? Date.parse(p.t) <= now : p.t <= today));
    chart.update({
      values: past.map((p) => p[m]),
      count: pts.length,
      compare: cpts ? cpts.map((p) => p[m]) : null,
      label: (i) => label(pts[i]),
      compareLabel: (i) => cLabel(cpts[i]),
      xLabel: (i) => (hourly ? fmtHour(pts[i].t, site.timeZone) : fmtDay(pts[i].t)),
      format: (v) => def.exact(v),
      axisFormat: (v) => (m === 'visitDuration' ? def.exact(v) : m === 'bounceRate' ? `${fmtInt(v)}%` : fmtCompact(v)),
      integer: m !== 'viewsPerVisit',
      name: def.short.toLowerCase(),
      compareName: def.short.toLowerCase(),
      ariaLabel: `${def.label} ${hourly ? 'per hour' : 'per day'}, ${fmtRange(range.from, range.to)}`,
    });
  }

  // ---- filter chips --------------------------------------------------------------------
  function displayValue(dim, value) {
    if (dim === 'country') return value ? `${countryFlag(value)} ${countryName(value)}` : 'Unknown';
    if (value === '') return dim === 'source' || dim === 'referrer' ? 'Direct / None' : '(none)';
    return value;
  }
  function renderChips() {
    clear(chips);
    chips.hidden = state.filters.length === 0;
    state.filters.forEach((f, idx) => {
      const [op, dim, values] = f;
      // A wildcard page goal is filtered by a regular expression: name the goal instead.
      const goal = op === 'matches' ? [...goalsById.values()].find((g) => JSON.stringify(goalFilter(g)) === JSON.stringify(f)) : null;
      const head = goal ? 'Goal ' : `${dimensionLabel(dim)} ${OPERATOR_LABELS[op] || op} `;
      const shown = goal ? `${goal.name} (${goal.pagePath})` : values.map((v) => displayValue(dim, v)).join(' or ');
      const text = `${head}${shown}`;
      chips.append(h('span', { class: 'chip', role: 'listitem', dataset: { dimension: dim, operator: op } },
        h('span', { class: 'chip-text', title: text }, h('span', { class: 'muted' }, head), h('strong', {}, shown)),
        h('button', {
          type: 'button', class: 'chip-remove', 'aria-label': `Remove filter: ${text}`, title: 'Remove filter',
          onclick: () => app.navigate({ filters: state.filters.filter((_, i) => i !== idx) }),
        }, icon('close'))));
    });
    if (state.filters.length > 1) {
      chips.append(h('span', { role: 'listitem' }, h('button', { type: 'button', class: 'link-btn', onclick: () => app.navigate({ filters: [] }) }, 'Clear all')));
    }
  }
  function addFilter(op, dim, value) {
    app.navigate({ filters: withFilter(state.filters, op, dim, value) });
  }
  const isFiltered = (dim, value) => state.filters.some((f) => f[0] === 'is' && f[1] === dim && f[2].length === 1 && f[2][0] === value);

  // ---- breakdown panels ----------------------------------------------------------------
  const C = {
    visitors: { key: 'visitors', label: 'Visitors' },
    pageviews: { key: 'pageviews', label: 'Views' },
    entrances: { key: 'visits', label: 'Entrances' },
    exits: { key: 'visits', label: 'Exits' },
    visits: { key: 'visits', label: 'Visits' },
    events: { key: 'events', label: 'Events' },
  };
  const report = (name, field) => (ctx, extra) => api.stats(site.id, name, { ...ctx.base, ...extra }, ctx.signal).then((d) => d[field]);
  const breakdown = (dimension) => (ctx, extra) => api.stats(site.id, 'breakdown', { ...ctx.base, dimension, ...extra }, ctx.signal).then((d) => d.rows);

  const utmSelect = h('select', { class: 'select select-small', 'aria-label': 'UTM tag' },
    ['utm_campaign', 'utm_source', 'utm_medium', 'utm_term', 'utm_content'].map((d) => h('option', { value: d }, dimensionLabel(d))));
  utmSelect.value = store.get('mp.utm', 'utm_campaign');

  const propInput = h('input', { class: 'input input-small', type: 'text', placeholder: 'property, e.g. plan', 'aria-label': 'Custom property', list: 'prop-keys', maxlength: '300', autocomplete: 'off' });
  const propKeysList = h('datalist', { id: 'prop-keys' });
  const propKey = () => propInput.value.trim();
  const rememberedProps = () => { try { return JSON.parse(store.get(`mp.props.${site.id}`, '[]')); } catch { return []; } };
  propInput.value = rememberedProps()[0] || '';
  const refreshPropList = () => replace(propKeysList, rememberedProps().map((k) => h('option', { value: k })));
  refreshPropList();

  const PANELS = [
    {
      id: 'sources', title: 'Sources',
      tabs: [
        { id: 'channels', label: 'Channels', dim: 'channel', fetch: breakdown('channel'), cols: [C.visitors, C.pageviews] },
        { id: 'sources', label: 'Sources', dim: 'source', fetch: report('sources', 'rows'), cols: [C.visitors, C.pageviews] },
        { id: 'referrers', label: 'Referrers', dim: 'referrer', fetch: breakdown('referrer'), cols: [C.visitors, C.pageviews] },
        {
          id: 'utm', label: 'UTM', dim: () => utmSelect.value,
          fetch: (ctx, extra) => breakdown(utmSelect.value)(ctx, extra), cols: [C.visitors, C.pageviews], tools: utmSelect,
          empty: 'No visits with UTM tags in this period.',
        },
      ],
    },
    {
      id: 'pages', title: 'Pages',
      tabs: [
        { id: 'top', label: 'Top pages', dim: 'page', key: 'page', fetch: report('top-pages', 'pages'), cols: [C.visitors, C.pageviews] },
        { id: 'entry', label: 'Entry pages', dim: 'entry_page', fetch: report('entry-pages', 'rows'), cols: [C.visitors, C.entrances] },
        { id: 'exit', label: 'Exit pages', dim: 'exit_page', fetch: report('exit-pages', 'rows'), cols: [C.visitors, C.exits] },
      ],
    },
    {
      id: 'devices', title: 'Visitors',
      tabs: [
        { id: 'countries', label: 'Countries', dim: 'country', fetch: breakdown('country'), cols: [C.visitors, C.visits] },
        { id: 'browsers', label: 'Browsers', dim: 'browser', fetch: breakdown('browser'), cols: [C.visitors, C.visits] },
        { id: 'os', label: 'OS', dim: 'os', fetch: breakdown('os'), cols: [C.visitors, C.visits] },
        { id: 'devices', label: 'Devices', dim: 'device', fetch: breakdown('device'), cols: [C.visitors, C.visits] },
      ],
    },
    {
      id: 'events', title: 'Custom events',
      tabs: [
        {
          id: 'events', label: 'Events', dim: 'eventType', bar: 'events',
          fetch: (ctx, extra) => breakdown('eventType')(ctx, { ...extra, limit: Math.min(100, extra.limit + 1) })
            .then((rows) => rows.filter((r) => r.value !== 'pageview').slice(0, extra.limit)),
          cols: [C.visitors, C.events],
          empty: 'No custom events in this period. Send one with eventType, e.g. a signup or a download.',
        },
        {
          id: 'props', label: 'Properties', dim: () => `prop:${propKey()}`, bar: 'events',
          fetch: (ctx, extra) => (propKey() ? breakdown(`prop:${propKey()}`)(ctx, extra) : Promise.resolve(null)),
          cols: [C.visitors, C.events], tools: h('form', { class: 'prop-form' }, propInput, propKeysList, h('button', { type: 'submit', class: 'btn btn-small' }, 'Show')),
          empty: 'No events with this property in this period.',
          none: 'Type the name of a custom property (such as plan) to break the events down by its values.',
        },
      ],
    },
  ];

  function labelFor(dim, value) {
    if (dim === 'country') {
      return value ? h('span', {}, h('span', { class: 'flag', 'aria-hidden': 'true' }, countryFlag(value)), ' ', countryName(value)) : 'Unknown';
    }
    if (dim === 'device' && value) return value.charAt(0).toUpperCase() + value.slice(1);
    return displayValue(dim, value);
  }

  function listPanel(def) {
    const storeKey = `mp.tab.${def.id}`;
    let tabId = store.get(storeKey, def.tabs[0].id);
    if (!def.tabs.some((t) => t.id === tabId)) tabId = def.tabs[0].id;
    let expanded = false;
    let lastCtx = null;
    let seq = 0;
    const tab = () => def.tabs.find((t) => t.id === tabId);
    const tabButtons = def.tabs.map((t) => h('button', {
      type: 'button', role: 'tab', class: 'tab', dataset: { tab: t.id }, id: `tab-${def.id}-${t.id}`,
      onclick: () => { tabId = t.id; store.set(storeKey, t.id); expanded = false; syncTabs(); if (lastCtx) load(lastCtx, true); },
    }, t.label));
    const tabList = h('div', { class: 'tabs', role: 'tablist', 'aria-label': def.title }, tabButtons);
    tabList.addEventListener('keydown', (e) => {
      const i = tabButtons.indexOf(document.activeElement);
      if (i < 0 || (e.key !== 'ArrowRight' && e.key !== 'ArrowLeft')) return;
      e.preventDefault();
      tabButtons[(i + (e.key === 'ArrowRight' ? 1 : tabButtons.length - 1)) % tabButtons.length].focus();
    });
    const tools = h('div', { class: 'panel-tools' });
    const body = h('div', { class: 'panel-body', role: 'tabpanel' });
    const more = h('button', { type: 'button', class: 'link-btn', hidden: true, onclick: () => { expanded = !expanded; if (lastCtx) load(lastCtx, true); } });
    const panel = h('section', { class: 'panel', id: `panel-${def.id}`, dataset: { panel: def.id } },
      h('header', { class: 'panel-head' }, h('h2', { class: 'panel-title' }, def.title), tabList), tools, body, h('footer', { class: 'panel-foot' }, more));
    for (const t of def.tabs) {
      if (t.tools instanceof HTMLFormElement) {
        t.tools.addEventListener('submit', (e) => {
          e.preventDefault();
          const k = propKey();
          if (k) store.set(`mp.props.${site.id}`, JSON.stringify([k, ...rememberedProps().filter((x) => x !== k)].slice(0, 12)));
          refreshPropList();
          if (lastCtx) load(lastCtx, true);
        });
      } else if (t.tools instanceof HTMLSelectElement) {
        t.tools.addEventListener('change', () => { store.set('mp.utm', t.tools.value); if (lastCtx) load(lastCtx, true); });
      }
    }
    function syncTabs() {
      for (const b of tabButtons) {
        const on = b.dataset.tab === tabId;
        b.setAttribute('aria-selected', String(on));
        b.tabIndex = on ? 0 : -1;
      }
      body.setAttribute('aria-labelledby', `tab-${def.id}-${tabId}`);
      panel.dataset.tab = tabId;
      replace(tools, tab().tools || null);
      tools.hidden = !tab().tools;
    }
    syncTabs();

    function render(t, rows, limit) {
      const dim = typeof t.dim === 'function' ? t.dim() : t.dim;
      if (rows === null) { replace(body, h('p', { class: 'empty' }, t.none)); more.hidden = true; return; }
      if (!rows.length) {
        replace(body, h('p', { class: 'empty' }, state.filters.length ? 'Nothing matches these filters in this period.' : (t.empty || 'No data for this period.')));
        more.hidden = true;
        return;
      }
      const barKey = t.bar || 'pageviews';
      const max = Math.max(...rows.map((r) => r[barKey] || 0));
      const head = h('div', { class: 'list-head', 'aria-hidden': 'true' },
        h('span', {}, dimensionLabel(dim)), t.cols.map((c) => h('span', { class: 'num' }, c.label)));
      const list = h('ul', { class: 'rows', dataset: { dimension: dim } }, rows.map((r) => {
        const value = r[t.key || 'value'];
        const active = isFiltered(dim, value);
        return h('li', {}, h('button', {
          type: 'button', class: ['row', active && 'is-filtered'], dataset: { dimension: dim, key: value },
          'aria-pressed': String(active),
          title: `Filter: ${dimensionLabel(dim)} is ${displayValue(dim, value)}`,
          onclick: () => addFilter('is', dim, value),
        },
        h('span', { class: 'row-cell' }, bar(r[barKey] || 0, max), h('span', { class: 'row-label' }, labelFor(dim, value))),
        t.cols.map((c) => h('span', { class: 'num', dataset: { metric: c.key, value: r[c.key] }, title: `${fmtInt(r[c.key])} ${c.label.toLowerCase()}` }, fmtInt(r[c.key])))));
      }));
      replace(body, head, list);
      more.hidden = !(expanded || rows.length >= limit);
      more.textContent = expanded ? 'Show fewer' : 'Show more';
    }

    function load(ctx, fresh = false) {
      lastCtx = ctx;
      const t = tab();
      const limit = expanded ? 100 : 10;
      if (!body.firstChild || fresh) replace(body, skeletonRows());
      body.classList.add('is-stale');
      const mine = ++seq;
      return track(ctx, t.fetch(ctx, { limit }), (rows) => { if (mine !== seq) return; body.classList.remove('is-stale'); render(t, rows, limit); },
        (err) => { if (mine !== seq) return; body.classList.remove('is-stale'); replace(body, errorBox(err, () => load(lastCtx, true))); more.hidden = true; });
    }
    return { el: panel, load };
  }

  const panels = PANELS.map(listPanel);

  // ---- goals ---------------------------------------------------------------------------
  const goalsBody = h('div', { class: 'panel-body' });
  const goalsPanel = h('section', { class: 'panel', id: 'panel-goals', dataset: { panel: 'goals' } },
    h('header', { class: 'panel-head' }, h('h2', { class: 'panel-title' }, 'Goal conversions')), goalsBody);
  function renderGoals(rep) {
    goalsById = new Map(rep.goals.map((g) => [g.goalId, g]));
    if (state.filters.some((f) => f[0] === 'matches')) renderChips();
    if (!rep.goals.length) {
      replace(goalsBody, h('p', { class: 'empty' }, 'No goals yet. A goal counts the visitors who sent a custom event or saw a page. ',
        owner ? h('a', { href: app.hrefFor({ view: 'settings' }) + '#goals' }, 'Add a goal') : null));
      return;
    }
    const max = Math.max(...rep.goals.map((g) => g.visitors));
    replace(goalsBody,
      h('div', { class: 'list-head list-head-3', 'aria-hidden': 'true' }, h('span', {}, 'Goal'), h('span', { class: 'num', title: 'Visitors who reached the goal' }, 'Visitors'), h('span', { class: 'num col-optional' }, 'Events'), h('span', { class: 'num', title: 'Conversion rate' }, 'CR')),
      h('ul', { class: 'rows rows-3', dataset: { dimension: 'goal' } }, rep.goals.map((g) => {
        const f = goalFilter(g);
        const active = state.filters.some((x) => x[1] === f[1] && x[0] === f[0] && x[2][0] === f[2][0]);
        return h('li', {}, h('button', {
          type: 'button', class: ['row', active && 'is-filtered'], dataset: { key: g.goalId, name: g.name },
          'aria-pressed': String(active),
          title: `Filter: ${g.type === 'event' ? `event ${g.eventName}` : `page ${g.pagePath}`}`,
          onclick: () => addFilter(f[0], f[1], f[2][0]),
        },
        h('span', { class: 'row-cell' }, bar(g.visitors, max, 'bar bar-goal'),
          h('span', { class: 'row-label' }, h('span', { class: 'goal-kind' }, g.type === 'event' ? 'Event' : 'Page'), ' ', g.name)),
        h('span', { class: 'num', dataset: { metric: 'visitors', value: g.visitors } }, fmtInt(g.visitors)),
        h('span', { class: 'num col-optional', dataset: { metric: 'events', value: g.events } }, fmtInt(g.events)),
        h('span', { class: 'num', dataset: { metric: 'conversionRate', value: g.conversionRate } }, fmtPercent(g.conversionRate))));
      })));
  }

  // ---- funnels -------------------------------------------------------------------------
  let funnels = null;
  let funnelId = store.get(`mp.funnel.${site.id}`, '');
  const funnelSelect = h('select', { class: 'select select-small', 'aria-label': 'Funnel' });
  funnelSelect.addEventListener('change', () => { funnelId = funnelSelect.value; store.set(`mp.funnel.${site.id}`, funnelId); if (lastCtx) loadFunnel(lastCtx); });
  const funnelBody = h('div', { class: 'panel-body' });
  const funnelPanel = h('section', { class: 'panel', id: 'panel-funnels', dataset: { panel: 'funnels' } },
    h('header', { class: 'panel-head' }, h('h2', { class: 'panel-title' }, 'Funnels'), funnelSelect), funnelBody);
  function renderFunnel(rep) {
    const first = rep.steps[0]?.visitors || 0;
    const last = rep.steps[rep.steps.length - 1];
    const step = (st, i) => {
      const share = i === 0 ? `${fmtPercent(st.conversionRateStep)} of all` : fmtPercent(st.conversionRate);
      const label = h('div', { class: 'funnel-label' },
        h('span', { class: 'row-label' }, st.name),
        h('span', { class: 'num' }, h('strong', { dataset: { metric: 'visitors', value: st.visitors } }, fmtInt(st.visitors)), ' ', h('span', { class: 'muted' }, share)));
      const drop = i > 0
        ? h('div', { class: 'funnel-drop', dataset: { value: st.dropoff } }, icon('down', 'icon-small'), `${fmtInt(st.dropoff)} dropped off (${fmtPercent(st.dropoffRate)})`)
        : null;
      return h('li', { class: 'funnel-step', dataset: { goalId: st.goalId, visitors: st.visitors } },
        drop,
        h('div', { class: 'funnel-row' },
          h('span', { class: 'funnel-index', 'aria-hidden': 'true' }, String(i + 1)),
          h('div', { class: 'funnel-main' }, label, h('div', { class: 'funnel-track' }, bar(st.visitors, first, 'bar bar-funnel')))));
    };
    replace(funnelBody,
      h('p', { class: 'muted funnel-summary' }, `${fmtInt(last?.visitors || 0)} of ${fmtInt(first)} visitors completed it (${fmtPercent(last?.conversionRate || 0)}).`),
      h('ol', { class: 'funnel', dataset: { funnelId: rep.funnelId } }, rep.steps.map(step)));
  }
  function loadFunnel(ctx) {
    if (!funnels || !funnels.length) {
      funnelSelect.hidden = true;
      replace(funnelBody, h('p', { class: 'empty' }, 'No funnels yet. A funnel follows visitors through 2 to 8 goals in order. ',
        owner ? h('a', { href: app.hrefFor({ view: 'settings' }) + '#funnels' }, 'Add a funnel') : null));
      return Promise.resolve();
    }
    if (!funnels.some((f) => f.id === funnelId)) funnelId = funnels[0].id;
    funnelSelect.hidden = funnels.length < 2;
    replace(funnelSelect, funnels.map((f) => h('option', { value: f.id }, f.name)));
    funnelSelect.value = funnelId;
    if (!funnelBody.firstChild) replace(funnelBody, skeletonRows(3));
    return track(ctx, api.stats(site.id, `funnels/${encodeURIComponent(funnelId)}`, ctx.base, ctx.signal), renderFunnel,
      (err) => replace(funnelBody, errorBox(err, () => loadFunnel(lastCtx))));
  }

  // ---- live ----------------------------------------------------------------------------
  const liveCount = h('span', { class: 'live-count', dataset: { value: '' } }, '—');
  const liveLabel = h('span', { class: 'live-label' }, 'current visitors');
  const liveStatus = h('span', { class: 'live-status muted' });
  const liveList = h('ol', { class: 'live-list', 'aria-label': 'Latest events, newest first' });
  const liveEmpty = h('p', { class: 'empty live-empty' }, owner ? 'Waiting for events… New page views and events appear here the moment they are tracked.' : 'The current visitors are updated every 30 seconds.');
  const livePanel = h('section', { class: 'panel panel-live', id: 'live', dataset: { panel: 'live' }, 'aria-labelledby': 'live-title' },
    h('header', { class: 'panel-head' }, h('h2', { class: 'panel-title', id: 'live-title' }, h('span', { class: 'pulse', 'aria-hidden': 'true' }), 'Live'), liveStatus),
    h('div', { class: 'live-now' }, liveCount, h('span', { class: 'muted' }, liveLabel, h('br'), h('small', {}, 'sessions active in the last 5 minutes'))),
    owner ? liveList : null, liveEmpty);

  function setRealtime(n) {
    if (typeof n !== 'number') return;
    liveCount.textContent = fmtInt(n);
    liveCount.dataset.value = String(n);
    liveLabel.textContent = n === 1 ? 'current visitor' : 'current visitors';
    app.setRealtime(n);
  }
  function addLiveEvent(ev) {
    liveEmpty.hidden = true;
    const isView = ev.eventType === 'pageview';
    let ref = '';
    if (ev.referrer) { try { ref = new URL(ev.referrer).host; } catch { ref = ev.referrer; } }
    const item = h('li', { class: 'live-item is-new', dataset: { eventType: ev.eventType, page: ev.page, timestamp: ev.timestamp } },
      h('time', { class: 'live-time', datetime: ev.timestamp, title: new Date(ev.timestamp).toLocaleString() }, fmtTime(ev.timestamp)),
      h('span', { class: 'live-what' },
        h('span', { class: ['badge', isView ? 'badge-view' : 'badge-event'] }, isView ? 'view' : ev.eventType),
        h('span', { class: 'live-page' }, ev.page || ev.url || '')),
      h('span', { class: 'live-meta muted' },
        [ev.country ? `${countryFlag(ev.country)} ${ev.country}` : null, ev.browser, ev.os, ev.device, ref ? `from ${ref}` : null].filter(Boolean).join(' · ')));
    liveList.prepend(item);
    setTimeout(() => item.classList.remove('is-new'), 1600);
    while (liveList.children.length > LIVE_CAP) liveList.lastElementChild.remove();
  }
  function setLiveStatus(status, detail) {
    const text = { live: 'Connected', connecting: 'Connecting…', reconnecting: `Reconnecting${detail ? ` in ${detail} s` : ''}…`, error: detail ? `Live feed: ${detail}` : 'Live feed error', idle: '' }[status] ?? '';
    liveStatus.textContent = text;
    livePanel.dataset.status = status;
  }
  function loadRealtime() {
    return api.stats(site.id, 'realtime').then((r) => setRealtime(r.activeSessions)).catch(() => { /* the live feed keeps trying */ });
  }

  // ---- loading -------------------------------------------------------------------------
  function track(ctx, promise, onData, onError) {
    pending++;
    el.dataset.state = 'loading';
    return promise.then((d) => { if (ctx.gen === gen) onData(d); })
      .catch((err) => { if (err?.name === 'AbortError' || ctx.gen !== gen) return; onError(err); })
      .finally(() => { pending--; if (pending === 0 && ctx.gen === gen) el.dataset.state = 'ready'; });
  }

  let lastCtx = null;
  function syncToolbar() {
    periodSelect.value = state.period;
    customBox.hidden = state.period !== 'custom';
    fromInput.value = range.from;
    toInput.value = range.to;
    compareSelect.value = state.compare;
    const today = todayIn(site.timeZone);
    nextBtn.disabled = range.to >= today;
    rangeLabel.textContent = fmtRange(range.from, range.to);
    for (const m of CARD_METRICS) cardEls[m].btn.setAttribute('aria-pressed', String(m === state.metric));
    renderChips();
  }

  function update(next, { quiet = false } = {}) {
    const metricOnly = next !== state && lastCtx && next.metric !== state.metric && next.period === state.period && next.from === state.from
      && next.to === state.to && next.compare === state.compare && JSON.stringify(next.filters) === JSON.stringify(state.filters);
    state = next;
    if (metricOnly) {
      syncToolbar();
      if (lastSeries) renderChart(lastSeries);
      return;
    }
    gen++;
    controller?.abort();
    controller = new AbortController();
    range = periodRange(state.period, site.timeZone, state.from, state.to);
    el.dataset.from = range.from;
    el.dataset.to = range.to;
    el.dataset.filters = JSON.stringify(state.filters);
    syncToolbar();
    const base = { from: range.from, to: range.to };
    if (state.filters.length) base.filters = JSON.stringify(state.filters);
    const compare = state.compare !== 'off' ? state.compare : undefined;
    const ctx = { gen, base, signal: controller.signal, quiet };
    lastCtx = ctx;

    if (!quiet) {
      for (const m of CARD_METRICS) cardEls[m].btn.classList.add(cardEls[m].value.dataset.value === undefined ? 'is-loading' : 'is-stale');
    }
    track(ctx, api.stats(site.id, 'overview', { ...base, compare }, ctx.signal), (ov) => {
      renderCards(ov);
      renderImportedNote(ov.imported);
      emptyBanner.hidden = !(ov.total.events === 0 && !state.filters.length);
      if (!emptyBanner.hidden) renderEmptyBanner();
    }, (err) => {
      for (const m of CARD_METRICS) {
        cardEls[m].btn.classList.remove('is-loading', 'is-stale');
        cardEls[m].value.textContent = '—';
        delete cardEls[m].value.dataset.value;
        clear(cardEls[m].change);
      }
      replace(cardsError, errorBox(err, () => update(state)));
      cardsError.hidden = false;
    });

    const interval = range.from === range.to ? 'hour' : 'day';
    if (!quiet) chartBody.classList.add('is-stale');
    track(ctx, api.stats(site.id, 'timeseries', { ...base, interval, compare }, ctx.signal), (ts) => {
      chartBody.classList.remove('is-stale');
      chart.el.hidden = false;
      chartBody.querySelector('.error-box')?.remove();
      renderChart(ts);
    }, (err) => {
      chartBody.classList.remove('is-stale');
      chart.el.hidden = true;
      chartBody.querySelector('.error-box')?.remove();
      chartBody.append(errorBox(err, () => update(state)));
    });

    for (const p of panels) p.load(ctx);

    if (!goalsBody.firstChild) replace(goalsBody, skeletonRows(3));
    track(ctx, api.stats(site.id, 'goals', base, ctx.signal), renderGoals, (err) => replace(goalsBody, errorBox(err, () => update(state))));

    if (funnels === null) {
      track(ctx, api.funnels(site.id).then((d) => d.funnels), (list) => { funnels = list; loadFunnel(ctx); },
        (err) => replace(funnelBody, errorBox(err, () => { funnels = null; update(state); })));
    } else loadFunnel(ctx);
  }

  // ---- layout --------------------------------------------------------------------------
  el.append(
    h('h1', { class: 'sr-only' }, `Stats of ${site.domain}`),
    toolbar,
    chips,
    emptyBanner,
    cardsEl,
    cardsError,
    importedNote,
    chartPanel,
    h('div', { class: 'grid' }, panels[0].el, panels[1].el, panels[2].el, panels[3].el, goalsPanel, funnelPanel, livePanel),
  );

  // Refresh quietly every minute while the range reaches today and the page is visible.
  const refreshTimer = setInterval(() => {
    if (document.visibilityState === 'visible' && range && range.to >= todayIn(site.timeZone)) update(state, { quiet: true });
  }, 60000);
  // Share links have no live feed: poll the realtime count every 30 s instead.
  const realtimeTimer = setInterval(() => {
    if (document.visibilityState === 'visible' && (!owner || app.liveStatus() !== 'live')) loadRealtime();
  }, owner ? 60000 : 30000);
  loadRealtime();

  return {
    el,
    site,
    update,
    onLiveEvent: addLiveEvent,
    onRealtime: setRealtime,
    onLiveStatus: setLiveStatus,
    destroy() {
      clearInterval(refreshTimer);
      clearInterval(realtimeTimer);
      controller?.abort();
    },
  };
}
