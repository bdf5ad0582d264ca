// The dashboard's state lives in the URL's query string, so a reload or a shared URL
// shows the same website, range, comparison, filters and chart metric.

import { PERIODS, DEFAULT_PERIOD, METRICS, isDay } from './format.js';

export const OPERATORS = ['is', 'is_not', 'contains', 'contains_not', 'matches', 'matches_not'];
export const COMPARES = [
  { id: 'previous_period', label: 'vs. previous period' },
  { id: 'year_over_year', label: 'vs. a year before' },
  { id: 'off', label: 'No comparison' },
];
const VIEWS = ['dashboard', 'settings', 'new', 'signup'];

export const DIMENSION_LABELS = {
  page: 'Page',
  entry_page: 'Entry page',
  exit_page: 'Exit page',
  source: 'Source',
  channel: 'Channel',
  referrer: 'Referrer',
  utm_source: 'UTM source',
  utm_medium: 'UTM medium',
  utm_campaign: 'UTM campaign',
  utm_term: 'UTM term',
  utm_content: 'UTM content',
  country: 'Country',
  browser: 'Browser',
  os: 'Operating system',
  device: 'Device',
  hostname: 'Hostname',
  eventType: 'Event',
};
export const OPERATOR_LABELS = {
  is: 'is', is_not: 'is not', contains: 'contains', contains_not: 'does not contain', matches: 'matches', matches_not: 'does not match',
};

export function dimensionLabel(dim) {
  if (dim.startsWith('prop:')) return `Property ${dim.slice(5)}`;
  return DIMENSION_LABELS[dim] || dim;
}

function validDimension(dim) {
  return typeof dim === 'string' && (Object.hasOwn(DIMENSION_LABELS, dim) || /^prop:.{1,300}$/s.test(dim));
}

export function parseFilters(text) {
  if (!text) return [];
  let raw;
  try { raw = JSON.parse(text); } catch { return []; }
  if (!Array.isArray(raw)) return [];
  return raw.filter((f) => Array.isArray(f) && f.length === 3 && OPERATORS.includes(f[0]) && validDimension(f[1])
    && Array.isArray(f[2]) && f[2].length > 0 && f[2].every((v) => typeof v === 'string')).slice(0, 20);
}

export function readUrl() {
  const q = new URLSearchParams(location.search);
  const period = PERIODS.some((p) => p.id === q.get('period')) ? q.get('period') : DEFAULT_PERIOD;
  const compare = COMPARES.some((c) => c.id === q.get('compare')) ? q.get('compare') : 'previous_period';
  const metric = Object.hasOwn(METRICS, q.get('metric') || '') ? q.get('metric') : 'visitors';
  const view = VIEWS.includes(q.get('view')) ? q.get('view') : 'dashboard';
  return {
    site: q.get('site') || null,
    view,
    period,
    from: isDay(q.get('from')) ? q.get('from') : null,
    to: isDay(q.get('to')) ? q.get('to') : null,
    filters: parseFilters(q.get('filters')),
    compare,
    metric,
  };
}

export function urlFor(state) {
  const q = new URLSearchParams();
  if (state.site) q.set('site', state.site);
  if (state.view && state.view !== 'dashboard') q.set('view', state.view);
  if (state.period && state.period !== DEFAULT_PERIOD) q.set('period', state.period);
  if (state.period === 'custom' && state.from && state.to) {
    q.set('from', state.from);
    q.set('to', state.to);
  }
  if (state.compare && state.compare !== 'previous_period') q.set('compare', state.compare);
  if (state.metric && state.metric !== 'visitors') q.set('metric', state.metric);
  if (state.filters && state.filters.length) q.set('filters', JSON.stringify(state.filters));
  const qs = q.toString();
  return location.pathname + (qs ? `?${qs}` : '') + location.hash;
}

export function writeUrl(state, push) {
  const url = urlFor(state);
  if (url === location.pathname + location.search + location.hash) return;
  if (push) history.pushState(null, '', url);
  else history.replaceState(null, '', url);
}

/** Adds a filter, replacing any filter on the same dimension. */
export function withFilter(filters, op, dim, value) {
  return [...filters.filter((f) => f[1] !== dim), [op, dim, [value]]];
}

/** A goal as a filter: its event name, or its page path (with * and **) as a regular expression. */
export function goalFilter(goal) {
  if (goal.type === 'event' || goal.eventName) return ['is', 'eventType', [goal.eventName]];
  const path = goal.pagePath || '';
  if (!path.includes('*')) return ['is', 'page', [path]];
  let re = '^';
  for (let i = 0; i < path.length; i++) {
    const c = path[i];
    if (c === '*') {
      if (path[i + 1] === '*') { re += '.*'; i++; } else re += '[^/]*';
    } else re += c.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
  }
  return ['matches', 'page', [`${re}$`]];
}
