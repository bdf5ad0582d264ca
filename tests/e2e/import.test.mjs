// Imported history as a site owner sees it: a Plausible export (hand-made from its documented
// columns) imported with `mpctl import`, then the dashboard of a range over those days, whose
// cards show the imported numbers and a note says which days are imported and what they lack.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';

import {
  REPO, SHOP_HOST, api, createWebsite, launchBrowser, screenshot, signupAndLogin, startStack, waitFor,
} from './lib/harness.mjs';

const MPCTL = process.env.MP_MPCTL || path.join(REPO, 'build/cli/mpctl');
const EMAIL = 'importer@example.com';
const PASSWORD = 'correct horse battery staple';

let stack, site, browser;

function mpctl(args) {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('MP_')));
  return new Promise((resolve) => {
    execFile(MPCTL, ['-c', stack.configPath, ...args], { env, timeout: 60000 }, (err, stdout, stderr) =>
      resolve({ code: err ? err.code : 0, stdout, stderr }));
  });
}

const day = (offset) => new Date(Date.now() + offset * 86400000).toISOString().slice(0, 10);

before(async () => {
  stack = await startStack();
  const token = await signupAndLogin(stack, EMAIL);
  site = await createWebsite(stack, token, { name: 'Corner Shop', domain: SHOP_HOST });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await stack?.stop();
});

test('imported days appear in the dashboard with a note on what they are', async () => {
  // Ten days of history ending a week ago: 100 visitors a day plus the day's number.
  const dir = path.join(stack.dir, 'plausible');
  fs.mkdirSync(dir);
  const days = Array.from({ length: 10 }, (_, i) => day(-16 + i));
  const visitors = ['date,visitors,pageviews,bounces,visits,visit_duration'];
  const pages = ['date,hostname,page,visits,visitors,pageviews'];
  let totalVisitors = 0;
  let totalPageviews = 0;
  days.forEach((d, i) => {
    const v = 100 + i;
    visitors.push(`${d},${v},${2 * v},${Math.floor(v / 2)},${v},${60 * v}`);
    pages.push(`${d},${SHOP_HOST},/,${v},${v},${v}`, `${d},${SHOP_HOST},/pricing,${v},${v},${v}`);
    totalVisitors += v;
    totalPageviews += 2 * v;
  });
  fs.writeFileSync(path.join(dir, 'imported_visitors.csv'), visitors.join('\n') + '\n');
  fs.writeFileSync(path.join(dir, 'imported_pages.csv'), pages.join('\n') + '\n');
  const r = await mpctl(['import', SHOP_HOST, '--from', 'plausible-csv', dir]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /days: +10/);

  const from = day(-20);
  const to = day(0);
  const context = await browser.newContext({ viewport: { width: 1280, height: 1000 } });
  const page = await context.newPage();
  await page.goto(`${stack.origin}/`);
  await page.waitForSelector('#login-form', { timeout: 10000 });
  await page.fill('#login-email', EMAIL);
  await page.fill('#login-password', PASSWORD);
  await page.click('#login-form button[type=submit]');
  await page.waitForSelector('.dashboard', { timeout: 15000 });
  await page.goto(`${stack.origin}/?site=${site.id}&period=custom&from=${from}&to=${to}`);
  const note = await page.waitForSelector('#imported-note:not([hidden])', { timeout: 15000 });
  const text = await note.innerText();
  assert.match(text, /Includes 10 imported days/);
  // The cards hold the imported numbers (the API's, which the integration tests check exactly).
  const overview = (await api(stack, 'GET', `/stats/${site.id}/overview?from=${from}&to=${to}`,
    { token: await signupAndLoginToken() })).body;
  assert.equal(overview.range.visitors, totalVisitors);
  assert.equal(overview.range.pageviews, totalPageviews);
  await waitFor(async () => (await page.locator('.dashboard').innerText()).includes(totalVisitors.toLocaleString('en-US')),
    10000, `the visitors card showing ${totalVisitors}`);
  await screenshot(page, 'dashboard-imported-history');
  await context.close();
});

async function signupAndLoginToken() {
  const login = await api(stack, 'POST', '/auth/login', { body: { email: EMAIL, password: PASSWORD } });
  assert.equal(login.status, 200, JSON.stringify(login.body));
  return login.body.accessToken;
}
