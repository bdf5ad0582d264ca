// Number, duration and date formatting, and the date ranges of the picker.

const intFmt = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
const decFmt = new Intl.NumberFormat(undefined, { maximumFractionDigits: 2 });
const compactFmt = new Intl.NumberFormat(undefined, { notation: 'compact', maximumFractionDigits: 1 });

export const fmtInt = (n) => intFmt.format(n ?? 0);
export const fmtDec = (n) => decFmt.format(n ?? 0);
/** Large numbers as 12.3k; the exact number belongs in a title or data-value next to it. */
export const fmtCompact = (n) => (Math.abs(n ?? 0) >= 10000 ? compactFmt.format(n) : intFmt.format(n ?? 0));
export const fmtPercent = (n) => `${decFmt.format(n ?? 0)}%`;

const pad2 = (n) => String(n).padStart(2, '0');
/** Seconds as m:ss, or h:mm:ss from an hour on. */
export function fmtDuration(seconds) {
  const t = Math.max(0, Math.round(seconds ?? 0));
  const h = Math.floor(t / 3600);
  const m = Math.floor((t % 3600) / 60);
  const sec = t % 60;
  return h ? `${h}:${pad2(m)}:${pad2(sec)}` : `${m}:${pad2(sec)}`;
}

/** The metrics a card or chart can show. */
export const METRICS = {
  visitors: { label: 'Unique visitors', short: 'Visitors', format: fmtCompact, exact: fmtInt },
  visits: { label: 'Total visits', short: 'Visits', format: fmtCompact, exact: fmtInt },
  pageviews: { label: 'Total pageviews', short: 'Pageviews', format: fmtCompact, exact: fmtInt },
  bounceRate: { label: 'Bounce rate', short: 'Bounce rate', format: (n) => `${fmtInt(n)}%`, exact: (n) => `${fmtInt(n)}%`, lowerIsBetter: true },
  visitDuration: { label: 'Visit duration', short: 'Duration', format: fmtDuration, exact: fmtDuration },
};

/** Relative change in percent, or null when there is nothing to compare with. */
export function percentChange(current, previous) {
  if (previous === undefined || previous === null) return null;
  if (previous === 0) return current === 0 ? 0 : null;
  return ((current - previous) / previous) * 100;
}

// ---- Dates. A day is 'YYYY-MM-DD' of the website's time zone; arithmetic is done in UTC. ----

export function validTimeZone(tz) {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

export function todayIn(tz) {
  const zone = validTimeZone(tz) ? tz : 'UTC';
  const parts = new Intl.DateTimeFormat('en-CA', { timeZone: zone, year: 'numeric', month: '2-digit', day: '2-digit' }).formatToParts(new Date());
  const get = (t) => parts.find((p) => p.type === t).value;
  return `${get('year')}-${get('month')}-${get('day')}`;
}

const toDate = (day) => new Date(`${day}T00:00:00Z`);
const toDay = (date) => date.toISOString().slice(0, 10);
export const isDay = (v) => typeof v === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(v) && !Number.isNaN(toDate(v).getTime()) && toDay(toDate(v)) === v;

export function addDays(day, n) {
  const d = toDate(day);
  d.setUTCDate(d.getUTCDate() + n);
  return toDay(d);
}

function monthStart(day, monthsBack = 0) {
  const d = toDate(day);
  return toDay(new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() - monthsBack, 1)));
}

export function daysBetween(from, to) {
  return Math.round((toDate(to) - toDate(from)) / 86400000) + 1;
}

export const PERIODS = [
  { id: 'today', label: 'Today' },
  { id: 'yesterday', label: 'Yesterday' },
  { id: '7d', label: 'Last 7 days' },
  { id: '30d', label: 'Last 30 days' },
  { id: 'month', label: 'This month' },
  { id: 'lastmonth', label: 'Last month' },
  { id: '12mo', label: 'Last 12 months' },
  { id: 'custom', label: 'Custom range' },
];
export const DEFAULT_PERIOD = '30d';

/** {from, to} of a period in the zone tz; custom uses from/to as given. */
export function periodRange(period, tz, from, to) {
  const today = todayIn(tz);
  switch (period) {
    case 'today': return { from: today, to: today };
    case 'yesterday': { const y = addDays(today, -1); return { from: y, to: y }; }
    case '7d': return { from: addDays(today, -6), to: today };
    case 'month': return { from: monthStart(today), to: today };
    case 'lastmonth': { const start = monthStart(today, 1); return { from: start, to: addDays(monthStart(today), -1) }; }
    case '12mo': return { from: monthStart(today, 11), to: today };
    case 'custom':
      if (isDay(from) && isDay(to)) return from <= to ? { from, to } : { from: to, to: from };
      return { from: addDays(today, -29), to: today };
    case '30d':
    default: return { from: addDays(today, -29), to: today };
  }
}

const dayFmt = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric', timeZone: 'UTC' });
const dayYearFmt = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric', year: 'numeric', timeZone: 'UTC' });
const weekdayFmt = new Intl.DateTimeFormat(undefined, { weekday: 'short', month: 'short', day: 'numeric', year: 'numeric', timeZone: 'UTC' });

export const fmtDay = (day) => dayFmt.format(toDate(day));
export const fmtDayLong = (day) => weekdayFmt.format(toDate(day));

export function fmtRange(from, to) {
  if (from === to) return dayYearFmt.format(toDate(from));
  const sameYear = from.slice(0, 4) === to.slice(0, 4);
  return `${(sameYear ? dayFmt : dayYearFmt).format(toDate(from))} – ${dayYearFmt.format(toDate(to))}`;
}

const hourFmts = new Map();
/** An hourly bucket (an RFC 3339 instant) as the hour of the website's zone, 14:00. */
export function fmtHour(instant, tz) {
  const zone = validTimeZone(tz) ? tz : 'UTC';
  if (!hourFmts.has(zone)) hourFmts.set(zone, new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', hourCycle: 'h23', timeZone: zone }));
  return hourFmts.get(zone).format(new Date(instant));
}

const timeFmt = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' });
export const fmtTime = (instant) => timeFmt.format(new Date(instant));
const dateTimeFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
export const fmtDateTime = (instant) => dateTimeFmt.format(new Date(instant));

let regionNames = null;
try { regionNames = new Intl.DisplayNames(undefined, { type: 'region' }); } catch { regionNames = null; }
export function countryName(code) {
  if (!code) return 'Unknown';
  try { return regionNames?.of(code.toUpperCase()) || code; } catch { return code; }
}
export function countryFlag(code) {
  if (!code || !/^[A-Za-z]{2}$/.test(code)) return '🌐';
  return String.fromCodePoint(...code.toUpperCase().split('').map((c) => 0x1f1e6 + c.charCodeAt(0) - 65));
}
