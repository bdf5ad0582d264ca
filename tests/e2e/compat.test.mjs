// Sites moving from Plausible or Umami keep their trackers: Plausible's npm tracker (bundled
// by esbuild into a test page, in headless Chromium) posts to /api/event, Umami's Node client
// to /api/send, and the snippet with only data-domain posts Plausible's payload; the events
// land as the native ones do.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import esbuild from 'esbuild';
import { Umami } from '@umami/node';

import {
  E2E_DIR, SHOP_HOST, createWebsite, html, launchBrowser, screenshot, servePages, signupAndLogin, sleep,
  startStack, waitFor,
} from './lib/harness.mjs';

let stack, site, pages, browser, plausibleBundle;

before(async () => {
  stack = await startStack();
  const token = await signupAndLogin(stack);
  site = await createWebsite(stack, token, { name: 'Shop', domain: SHOP_HOST });
  pages = await servePages();
  browser = await launchBrowser();
  // plausible-tracker as a site's own bundle would hold it: one IIFE exposing Plausible().
  const built = await esbuild.build({
    stdin: {
      contents: "import Plausible from 'plausible-tracker';\nwindow.Plausible = Plausible;\n",
      resolveDir: E2E_DIR,
      loader: 'js',
    },
    bundle: true,
    format: 'iife',
    target: 'es2017',
    write: false,
    logLevel: 'silent',
  });
  plausibleBundle = built.outputFiles[0].text;
});

after(async () => {
  await browser?.close();
  await pages?.close();
  await stack?.stop();
});

function events(where) {
  return stack.sql(`SELECT event_type, page, url, referrer, hostname, props, interactive
                      FROM events WHERE website_id = '${site.id}' AND ${where}
                     ORDER BY ts, event_type`);
}

function waitEvents(where, count) {
  return waitFor(async () => {
    const rows = await events(where);
    return rows.length >= count && rows;
  }, 10000, `${count} event(s) where ${where}`);
}

async function visitor(t) {
  const context = await browser.newVisitorContext();
  t.after(() => context.close());
  const tab = await context.newPage();
  tab.answers = [];
  tab.on('response', async (res) => {
    if (res.request().method() === 'POST' && res.url().startsWith(stack.origin)) {
      tab.answers.push({ url: res.url(), status: res.status(), body: await res.text().catch(() => null) });
    }
  });
  return { context, tab };
}

test("plausible-tracker's page view and custom event reach /api/event and land", (t) => stack.guard(async () => {
  pages.routes['/plausible.js'] = { type: 'text/javascript', body: plausibleBundle };
  pages.routes['/from-plausible/'] = html({
    title: 'Plausible tracker',
    head: '<script src="/plausible.js"></script>',
    body: '<p>Tracked by the plausible-tracker package.</p>',
  });
  const { tab } = await visitor(t);
  await tab.goto(pages.url('/from-plausible/?ref=hn'), { referer: 'https://news.example.org/' });
  const callbacks = await tab.evaluate((apiHost) => {
    const plausible = window.Plausible({ domain: 'shop.test', apiHost, trackLocalhost: true });
    const sent = (fn) => new Promise((resolve) => {
      fn(() => resolve(true));
      setTimeout(() => resolve(false), 5000);
    });
    return Promise.all([
      sent((callback) => plausible.trackPageview({}, { callback })),
      sent((callback) => plausible.trackEvent('Signup', { props: { plan: 'pro' }, callback })),
    ]);
  }, stack.origin);
  assert.deepEqual(callbacks, [true, true]);
  const rows = await waitEvents("page = '/from-plausible/'", 2);
  const byType = Object.fromEntries(rows.map((r) => [r.event_type, r]));
  assert.deepEqual(Object.keys(byType).sort(), ['Signup', 'pageview']);
  assert.equal(byType.pageview.url, pages.url('/from-plausible/?ref=hn'));
  assert.equal(byType.pageview.hostname, SHOP_HOST);
  assert.match(byType.pageview.referrer || '', /^https:\/\/news\.example\.org\//);
  assert.equal(byType.pageview.props, null);
  assert.deepEqual(byType.Signup.props, { plan: 'pro' });
  // Playwright reports each answer (and reads its body) on its own schedule, which can come
  // after the events are already stored: wait for both rather than race them.
  const answers = await waitFor(() => tab.answers.length >= 2 && tab.answers, 5000,
    'the answers to both requests');
  assert.equal(answers.length, 2);
  for (const answer of answers) {
    assert.equal(answer.url, `${stack.origin}/api/event`);
    assert.equal(answer.status, 202);
    assert.equal(answer.body, 'ok');
  }
  await screenshot(tab, 'compat-plausible-tracker');
})(t));

test('the snippet with only data-domain posts Plausible\'s payload to /api/event', (t) => stack.guard(async () => {
  pages.routes['/plausible-snippet/'] = html({
    title: 'Plausible snippet',
    head: `<script defer data-domain="${SHOP_HOST}" src="${stack.origin}/js/script.js"></script>`,
  });
  const { tab } = await visitor(t);
  const posted = [];
  tab.on('request', (req) => {
    if (req.method() === 'POST' && req.url().startsWith(stack.origin)) posted.push(req);
  });
  await tab.goto(pages.url('/plausible-snippet/'));
  await tab.waitForFunction(() => typeof window.plausible === 'function');
  await tab.evaluate(() => plausible('Signup', { props: { plan: 'team' } }));
  await tab.evaluate(() => plausible('Read', { interactive: false }));
  const rows = await waitEvents("page = '/plausible-snippet/'", 3);
  assert.deepEqual(rows.map((r) => r.event_type).sort(), ['Read', 'Signup', 'pageview']);
  const byType = Object.fromEntries(rows.map((r) => [r.event_type, r]));
  assert.deepEqual(byType.Signup.props, { plan: 'team' });
  assert.equal(byType.Read.interactive, false);
  assert.equal(byType.pageview.url, pages.url('/plausible-snippet/'));
  assert.equal(posted.length, 3);
  const first = posted[0].postDataJSON();
  assert.equal(posted[0].url(), `${stack.origin}/api/event`);
  assert.deepEqual(first, { n: 'pageview', u: pages.url('/plausible-snippet/'), d: SHOP_HOST, r: null, h: 0 });
})(t));

test("Umami's Node client: a page view and a named event with data reach /api/send and land",
  (t) => stack.guard(async () => {
    // The package's default export is this class's instance; under ESM import, its CommonJS
    // build hands over the exports object instead, so the client is made here.
    const umami = new Umami();
    umami.init({ websiteId: site.id, hostUrl: stack.apiUrl });
    const view = await umami.track({
      url: '/pricing',
      hostname: SHOP_HOST,
      referrer: 'https://search.example.com/?q=analytics',
      title: 'Pricing',
      language: 'en-US',
      screen: '1920x1080',
    });
    assert.equal(view.status, 202, await view.clone().text());
    const named = await umami.track({
      url: '/pricing',
      hostname: SHOP_HOST,
      title: 'Pricing',
      name: 'checkout',
      data: { plan: 'pro', seats: 5, annual: true },
    });
    assert.equal(named.status, 202, await named.clone().text());
    const rows = await waitEvents("page = '/pricing'", 2);
    const byType = Object.fromEntries(rows.map((r) => [r.event_type, r]));
    assert.deepEqual(Object.keys(byType).sort(), ['checkout', 'pageview']);
    assert.equal(byType.pageview.hostname, SHOP_HOST);
    assert.match(byType.pageview.url, /^https?:\/\/shop\.test\/pricing$/);
    assert.equal(byType.pageview.referrer, 'https://search.example.com/?q=analytics');
    assert.deepEqual(byType.checkout.props, { plan: 'pro', seats: 5, annual: true });
    // Nothing else arrived (a stray pageview for the named event, say).
    await sleep(300);
    assert.equal((await events("page = '/pricing'")).length, 2);
  })(t));
