// The dashboard in headless Chromium against a real metricpulsed: log-in form, the numbers
// of the cards and panels against the stats API, filters (and the URL that keeps them), the
// live panel, share links, and screenshots in light and dark mode on desktop and phone sizes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startStack, api, launchBrowser, screenshot, waitFor, sleep,
} from './lib/harness.mjs';

const PASSWORD = 'dashboard e2e password';
const EMAIL = 'owner@dashboard.test';
const DOMAIN = 'dashboard-shop.test';
const TIME_ZONE = 'Europe/Berlin';
const USER_AGENTS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1',
  'Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15',
  'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36',
];
const REFERRERS = ['', 'https://www.google.com/', 'https://news.ycombinator.com/item?id=7', '', 'https://duckduckgo.com/', 'https://github.com/metricpulse'];
const JOURNEYS = [
  ['/', '/pricing', '/signup'], ['/blog/hello-world', '/'], ['/pricing'], ['/', '/docs', '/pricing', '/signup'],
  ['/'], ['/blog/privacy-by-design'], ['/docs', '/docs/install'], ['/', '/about'],
];

let stack;
let browser;
let token;
let site;
let seeded = 0;
const goals = {};
let funnel;
const problems = []; // console errors, CSP violations and page errors of every page opened

const ownerApi = (method, route, options = {}) => api(stack, method, route, { token, ...options });

async function stats(report, query) {
  const qs = new URLSearchParams(Object.entries(query).filter(([, v]) => v !== undefined)).toString();
  const res = await ownerApi('GET', `/stats/${site.id}/${report}?${qs}`);
  assert.equal(res.status, 200, `GET /stats/${report}?${qs}: ${JSON.stringify(res.body)}`);
  return res.body;
}

function watch(page, label) {
  page.on('console', (msg) => {
    const text = msg.text();
    // A 401 from GET /auth/me before logging in, and the 404 of a revoked share, are expected.
    if (msg.type() === 'error' && !/status of (401|404)/.test(text)) problems.push(`${label}: console ${text}`);
  });
  page.on('pageerror', (err) => problems.push(`${label}: page error ${err.message}`));
  return page;
}

// The range, filters and numbers the dashboard shows once it has loaded.
async function dashboardNumbers(page) {
  await page.waitForSelector('.dashboard[data-state="ready"]', { timeout: 15000 });
  return page.evaluate(() => {
    const dash = document.querySelector('.dashboard');
    const cards = {};
    for (const el of document.querySelectorAll('.card')) {
      const value = el.querySelector('.card-value').dataset.value;
      cards[el.dataset.metric] = value === undefined ? null : Number(value);
    }
    const rows = (sel) => [...document.querySelectorAll(sel)].map((r) => {
      const out = { key: r.dataset.key };
      for (const n of r.querySelectorAll('.num[data-metric]')) out[n.dataset.metric] = Number(n.dataset.value);
      return out;
    });
    return {
      from: dash.dataset.from,
      to: dash.dataset.to,
      filters: JSON.parse(dash.dataset.filters || '[]'),
      cards,
      pages: rows('#panel-pages[data-tab="top"] .row'),
      channels: rows('#panel-sources[data-tab="channels"] .row'),
      goals: rows('#panel-goals .row'),
      funnel: [...document.querySelectorAll('#panel-funnels .funnel-step')].map((s) => Number(s.dataset.visitors)),
      points: Number(document.querySelector('.chart')?.dataset.points),
    };
  });
}

const cardsOf = (block) => ({
  visitors: block.visitors, visits: block.visits, pageviews: block.pageviews,
  bounceRate: block.bounceRate, visitDuration: block.visitDuration,
});

// Compares what the page shows with what the API answers for the same range and filters; the
// stats cache may answer a moment older on one side, so the comparison is retried (reloading
// the page) until both agree.
async function expectSameNumbers(page, label, { panels = true } = {}) {
  let last = null;
  await waitFor(async () => {
    const shown = await dashboardNumbers(page);
    const base = { from: shown.from, to: shown.to, filters: shown.filters.length ? JSON.stringify(shown.filters) : undefined };
    const overview = await stats('overview', { ...base, compare: 'previous_period' });
    const expected = { cards: cardsOf(overview.range) };
    const got = { cards: shown.cards };
    if (panels) {
      const pages = await stats('top-pages', { ...base, limit: 10 });
      const channels = await stats('breakdown', { ...base, dimension: 'channel', limit: 10 });
      const goalReport = await stats('goals', base);
      const funnelReport = await stats(`funnels/${funnel.id}`, base);
      const interval = shown.from === shown.to ? 'hour' : 'day';
      const series = await stats('timeseries', { ...base, interval });
      expected.pages = pages.pages.map((p) => ({ key: p.page, visitors: p.visitors, pageviews: p.pageviews }));
      expected.channels = channels.rows.map((r) => ({ key: r.value, visitors: r.visitors, pageviews: r.pageviews }));
      expected.goals = goalReport.goals.map((g) => ({ key: g.goalId, visitors: g.visitors, events: g.events, conversionRate: g.conversionRate }));
      expected.funnel = funnelReport.steps.map((s) => s.visitors);
      expected.points = series.points.length;
      Object.assign(got, { pages: shown.pages, channels: shown.channels, goals: shown.goals, funnel: shown.funnel, points: shown.points });
    }
    last = { expected, got };
    if (JSON.stringify(expected) === JSON.stringify(got)) return shown;
    await page.reload();
    return false;
  }, 45000, `${label}: the page's numbers to equal the API's`).catch((err) => {
    assert.deepEqual(last?.got, last?.expected, `${label}: ${err.message}`);
    throw err;
  });
  return last.got;
}

function todayIn(tz) {
  const parts = new Intl.DateTimeFormat('en-CA', { timeZone: tz, year: 'numeric', month: '2-digit', day: '2-digit' }).formatToParts(new Date());
  const get = (t) => parts.find((p) => p.type === t).value;
  return `${get('year')}-${get('month')}-${get('day')}`;
}
const addDays = (day, n) => new Date(Date.parse(`${day}T00:00:00Z`) + n * 86400000).toISOString().slice(0, 10);

async function track(event) {
  const res = await ownerApi('POST', '/track', { body: { websiteId: site.id, ...event } });
  assert.equal(res.status, 202, `POST /track: ${JSON.stringify(res.body)}`);
}

before(async () => {
  stack = await startStack();
  const signup = await api(stack, 'POST', '/auth/signup', { body: { email: EMAIL, password: PASSWORD } });
  assert.equal(signup.status, 201, JSON.stringify(signup.body));
  const login = await api(stack, 'POST', '/auth/login', { body: { email: EMAIL, password: PASSWORD } });
  assert.equal(login.status, 200, JSON.stringify(login.body));
  token = login.body.accessToken;
  const created = await ownerApi('POST', '/websites', { body: { name: 'Dashboard Shop', domain: DOMAIN, timeZone: TIME_ZONE } });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  site = created.body;

  // Known visits over the last 27 days: server-side tracking with the owner's token sets the
  // address, the user agent and the time, so every number is determined by this loop. Some
  // visitors come back later the same day for a second visit.
  const now = Date.now();
  let n = 0;
  for (let day = 26; day >= 0; day--) {
    const visitors = 3 + Math.round(2.5 * Math.sin(day / 2.7) + (26 - day) / 6);
    for (let v = 0; v < visitors; v++, n++) {
      const ip = `198.51.${100 + (n % 20)}.${n % 250}`;
      const userAgent = USER_AGENTS[(n * 7) % USER_AGENTS.length];
      const start = now - day * 86400000 - 180 * 60000 - ((v * 47) % 600) * 60000;
      const visits = n % 4 === 1 ? 2 : 1;
      for (let k = 0; k < visits; k++) {
        const sessionId = `e2e-${day}-${v}-${k}`;
        let ts = start + k * 150 * 60000;
        const paths = JOURNEYS[(n * 5 + day + k * 3) % JOURNEYS.length];
        for (let i = 0; i < paths.length; i++) {
          const query = i === 0 && k === 0 && n % 6 === 0 ? '?utm_source=newsletter&utm_medium=email&utm_campaign=winter' : '';
          await track({
            url: `https://${DOMAIN}${paths[i]}${query}`, referrer: i === 0 && k === 0 ? REFERRERS[(n + day) % REFERRERS.length] : '',
            sessionId, ip, userAgent, timestamp: new Date(ts).toISOString(),
          });
          seeded++;
          if (paths[i] === '/signup' && n % 2 === 0) {
            await track({
              url: `https://${DOMAIN}/signup`, eventType: 'Signup', props: { plan: n % 4 === 0 ? 'pro' : 'free' },
              sessionId, ip, userAgent, timestamp: new Date(ts + 4000).toISOString(),
            });
            seeded++;
          }
          ts += 25000 + ((n * 13) % 90) * 1000;
        }
      }
    }
  }
  for (const [key, body] of [['pricing', { pagePath: '/pricing' }], ['signup', { eventName: 'Signup' }]]) {
    const res = await ownerApi('POST', `/websites/${site.id}/goals`, { body });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    goals[key] = res.body;
  }
  const f = await ownerApi('POST', `/websites/${site.id}/funnels`, { body: { name: 'Buy', steps: [goals.pricing.id, goals.signup.id] } });
  assert.equal(f.status, 201, JSON.stringify(f.body));
  funnel = f.body;
  // Every event is stored before any stats answer is cached.
  await waitFor(async () => {
    const [row] = await stack.sql(`SELECT count(*)::int AS n FROM events WHERE website_id = '${site.id}'`);
    return row.n === seeded;
  }, 20000, `${seeded} events to be stored`);

  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await stack?.stop();
});

test('the dashboard: log in, numbers, filters, live feed, share links, screenshots', async (t) => {
  const guard = stack.guard;
  const ctx = await browser.newVisitorContext({ viewport: { width: 1280, height: 800 }, colorScheme: 'light' });
  const page = watch(await ctx.newPage(), 'owner');

  await t.test('the page is served with its Content-Security-Policy and shows the log-in form', guard(async () => {
    const res = await page.goto(`${stack.origin}/`);
    assert.equal(res.status(), 200);
    const csp = res.headers()['content-security-policy'] || '';
    assert.match(csp, /script-src 'self'/, `CSP header: ${csp}`);
    await page.waitForSelector('#login-form', { timeout: 10000 });
    const config = await api(stack, 'GET', '/ui/config');
    assert.equal(config.status, 200);
    assert.match(config.body.wsUrl, /^wss?:\/\//);
  }));

  await t.test('a wrong password is refused with the API message', guard(async () => {
    await page.fill('#login-email', EMAIL);
    await page.fill('#login-password', 'not the password');
    await page.click('#login-form button[type=submit]');
    const error = await page.waitForSelector('#login-form .form-error:not([hidden])', { timeout: 10000 });
    assert.ok((await error.textContent()).trim().length > 0);
  }));

  await t.test('logging in through the form opens the dashboard of the last 30 days', guard(async () => {
    await page.fill('#login-email', EMAIL);
    await page.fill('#login-password', PASSWORD);
    await page.click('#login-form button[type=submit]');
    await page.waitForSelector('.dashboard', { timeout: 15000 });
    const cookies = await ctx.cookies();
    const session = cookies.find((c) => c.name === 'mp_session');
    assert.ok(session, `cookies: ${cookies.map((c) => c.name).join(', ')}`);
    assert.equal(session.httpOnly, true);
    const shown = await dashboardNumbers(page);
    const today = todayIn(TIME_ZONE);
    assert.equal(shown.to, today);
    assert.equal(shown.from, addDays(today, -29));
    assert.equal(await page.locator('#site-select').inputValue(), site.id);
  }));

  await t.test('cards, chart and panels show the API numbers for the same range', guard(async () => {
    const got = await expectSameNumbers(page, 'unfiltered');
    assert.ok(got.cards.visitors > 0 && got.cards.pageviews >= got.cards.visits, JSON.stringify(got.cards));
    assert.ok(got.pages.some((p) => p.key === '/pricing'), JSON.stringify(got.pages));
    assert.equal(got.points, 30);
  }));

  await t.test('the other periods ask the API for their own range', guard(async () => {
    await page.selectOption('#period', '7d');
    await waitFor(() => page.evaluate(() => new URLSearchParams(location.search).get('period') === '7d'), 5000, 'period=7d in the URL');
    const shown = await expectSameNumbers(page, 'last 7 days', { panels: false });
    assert.ok(shown.cards.visitors > 0);
    const week = await dashboardNumbers(page);
    assert.equal(week.from, addDays(todayIn(TIME_ZONE), -6));
    await page.selectOption('#period', 'today');
    const day = await dashboardNumbers(page);
    assert.equal(day.from, day.to);
    assert.equal(day.points >= 23 && day.points <= 25, true, `hourly points: ${day.points}`);
    await page.selectOption('#period', '30d');
    await waitFor(async () => (await dashboardNumbers(page)).from === addDays(todayIn(TIME_ZONE), -29), 10000, 'back to 30 days');
  }));

  await t.test('clicking a page row filters the whole dashboard, and the URL keeps the filter', guard(async () => {
    await page.click('#panel-pages .row[data-key="/pricing"]');
    await waitFor(async () => JSON.stringify((await dashboardNumbers(page)).filters) === JSON.stringify([['is', 'page', ['/pricing']]]),
      10000, 'the page filter');
    await page.waitForSelector('.chip[data-dimension="page"]');
    const filtered = await expectSameNumbers(page, 'page is /pricing');
    const range = await dashboardNumbers(page);
    const unfiltered = await stats('overview', { from: range.from, to: range.to });
    assert.ok(filtered.cards.visitors > 0);
    assert.ok(filtered.cards.visitors < unfiltered.range.visitors || unfiltered.range.visitors === 0,
      `filtered ${filtered.cards.visitors} vs all ${unfiltered.range.visitors}`);
    assert.deepEqual(filtered.pages.map((p) => p.key), ['/pricing']);
    const url = new URL(page.url());
    assert.deepEqual(JSON.parse(url.searchParams.get('filters')), [['is', 'page', ['/pricing']]]);

    // A reload (or the same URL elsewhere) restores the filter.
    await page.reload();
    await page.waitForSelector('.chip[data-dimension="page"]', { timeout: 10000 });
    await expectSameNumbers(page, 'page is /pricing after a reload', { panels: false });

    // A second filter on another dimension adds to the first; removing chips removes them.
    const channel = await page.locator('#panel-sources .row').first().getAttribute('data-key');
    await page.click(`#panel-sources .row[data-key="${channel}"]`);
    await waitFor(async () => (await dashboardNumbers(page)).filters.length === 2, 10000, 'two filters');
    await expectSameNumbers(page, 'page and channel', { panels: false });
    await page.click('.chip[data-dimension="channel"] .chip-remove');
    await page.click('.chip[data-dimension="page"] .chip-remove');
    await waitFor(async () => (await dashboardNumbers(page)).filters.length === 0, 10000, 'no filters');
    assert.equal(new URL(page.url()).searchParams.get('filters'), null);
  }));

  await t.test('keyboard: a focused row filters on Enter', guard(async () => {
    const row = page.locator('#panel-pages .row[data-key="/"]');
    await row.focus();
    await page.keyboard.press('Enter');
    await waitFor(async () => JSON.stringify((await dashboardNumbers(page)).filters) === JSON.stringify([['is', 'page', ['/']]]), 10000, 'the / filter');
    await page.click('.chip[data-dimension="page"] .chip-remove');
    await waitFor(async () => (await dashboardNumbers(page)).filters.length === 0, 10000, 'no filters');
  }));

  await t.test('a newly tracked event appears in the live panel within 1 s', guard(async () => {
    await page.waitForSelector('#live[data-status="live"]', { timeout: 15000 });
    // No other event is tracked while the page is open, so the page identifies this one.
    const path = '/checkout';
    const started = Date.now();
    await track({ url: `https://${DOMAIN}${path}`, ip: '203.0.113.9', userAgent: USER_AGENTS[0], sessionId: 'e2e-live' });
    await page.waitForSelector(`#live .live-item[data-page="${path}"]`, { timeout: 5000 });
    const elapsed = Date.now() - started;
    assert.ok(elapsed <= 1000, `the event took ${elapsed} ms to appear`);
    const first = await page.locator('#live .live-item').first().getAttribute('data-page');
    assert.equal(first, path, 'newest first');
    // The realtime count arrives by the feed (every 5 s) or from GET /stats/{id}/realtime. The
    // seeded visits were tracked with their own, older times: this session is the only one of
    // the last five minutes.
    await waitFor(async () => Number(await page.locator('.live-count').getAttribute('data-value')) === 1, 12000, 'exactly one active session');
    assert.equal(await page.locator('.live-label').textContent(), 'current visitor');
  }));

  await t.test('screenshots: desktop and phone, light and dark', guard(async () => {
    const state = await ctx.storageState();
    await page.locator('.chart').hover({ position: { x: 700, y: 120 } });
    await screenshot(page, 'dashboard-desktop-light');
    // Two weeks against the two weeks before: the cards' changes and the dashed comparison.
    const today = todayIn(TIME_ZONE);
    await page.goto(`${stack.origin}/?site=${site.id}&period=custom&from=${addDays(today, -13)}&to=${today}`);
    await dashboardNumbers(page);
    await page.locator('.chart').hover({ position: { x: 820, y: 120 } });
    await screenshot(page, 'dashboard-desktop-two-weeks');
    for (const [name, viewport, colorScheme] of [
      ['dashboard-desktop-dark', { width: 1280, height: 800 }, 'dark'],
      ['dashboard-phone-light', { width: 390, height: 844 }, 'light'],
      ['dashboard-phone-dark', { width: 390, height: 844 }, 'dark'],
    ]) {
      const phone = viewport.width < 500;
      const c = await browser.newVisitorContext({ storageState: state, viewport, colorScheme, isMobile: phone, hasTouch: phone, deviceScaleFactor: phone ? 2 : 1 });
      const p = watch(await c.newPage(), name);
      await p.goto(`${stack.origin}/?site=${site.id}`);
      await dashboardNumbers(p);
      const overflow = await p.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 0, `${name}: the page scrolls sideways by ${overflow} px`);
      await screenshot(p, name);
      await c.close();
    }
  }));

  let shareUrl;
  let shareToken;
  await t.test('a share link made in the settings shows the same numbers without logging in', guard(async () => {
    await page.click('#nav-settings');
    await page.waitForSelector('.settings[data-state="ready"]', { timeout: 10000 });
    const snippet = await page.locator('#snippet-code').textContent();
    assert.match(snippet, new RegExp(`data-website-id="${site.id}"`));
    await page.fill('#share-label', 'E2E link');
    await page.click('#share-form button[type=submit]');
    const input = page.locator('#share-list .share-url').first();
    await input.waitFor({ timeout: 10000 });
    shareUrl = await input.inputValue();
    assert.match(shareUrl, new RegExp(`^${stack.origin.replace(/[.]/g, '\\.')}/share/.+`));
    shareToken = decodeURIComponent(shareUrl.split('/share/')[1]);
    const info = await api(stack, 'GET', `/shares/${encodeURIComponent(shareToken)}`);
    assert.equal(info.status, 200, JSON.stringify(info.body));
    assert.equal(info.body.websiteId, site.id);
    await page.evaluate(() => window.scrollTo(0, 0));
    await screenshot(page, 'settings-desktop-light');

    const anon = await browser.newVisitorContext({ viewport: { width: 1280, height: 800 } });
    const sharePage = watch(await anon.newPage(), 'share');
    await sharePage.goto(shareUrl);
    await sharePage.waitForSelector('.dashboard', { timeout: 15000 });
    assert.equal((await anon.cookies()).some((c) => c.name === 'mp_session'), false);
    await expectSameNumbers(sharePage, 'share link');
    assert.equal(await sharePage.locator('#nav-settings').count(), 0, 'no settings on a share link');
    await sharePage.click('#panel-pages .row[data-key="/pricing"]');
    await waitFor(async () => (await dashboardNumbers(sharePage)).filters.length === 1, 10000, 'a filter on the share link');
    await expectSameNumbers(sharePage, 'share link, page is /pricing', { panels: false });
    await screenshot(sharePage, 'share-desktop-light');

    // Revoking it (the button asks once more) ends it at once.
    await page.click('#share-list .share-revoke');
    await page.click('#share-list .share-revoke');
    await page.waitForSelector('#share-list .empty', { timeout: 10000 });
    const gone = await api(stack, 'GET', `/shares/${encodeURIComponent(shareToken)}`);
    assert.equal(gone.status, 404, JSON.stringify(gone.body));
    await sharePage.reload();
    await sharePage.waitForSelector('[data-page="share-invalid"]', { timeout: 10000 });
    assert.match(await sharePage.locator('h1').textContent(), /not valid/);
    await screenshot(sharePage, 'share-revoked');
    await anon.close();
  }));

  await t.test('email reports are switched on in the settings', guard(async () => {
    assert.equal(await page.locator('#report-frequency').inputValue(), 'off');
    await page.selectOption('#report-frequency', 'weekly');
    await waitFor(async () => (await page.evaluate(async () => (await (await fetch('/auth/me')).json()).report)) === 'weekly',
      10000, 'PATCH /auth/me from the settings');
    await page.locator('#reports').scrollIntoViewIfNeeded();
    await screenshot(page, 'settings-email-reports');
    await page.reload();
    await page.waitForSelector('.settings[data-state="ready"]', { timeout: 10000 });
    assert.equal(await page.locator('#report-frequency').inputValue(), 'weekly', 'the choice is kept');
  }));

  await t.test('logging out ends the session', guard(async () => {
    await page.click('#logout');
    await page.waitForSelector('#login-form', { timeout: 10000 });
    assert.equal((await ctx.cookies()).some((c) => c.name === 'mp_session' && c.value), false);
    const me = await page.evaluate(async () => (await fetch('/auth/me')).status);
    assert.equal(me, 401);
  }));

  await ctx.close();
  await sleep(100);
  assert.deepEqual(problems, [], 'no console errors, CSP violations or page errors');
});
