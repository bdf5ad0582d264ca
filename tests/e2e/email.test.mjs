// The email report as its reader sees it: events tracked through the daemon, an owner who
// opted in with PATCH /auth/me, `mpctl report send` to a real SMTP server
// (tests/support/smtp_server.py), and the HTML part that arrived opened in Debian's Chromium at
// a mail client's width and a phone's, where its numbers must be the stats API's.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';

import {
  REPO, SHOP_HOST, api, createWebsite, freePort, launchBrowser, screenshot, signupAndLogin, sleep,
  startStack, waitFor,
} from './lib/harness.mjs';

const MPCTL = process.env.MP_MPCTL || path.join(REPO, 'build/cli/mpctl');
const EMAIL = 'reader@example.com';
const CHROME_UA = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36';
const FIREFOX_UA = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0';

let stack, site, token, browser, smtp, smtpOut;

function mpctl(args, configPath) {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('MP_')));
  env.TZ = 'UTC';
  return new Promise((resolve) => {
    execFile(MPCTL, ['-c', configPath, ...args], { env, timeout: 60000 }, (err, stdout, stderr) =>
      resolve({ code: err ? err.code : 0, stdout, stderr }));
  });
}

before(async () => {
  stack = await startStack();
  token = await signupAndLogin(stack, EMAIL);
  site = await createWebsite(stack, token, { name: 'Corner Shop', domain: SHOP_HOST });
  const port = await freePort();
  smtpOut = path.join(stack.dir, 'mail.jsonl');
  smtp = spawn('/usr/bin/python3', [path.join(REPO, 'tests/support/smtp_server.py'), '--port', String(port), '--out', smtpOut],
    { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise((resolve, reject) => {
    smtp.stdout.on('data', (d) => { if (String(d).includes('ready')) resolve(); });
    smtp.on('exit', (code) => reject(new Error(`the SMTP server exited with ${code}`)));
  });
  smtp.port = port;
  browser = await launchBrowser();
});

after(async () => {
  smtp?.kill('SIGTERM');
  await browser?.close();
  await stack?.stop();
});

test('the report that arrives shows the stats of the day, readable on a desktop and a phone', async () => {
  // Two visitors today: one reads three pages, one comes from a search engine and leaves.
  const track = (page, userAgent, referrer = '') => fetch(`${stack.apiUrl}/track`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'User-Agent': userAgent },
    body: JSON.stringify({ websiteId: site.id, url: `https://${SHOP_HOST}${page}`, referrer }),
  }).then((r) => assert.equal(r.status, 202));
  await track('/', CHROME_UA);
  await track('/pricing', CHROME_UA);
  await track('/checkout', CHROME_UA);
  await track('/', FIREFOX_UA, 'https://www.google.com/');
  await waitFor(async () => Number((await stack.sql(`SELECT count(*) AS n FROM events`))[0].n) === 4, 10000, 'four stored events');

  const me = await api(stack, 'PATCH', '/auth/me', { token, body: { report: 'daily' } });
  assert.equal(me.status, 200, JSON.stringify(me.body));
  assert.equal(me.body.report, 'daily');

  // "Yesterday" of tomorrow is today, whose events were just tracked.
  const today = new Date().toISOString().slice(0, 10);
  const tomorrow = new Date(Date.now() + 86400000).toISOString().slice(0, 10);
  const config = path.join(stack.dir, 'report.toml');
  fs.writeFileSync(config, fs.readFileSync(stack.configPath, 'utf8') + [
    '', '[email]', `url = "smtp://127.0.0.1:${smtp.port}"`, 'from = "MetricPulse <reports@stats.test>"',
    'starttls = "never"', `dashboard_url = "${stack.origin}"`, ''].join('\n'));
  const sent = await mpctl(['report', 'send', '--as-of', tomorrow], config);
  assert.equal(sent.code, 0, sent.stdout + sent.stderr);
  assert.match(sent.stdout, /1 sent/);
  const mail = await waitFor(() => fs.existsSync(smtpOut) && fs.readFileSync(smtpOut, 'utf8').trim().split('\n').map((l) => JSON.parse(l)), 5000, 'the message');
  assert.equal(mail.length, 1);
  assert.deepEqual(mail[0].rcptTos, [EMAIL]);
  assert.match(mail[0].subject, new RegExp(`^${SHOP_HOST}: Daily report`));

  // The numbers the stats API gives for the same day.
  const overview = (await api(stack, 'GET', `/stats/${site.id}/overview?from=${today}&to=${today}`, { token })).body.range;
  assert.equal(overview.visitors, 2);
  assert.equal(overview.pageviews, 4);

  const context = await browser.newContext({ viewport: { width: 800, height: 900 }, javaScriptEnabled: false });
  const page = await context.newPage();
  await page.setContent(mail[0].html, { waitUntil: 'load' });
  const text = await page.locator('body').innerText();
  assert.match(text, /Daily report/);
  assert.match(text, /Corner Shop/);
  const row = async (label) => (await page.locator('tr', { hasText: label }).first().innerText()).replace(/\s+/g, ' ');
  assert.match(await row('Visitors'), new RegExp(`Visitors ${overview.visitors} `));
  assert.match(await row('Page views'), new RegExp(`Page views ${overview.pageviews} `));
  assert.match(await row('Bounce rate'), new RegExp(`Bounce rate ${overview.bounceRate}%`));
  assert.match(text, /\/pricing\s+1 view\b/);
  assert.match(text, /Google\s+1 visitor\b/);
  const link = await page.locator('a', { hasText: 'Open the dashboard' }).getAttribute('href');
  assert.equal(link, `${stack.origin}/?site=${site.id}&period=custom&from=${today}&to=${today}`);
  await screenshot(page, 'email-report-desktop');

  await page.setViewportSize({ width: 375, height: 800 });
  await sleep(100);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `the report scrolls sideways on a phone by ${overflow} px`);
  await screenshot(page, 'email-report-phone');
  await context.close();

  // The same run again sends nothing new.
  const again = await mpctl(['report', 'send', '--as-of', tomorrow], config);
  assert.equal(again.code, 0, again.stdout + again.stderr);
  assert.match(again.stdout, /0 sent, 1 already sent before/);
  assert.equal(fs.readFileSync(smtpOut, 'utf8').trim().split('\n').length, 1);
});
