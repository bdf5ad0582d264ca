// The tracking snippet (web/tracker.js, as the daemon serves it under /js/) in headless
// Chromium, on test pages at http://shop.test:PORT/ sending to the daemon at
// http://stats.test:PORT/: what it sends lands in PostgreSQL, what it must not send is not sent.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, before, test } from 'node:test';
import zlib from 'node:zlib';

import {
  OTHER_HOST, REPO, SHOP_HOST, createWebsite, html, launchBrowser, screenshot, servePages, signupAndLogin,
  sleep, startStack, waitFor,
} from './lib/harness.mjs';

const TRACKER = path.join(REPO, 'web/tracker.js');

let stack, site, pages, browser;

before(async () => {
  stack = await startStack();
  const token = await signupAndLogin(stack);
  site = await createWebsite(stack, token, { name: 'Shop', domain: SHOP_HOST });
  pages = await servePages();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await pages?.close();
  await stack?.stop();
});

// The snippet a site owner pastes, with extra data-* attributes (true: present without value).
function snippet(attrs = {}, file = 'script.js') {
  const all = { 'data-website-id': site.id, ...attrs };
  const list = Object.entries(all)
    .filter(([, v]) => v !== null && v !== undefined)
    .map(([k, v]) => (v === true ? k : `${k}="${v}"`));
  return `<script defer src="${stack.origin}/js/${file}" ${list.join(' ')}></script>`;
}

function page(route, { attrs, file, head = '', body = '', title, status } = {}) {
  pages.routes[route] = { status, body: html({ title: title || `Shop ${route}`, head: head + snippet(attrs, file), body }) };
  return pages.url(route);
}

// The stored events of the test website whose page matches a LIKE pattern, oldest first.
function events(pagePattern) {
  return stack.sql(`SELECT event_type, page, url, referrer, hostname, props, interactive, browser, device
                      FROM events WHERE website_id = '${site.id}' AND page LIKE '${pagePattern}'
                     ORDER BY ts, event_type`);
}

async function waitEvents(pagePattern, count, filter = () => true) {
  return waitFor(async () => {
    const rows = (await events(pagePattern)).filter(filter);
    return rows.length >= count && rows;
  }, 10000, `${count} event(s) under ${pagePattern}`);
}

// A fresh visitor (browser context) with one page; the tracking requests it sends are recorded.
async function visitor(t, options = {}) {
  const context = await browser.newVisitorContext(options);
  t.after(() => context.close());
  const tab = await context.newPage();
  tab.sent = [];
  tab.errors = [];
  tab.on('request', (req) => {
    if (req.method() === 'POST' && req.url().startsWith(stack.origin)) tab.sent.push(req);
  });
  tab.on('pageerror', (err) => tab.errors.push(String(err)));
  return { context, tab };
}

const trackerLoaded = (tab) => tab.waitForFunction(() => typeof window.metricpulse === 'function', null, { timeout: 10000 });

test('the snippet is served by the daemon as it is in web/tracker.js, under 1 KiB gzipped', async () => {
  const source = fs.readFileSync(TRACKER);
  // What `gzip -9 -c web/tracker.js | wc -c` says (with gzip's file-name header) …
  const gzipped = execFileSync('gzip', ['-9', '-c', TRACKER]);
  assert.ok(gzipped.length < 1024, `gzip -9 of web/tracker.js is ${gzipped.length} bytes`);
  assert.ok(zlib.gzipSync(source, { level: 9 }).length < 1024);

  // … and what the daemon sends a browser that accepts gzip.
  const served = await new Promise((resolve, reject) => {
    http.get(`http://127.0.0.1:${stack.httpPort}/js/script.js`, { headers: { 'Accept-Encoding': 'gzip' } }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ res, raw: Buffer.concat(chunks) }));
    }).on('error', reject);
  });
  assert.equal(served.res.statusCode, 200, `GET /js/script.js answered ${served.res.statusCode}`);
  assert.match(served.res.headers['content-type'] || '', /javascript/);
  const encoding = served.res.headers['content-encoding'];
  const body = encoding === 'gzip' ? zlib.gunzipSync(served.raw) : served.raw;
  assert.equal(body.toString(), source.toString(), 'the daemon serves web/tracker.js unchanged');
  if (encoding === 'gzip') assert.ok(served.raw.length < 1024, `served gzipped in ${served.raw.length} bytes`);
});

test('a page view lands in PostgreSQL with its URL (no fragment), referrer, browser and device',
  (t) => stack.guard(async () => {
    const url = page('/', { body: '<p>Welcome to the shop.</p><a href="/spa/">Catalogue</a>' });
    const { tab } = await visitor(t);
    await tab.goto(url + '?utm_source=newsletter#reviews', { referer: 'https://news.example.org/item?id=1' });
    const [view] = await waitEvents('/', 1);
    assert.equal(view.event_type, 'pageview');
    assert.equal(view.page, '/');
    assert.equal(view.url, `http://${SHOP_HOST}:${pages.port}/?utm_source=newsletter`);
    assert.match(view.referrer, /^https:\/\/news\.example\.org\//);
    assert.equal(view.hostname, SHOP_HOST);
    assert.equal(view.browser, 'Chrome');
    assert.equal(view.device, 'desktop');
    assert.equal(view.interactive, true);
    assert.equal(view.props, null);
    const [req] = tab.sent;
    assert.equal(req.url(), `${stack.origin}/track`);
    assert.match(req.headers()['content-type'], /^text\/plain/);
    assert.deepEqual(Object.keys(req.postDataJSON()).sort(), ['eventType', 'referrer', 'url', 'websiteId']);
    await screenshot(tab, 'tracker-pageview');
  })(t));

test('SPA navigation records one view per route change: pushState twice, then back', (t) => stack.guard(async () => {
  const url = page('/spa/', { body: '<nav><a href="/spa/pricing">Pricing</a> <a href="/spa/signup">Sign up</a></nav>' });
  const { tab } = await visitor(t);
  await tab.goto(url);
  await waitEvents('/spa/%', 1);
  await tab.evaluate(() => history.pushState({}, '', '/spa/pricing'));
  await waitEvents('/spa/%', 2);
  // Same path, other query: not a new page.
  await tab.evaluate(() => history.replaceState({}, '', '/spa/pricing?tab=yearly'));
  await tab.evaluate(() => history.pushState({}, '', '/spa/signup'));
  await waitEvents('/spa/%', 3);
  await tab.evaluate(() => history.back());
  await waitEvents('/spa/%', 4);
  await sleep(500);
  const rows = await events('/spa/%');
  assert.deepEqual(rows.map((r) => r.event_type), ['pageview', 'pageview', 'pageview', 'pageview']);
  assert.deepEqual(rows.map((r) => r.page), ['/spa/', '/spa/pricing', '/spa/signup', '/spa/pricing']);
  assert.equal(rows[3].url, pages.url('/spa/pricing?tab=yearly'));
  assert.equal(tab.sent.length, 4);
  // No referrer (a page opened directly): the field is left out.
  assert.deepEqual(Object.keys(tab.sent[0].postDataJSON()).sort(), ['eventType', 'url', 'websiteId']);
})(t));

test('custom events land with their props: metricpulse(), the queued stub, plausible() and umami.track()',
  (t) => stack.guard(async () => {
    const stub = `<script>
window.metricpulse = window.metricpulse || function () { (window.metricpulse.q = window.metricpulse.q || []).push(arguments) };
metricpulse('queued', { props: { early: true } });
</script>`;
    const url = page('/custom/', { head: stub, body: '<button id="buy">Buy</button>' });
    const { tab } = await visitor(t);
    await tab.goto(url);
    await trackerLoaded(tab);
    await waitEvents('/custom/', 2); // the page view and the queued event
    const calledBack = await tab.evaluate(() => new Promise((resolve) => {
      metricpulse('signup', { props: { plan: 'pro', seats: 3, trial: false }, callback: () => resolve(true) });
      setTimeout(() => resolve(false), 3000);
    }));
    assert.equal(calledBack, true, 'the callback is called');
    await tab.evaluate(() => metricpulse('Scrolled', { interactive: false }));
    await tab.evaluate(() => plausible('Plausible Call', { props: { via: 'plausible' } }));
    await tab.evaluate(() => umami.track('umami-call', { via: 'umami' }));
    const rows = await waitEvents('/custom/', 5, (r) => r.event_type !== 'pageview');
    const byType = Object.fromEntries(rows.map((r) => [r.event_type, r]));
    assert.deepEqual(Object.keys(byType).sort(), ['Plausible Call', 'Scrolled', 'queued', 'signup', 'umami-call']);
    assert.deepEqual(byType.queued.props, { early: true });
    assert.deepEqual(byType.signup.props, { plan: 'pro', seats: 3, trial: false });
    assert.equal(byType.signup.interactive, true);
    assert.equal(byType.Scrolled.interactive, false);
    assert.equal(byType.Scrolled.props, null);
    assert.deepEqual(byType['Plausible Call'].props, { via: 'plausible' });
    assert.deepEqual(byType['umami-call'].props, { via: 'umami' });
    for (const r of rows) assert.equal(r.url, url);
  })(t));

test('an outbound link click lands as "Outbound Link: Click" and the browser still goes there (extensions by file name)',
  (t) => stack.guard(async () => {
    const target = pages.url('/landing', OTHER_HOST);
    pages.routes['/landing'] = html({ title: 'Elsewhere' });
    const url = page('/links/', {
      file: 'script.outbound-links.file-downloads.js',
      body: `<a id="inside" href="#details">Details</a><br><a id="out" href="${target}">Partner</a><p id="details">Details</p>`,
    });
    const { tab } = await visitor(t);
    await tab.goto(url);
    await waitEvents('/links/', 1);
    await tab.click('#inside'); // same host: not outbound
    await tab.click('#out');
    await tab.waitForURL(target, { timeout: 10000 });
    assert.equal(await tab.title(), 'Elsewhere');
    const rows = await waitEvents('/links/', 1, (r) => r.event_type !== 'pageview');
    await sleep(300);
    const clicks = (await events('/links/')).filter((r) => r.event_type !== 'pageview');
    assert.equal(clicks.length, 1, JSON.stringify(clicks));
    assert.equal(rows[0].event_type, 'Outbound Link: Click');
    assert.deepEqual(rows[0].props, { url: target });
    assert.equal(rows[0].url, url);
    await screenshot(tab, 'tracker-outbound-landing');
  })(t));

test('a file download click lands as "File Download" (extensions by data-extensions)', (t) => stack.guard(async () => {
  pages.routes['/files/report.pdf'] = {
    type: 'application/pdf',
    headers: { 'Content-Disposition': 'attachment; filename="report.pdf"' },
    body: '%PDF-1.4\n%%EOF\n',
  };
  const url = page('/files/', {
    attrs: { 'data-extensions': 'outbound-links,file-downloads' },
    body: '<a id="pdf" href="/files/report.pdf">Annual report (PDF)</a> <a id="page" href="#top">Top</a>',
  });
  const { tab } = await visitor(t, { acceptDownloads: true });
  await tab.goto(url);
  await waitEvents('/files/', 1);
  await tab.click('#page');
  const [download] = await Promise.all([tab.waitForEvent('download'), tab.click('#pdf')]);
  assert.equal(download.suggestedFilename(), 'report.pdf');
  const [row] = await waitEvents('/files/', 1, (r) => r.event_type !== 'pageview');
  assert.equal(row.event_type, 'File Download');
  assert.deepEqual(row.props, { url: pages.url('/files/report.pdf') });
  await screenshot(tab, 'tracker-file-download');
})(t));

test('engagement sends one non-interactive event with the visible seconds per visible period', (t) => stack.guard(async () => {
  const url = page('/engage/', { attrs: { 'data-extensions': 'engagement' }, body: '<p>A long article.</p>' });
  const { tab } = await visitor(t);
  await tab.goto(url);
  await waitEvents('/engage/', 1);
  await sleep(1200);
  const setHidden = (hidden) => {
    Object.defineProperty(document, 'hidden', { configurable: true, get: () => hidden });
    Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => (hidden ? 'hidden' : 'visible') });
    document.dispatchEvent(new Event('visibilitychange'));
  };
  await tab.evaluate(setHidden, true);
  await tab.evaluate(setHidden, true); // still the same hidden period: nothing more
  const [first] = await waitEvents('/engage/', 1, (r) => r.event_type === 'engagement');
  assert.equal(first.interactive, false);
  assert.ok(first.props.seconds >= 1 && first.props.seconds < 30, JSON.stringify(first.props));
  // Visible again, then the tab is closed: the next period is sent on pagehide.
  await tab.evaluate(setHidden, false);
  await sleep(1100);
  await tab.evaluate(() => {
    delete document.hidden;
    delete document.visibilityState;
  });
  await tab.close({ runBeforeUnload: true });
  const rows = await waitEvents('/engage/', 2, (r) => r.event_type === 'engagement');
  await sleep(300);
  assert.equal((await events('/engage/')).filter((r) => r.event_type === 'engagement').length, 2);
  assert.equal(rows[1].interactive, false);
  assert.ok(rows[1].props.seconds >= 1, JSON.stringify(rows[1].props));
})(t));

test('the 404 extension sends "404" with the path, and hash mode keeps the fragment', (t) => stack.guard(async () => {
  const missing = page('/gone/old-page', { status: 404, attrs: { 'data-extensions': '404' }, title: 'Page not found' });
  const { tab } = await visitor(t);
  await tab.goto(missing);
  const rows = await waitEvents('/gone/%', 2);
  assert.deepEqual(rows.map((r) => r.event_type).sort(), ['404', 'pageview']);
  assert.deepEqual(rows.find((r) => r.event_type === '404').props, { path: '/gone/old-page' });

  const app = page('/app/', { attrs: { 'data-hash': true } });
  await tab.goto(app + '#/home');
  await waitEvents('/app/#%', 1);
  await tab.evaluate(() => { location.hash = '#/cart'; });
  // Each fragment is a page of its own.
  const views = await waitEvents('/app/#%', 2);
  assert.deepEqual(views.map((r) => r.url), [app + '#/home', app + '#/cart']);
  assert.deepEqual(views.map((r) => r.page), ['/app/#/home', '/app/#/cart']);
})(t));

test('when sendBeacon is missing or refuses, the event goes by fetch (text/plain)', (t) => stack.guard(async () => {
  const refused = page('/fallback/refused');
  const missing = page('/fallback/missing');
  const a = await visitor(t);
  await a.context.addInitScript(() => { Navigator.prototype.sendBeacon = () => false; });
  await a.tab.goto(refused);
  const b = await visitor(t);
  await b.context.addInitScript(() => { delete Navigator.prototype.sendBeacon; });
  await b.tab.goto(missing);
  const rows = await waitEvents('/fallback/%', 2);
  assert.deepEqual(rows.map((r) => r.page).sort(), ['/fallback/missing', '/fallback/refused']);
  for (const tab of [a.tab, b.tab]) {
    assert.equal(tab.sent.length, 1);
    assert.match(tab.sent[0].headers()['content-type'], /^text\/plain/);
  }
})(t));

test('nothing is sent from 127.0.0.1 or localhost without data-local; with it, it is', (t) => stack.guard(async () => {
  page('/local/');
  const { tab } = await visitor(t);
  for (const host of ['127.0.0.1', 'localhost']) {
    await tab.goto(pages.url('/local/', host));
    await trackerLoaded(tab);
    await tab.evaluate(() => metricpulse('local-event'));
    await sleep(500);
  }
  assert.equal(tab.sent.length, 0, 'no tracking request from a local page');

  page('/local-allowed/', { attrs: { 'data-local': true } });
  await tab.goto(pages.url('/local-allowed/', '127.0.0.1'));
  // Sent: the daemon refuses it (127.0.0.1 is not the website's domain), which is its business.
  await waitFor(() => tab.sent.length === 1, 5000, 'the page view of a page with data-local');
  assert.equal(tab.sent[0].postDataJSON().url, pages.url('/local-allowed/', '127.0.0.1'));
  const rows = await stack.sql(`SELECT count(*)::int AS n FROM events WHERE page LIKE '/local%'`);
  assert.equal(rows[0].n, 0);
})(t));

test('nothing is sent when localStorage.metricpulse_ignore is "true"', (t) => stack.guard(async () => {
  const url = page('/ignored/');
  const { context, tab } = await visitor(t);
  await context.addInitScript(() => localStorage.setItem('metricpulse_ignore', 'true'));
  await tab.goto(url);
  await trackerLoaded(tab);
  const calledBack = await tab.evaluate(() => new Promise((resolve) => {
    metricpulse('ignored-event', { callback: () => resolve(true) });
    setTimeout(() => resolve(false), 3000);
  }));
  assert.equal(calledBack, true, 'the callback is still called');
  await tab.evaluate(() => history.pushState({}, '', '/ignored/next'));
  await sleep(500);
  assert.equal(tab.sent.length, 0);
  assert.equal((await events('/ignored/%')).length, 0);
})(t));

test('the tracker never throws into the page, whatever the page does', (t) => stack.guard(async () => {
  const collector = `<script>
window.__errors = [];
addEventListener('error', (e) => __errors.push('error: ' + e.message));
addEventListener('unhandledrejection', (e) => __errors.push('rejection: ' + e.reason));
</script>`;
  // A copy pasted inline (no src) and a copy with a broken endpoint, besides the real one.
  const source = fs.readFileSync(TRACKER, 'utf8');
  const inline = `<script data-website-id="${site.id}">${source}</script>`;
  const url = page('/robust/', {
    head: collector + inline,
    attrs: { 'data-extensions': 'outbound-links file-downloads engagement 404 hash' },
    body: `<p id="text">Text</p><a id="nohref">No href</a>
<svg width="40" height="20"><a id="svglink" href="#svg"><rect width="40" height="20"/></a></svg>`,
  });
  const { tab } = await visitor(t);
  await tab.goto(url);
  await trackerLoaded(tab);
  await waitEvents('/robust/', 2); // page view and 404
  const nativeErrors = await tab.evaluate(() => {
    const cyclic = {};
    cyclic.self = cyclic;
    metricpulse();
    metricpulse('x', null);
    metricpulse('x', { props: cyclic });
    metricpulse('x', { callback: 'not a function' });
    metricpulse('x', { callback: () => { throw new Error('thrown by the callback'); } });
    metricpulse(undefined, undefined);
    plausible();
    umami.track();
    document.dispatchEvent(new MouseEvent('click', { bubbles: true }));
    window.dispatchEvent(new Event('pagehide'));
    document.dispatchEvent(new Event('visibilitychange'));
    window.dispatchEvent(new PopStateEvent('popstate'));
    history.pushState(null, '', '/robust/#section');
    history.replaceState(null, '', '/robust/');
    // The page's own errors still reach it: history is wrapped, not muted.
    const seen = [];
    try {
      history.pushState(null, '', 'https://example.org/elsewhere');
    } catch (e) {
      seen.push(e.name);
    }
    return seen;
  });
  assert.deepEqual(nativeErrors, ['SecurityError']);
  await tab.click('#text');
  await tab.click('#nohref');
  await tab.click('#svglink');
  await sleep(500);
  assert.deepEqual(await tab.evaluate(() => window.__errors), []);
  assert.deepEqual(tab.errors, []);
})(t));
