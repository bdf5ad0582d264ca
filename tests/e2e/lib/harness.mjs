// The end-to-end harness: a throwaway database on the test PostgreSQL, a private redis-server,
// a metricpulsed started on free ports with a generated configuration (as tests/support/daemon.cpp
// does), the HTTP API helpers, headless Chromium, a static server for test pages and screenshots.
//
// Redis is private because the ingest queue is one stream (mp:ingest) read by the writers of
// every daemon sharing a Redis: on a shared one, another test's daemon could take these events
// and write them to its own database.
import { execFile, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const E2E_DIR = path.join(REPO, 'tests/e2e');
export const ARTIFACTS = path.join(REPO, 'build/e2e-artifacts');

const METRICPULSED = process.env.MP_METRICPULSED || path.join(REPO, 'build/daemon/metricpulsed');
const MPCTL = process.env.MP_MPCTL || path.join(REPO, 'build/cli/mpctl');
const CHROMIUM = process.env.MP_CHROMIUM || '/usr/bin/chromium';

// Every test page and the daemon are reached under these names (mapped to 127.0.0.1 in the
// browser), so the page and the tracking endpoint are cross-origin, as in production.
export const SHOP_HOST = 'shop.test';
export const STATS_HOST = 'stats.test';
export const OTHER_HOST = 'elsewhere.test';

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function requiredEnv(name) {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} is not set: run the e2e tests through scripts/test (or source var/test.env)`);
  }
  return value;
}

// Polls fn until it returns a truthy value (which is returned); fails after timeoutMs with the
// last value or error it saw.
export async function waitFor(fn, timeoutMs = 10000, what = 'condition') {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const value = await fn();
      if (value) return value;
      last = value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      const detail = last instanceof Error ? last.message : JSON.stringify(last);
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${detail})`);
    }
    await sleep(100);
  }
}

// The environment of the daemon and mpctl: without MP_* variables, some of which override the
// configuration file (MP_DATABASE_URL, MP_HTTP_LISTEN, …) and would send them elsewhere.
const daemonEnv = () => Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('MP_')));

function run(file, args, { input, timeoutMs = 60000, env } = {}) {
  return new Promise((resolve, reject) => {
    const child = execFile(file, args, { timeout: timeoutMs, maxBuffer: 64 << 20, env }, (err, stdout, stderr) => {
      if (err) {
        reject(new Error(`${path.basename(file)} ${args.filter((a) => !a.includes('://')).join(' ')} failed: ` +
          `${err.message}\n${stderr}${stdout}`));
      } else {
        resolve(stdout);
      }
    });
    if (input !== undefined) child.stdin.end(input);
  });
}

// Runs SQL through psql (-X: no psqlrc; ON_ERROR_STOP: a failing statement fails the call).
export function psql(url, sqlText) {
  return run('psql', [url, '-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1'], { input: sqlText });
}

const rowsOf = (select) => `SELECT coalesce(json_agg(q), '[]') FROM (${select}) q;`;

// The rows of one SELECT as objects (through json_agg, so numbers, booleans and jsonb keep
// their types).
export async function queryRows(url, select) {
  const out = await psql(url, rowsOf(select) + '\n');
  return JSON.parse(out.trim());
}

// One psql kept open for many queries (a psql per poll would cost a connection each time).
// Each query is followed by a marker on stdout (\echo) and one on stderr (\warn): what comes
// before them is the query's answer and its errors.
export function psqlSession(url) {
  const child = spawn('psql', [url, '-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=0'], { stdio: 'pipe' });
  const marker = `--mp-e2e-${randomBytes(6).toString('hex')}--`;
  const streams = { out: '', err: '' };
  let waiting = null;
  let closed = false;
  const check = () => {
    if (!waiting) return;
    const out = streams.out.indexOf(marker + '\n');
    const err = streams.err.indexOf(marker + '\n');
    if (out < 0 || err < 0) return;
    const answer = { out: streams.out.slice(0, out), err: streams.err.slice(0, err) };
    streams.out = streams.out.slice(out + marker.length + 1);
    streams.err = streams.err.slice(err + marker.length + 1);
    const { resolve } = waiting;
    waiting = null;
    resolve(answer);
  };
  child.stdout.setEncoding('utf8').on('data', (d) => { streams.out += d; check(); });
  child.stderr.setEncoding('utf8').on('data', (d) => { streams.err += d; check(); });
  child.on('exit', () => {
    closed = true;
    if (waiting) waiting.reject(new Error(`psql exited: ${streams.err}`));
  });
  child.on('error', () => {});
  let chain = Promise.resolve();
  const send = (text) => {
    const run = chain.then(() => new Promise((resolve, reject) => {
      if (closed) return reject(new Error(`psql exited: ${streams.err}`));
      waiting = { resolve, reject };
      child.stdin.write(`${text}\n\\echo ${marker}\n\\warn ${marker}\n`);
    })).then(({ out, err }) => {
      if (/^(ERROR|FATAL|psql:)/m.test(err)) throw new Error(`SQL failed: ${err.trim()}\n${text}`);
      return out;
    });
    chain = run.catch(() => {});
    return run;
  };
  return {
    rows: async (select) => JSON.parse((await send(rowsOf(select))).trim()),
    exec: (statements) => send(statements),
    close: () => {
      if (!closed) child.stdin.end();
    },
  };
}

// A TCP port on 127.0.0.1 that was free a moment ago; never the same one twice in a process.
const givenPorts = new Set();
export async function freePort() {
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = await new Promise((resolve, reject) => {
      const server = net.createServer();
      server.unref();
      server.on('error', reject);
      server.listen(0, '127.0.0.1', () => {
        const { port } = server.address();
        server.close(() => resolve(port));
      });
    });
    if (!givenPorts.has(port)) {
      givenPorts.add(port);
      return port;
    }
  }
  throw new Error('no unused loopback port found');
}

const tomlString = (s) => JSON.stringify(String(s)); // a TOML basic string

function databaseUrl(adminUrl, name) {
  const url = new URL(adminUrl);
  url.pathname = '/' + name;
  return url.toString();
}

// What a test process leaves running is ended when it exits, even on a failure or a signal
// (ctest's timeout): the processes are killed and the database dropped.
const leftovers = new Set();
process.on('exit', () => {
  for (const { children, adminUrl, dbName } of leftovers) {
    for (const child of children()) {
      try {
        child.kill('SIGKILL');
      } catch {
        // already gone
      }
    }
    try {
      execFileSync('psql', [adminUrl, '-X', '-q', '-c', `DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`],
        { stdio: 'ignore', timeout: 10000 });
    } catch {
      // nothing more to do on the way out
    }
  }
});
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => process.exit(128 + os.constants.signals[signal]));
}

// A redis-server of our own on a free port (append-only, as the daemon's queue expects).
async function startRedis(dir) {
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir,
    '--save', '', '--appendonly', 'yes', '--daemonize', 'no'], { stdio: 'ignore' });
  let exited = false;
  const exitPromise = new Promise((resolve) => child.on('exit', () => resolve((exited = true))));
  child.on('error', () => {}); // reported below as not answering
  const redis = {
    child,
    url: `redis://127.0.0.1:${port}`,
    stop: async () => {
      if (!exited) {
        child.kill('SIGTERM');
        await Promise.race([exitPromise, sleep(5000)]);
        if (!exited) child.kill('SIGKILL');
      }
    },
  };
  // Ready means PONG: right after the port opens Redis may still answer -LOADING.
  const deadline = Date.now() + 10000;
  for (;;) {
    const reply = await new Promise((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      let data = '';
      socket.setTimeout(500, () => socket.destroy());
      socket.on('connect', () => socket.write('PING\r\n'));
      socket.on('data', (chunk) => {
        data += chunk;
        if (data.includes('\r\n')) socket.end();
      });
      socket.on('close', () => resolve(data));
      socket.on('error', () => {});
    });
    if (reply.startsWith('+PONG')) return redis;
    if (exited || Date.now() > deadline) {
      await redis.stop();
      throw new Error(`redis-server did not start on port ${port} (is redis-server installed?)`);
    }
    await sleep(50);
  }
}

// A running metricpulsed on a database and a Redis of its own. Call stop() when done.
export async function startStack() {
  const adminUrl = requiredEnv('MP_TEST_PG_URL');
  for (const [what, file] of [['metricpulsed', METRICPULSED], ['mpctl', MPCTL]]) {
    if (!fs.existsSync(file)) throw new Error(`${what} not found at ${file}: build it first (scripts/test does)`);
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-e2e-'));
  const redisDir = path.join(dir, 'redis');
  fs.mkdirSync(redisDir);
  const redis = await startRedis(redisDir);
  const redisUrl = redis.url;
  const dbName = 'mp_e2e_' + randomBytes(6).toString('hex');
  const dbUrl = databaseUrl(adminUrl, dbName);
  const [httpPort, wsPort, metricsPort] = [await freePort(), await freePort(), await freePort()];
  const logPath = path.join(dir, 'daemon.log');
  const stack = {
    dir,
    dbName,
    dbUrl,
    httpPort,
    wsPort,
    // What the tests talk to directly, and what the browser uses (a real host name, mapped).
    apiUrl: `http://127.0.0.1:${httpPort}`,
    origin: `http://${STATS_HOST}:${httpPort}`,
    child: null,
    exited: null,
    output: () => (fs.existsSync(logPath) ? fs.readFileSync(logPath, 'utf8') : ''),
    session: null,
    sql: (select) => (stack.session ||= psqlSession(dbUrl)).rows(select),
    exec: (statements) => (stack.session ||= psqlSession(dbUrl)).exec(statements),
    stop: async () => {
      leftovers.delete(cleanup);
      stack.session?.close();
      if (stack.child && stack.exited === null) {
        stack.child.kill('SIGTERM');
        const killed = await Promise.race([stack.exitPromise, sleep(10000).then(() => false)]);
        if (killed === false) {
          stack.child.kill('SIGKILL');
          await stack.exitPromise;
        }
      }
      await redis.stop();
      try {
        await psql(adminUrl, `DROP DATABASE IF EXISTS ${dbName} WITH (FORCE);\n`);
      } catch (err) {
        process.stderr.write(`warning: ${err.message}\n`);
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };

  const cleanup = { adminUrl, dbName, children: () => [stack.child, redis.child].filter(Boolean) };
  // (the psql session ends with this process: its stdin closes)
  leftovers.add(cleanup);
  try {
    await psql(adminUrl, `CREATE DATABASE ${dbName};\n`);
    const secretPath = path.join(dir, 'jwt.secret');
    fs.writeFileSync(secretPath, 'e2e-secret-e2e-secret-e2e-secret-0123456789\n', { mode: 0o600 });
    const configPath = path.join(dir, 'metricpulse.toml');
    fs.writeFileSync(configPath, [
      '[http]',
      `listen = "127.0.0.1:${httpPort}"`,
      'threads = 2',
      '',
      '[websocket]',
      `listen = "127.0.0.1:${wsPort}"`,
      '',
      '[database]',
      `url = ${tomlString(dbUrl)}`,
      'pool_size = 4',
      '',
      '[redis]',
      `url = ${tomlString(redisUrl)}`,
      'timeout_ms = 1000',
      '',
      '[auth]',
      `jwt_secret_file = ${tomlString(secretPath)}`,
      'allow_signup = true',
      'bcrypt_cost = 4',
      '',
      '[ingest]',
      'rate_limit_per_minute = 0',
      'flush_interval_ms = 50',
      '',
      '[web]',
      `root = ${tomlString(path.join(REPO, 'web'))}`,
      '',
      '[log]',
      'level = "debug"',
      'format = "text"',
      '',
      '[metrics]',
      `listen = "127.0.0.1:${metricsPort}"`,
      '',
    ].join('\n'));
    stack.configPath = configPath;

    await run(MPCTL, ['--config', configPath, 'db', 'migrate'], { env: daemonEnv() });

    const log = fs.openSync(logPath, 'a');
    stack.child = spawn(METRICPULSED, ['-c', configPath], { stdio: ['ignore', log, log], env: daemonEnv() });
    fs.closeSync(log);
    stack.exitPromise = new Promise((resolve) => {
      stack.child.on('exit', (code, signal) => {
        stack.exited = code ?? 128 + (os.constants.signals[signal] || 0);
        resolve(stack.exited);
      });
    });
    const deadline = Date.now() + 20000;
    for (;;) {
      if (stack.exited !== null) {
        throw new Error(`metricpulsed exited with ${stack.exited} at start-up:\n${stack.output()}`);
      }
      try {
        const res = await fetch(stack.apiUrl + '/healthz', { signal: AbortSignal.timeout(500) });
        if (res.status === 200) break;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`metricpulsed did not answer /healthz in 20 s:\n${stack.output()}`);
      await sleep(50);
    }
  } catch (err) {
    await stack.stop();
    throw err;
  }

  // Wraps a test body so a failure prints what the daemon logged.
  stack.guard = (fn) => async (t) => {
    try {
      await fn(t);
    } catch (err) {
      dumpLog(stack, t && t.name);
      throw err;
    }
  };
  return stack;
}

export function dumpLog(stack, testName) {
  const lines = stack.output().trimEnd().split('\n');
  const tail = lines.slice(-150).join('\n');
  process.stderr.write(`---- metricpulsed output (last ${Math.min(lines.length, 150)} lines)` +
    `${testName ? `, after "${testName}" failed` : ''} ----\n${tail}\n----\n`);
}

// Calls the HTTP API; answers { status, headers, body } (body parsed when it is JSON).
export async function api(stack, method, route, { body, token, headers = {} } = {}) {
  const res = await fetch(stack.apiUrl + route, {
    method,
    headers: {
      ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}),
      ...(token ? { Authorization: `Bearer ${token}` } : {}),
      ...headers,
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: res.status, headers: res.headers, body: parsed };
}

// Signs an account up and logs it in; answers its access token.
export async function signupAndLogin(stack, email = `owner-${randomBytes(4).toString('hex')}@example.com`) {
  const password = 'correct horse battery staple';
  const signup = await api(stack, 'POST', '/auth/signup', { body: { email, password } });
  if (signup.status !== 201 && signup.status !== 200) {
    throw new Error(`signup answered ${signup.status}: ${JSON.stringify(signup.body)}`);
  }
  const login = await api(stack, 'POST', '/auth/login', { body: { email, password } });
  if (login.status !== 200 || !login.body.accessToken) {
    throw new Error(`login answered ${login.status}: ${JSON.stringify(login.body)}`);
  }
  return login.body.accessToken;
}

// Creates a website; answers it ({ id, domain, ... }).
export async function createWebsite(stack, token, { name, domain }) {
  const res = await api(stack, 'POST', '/websites', { token, body: { name, domain } });
  if (res.status !== 201 && res.status !== 200) {
    throw new Error(`POST /websites answered ${res.status}: ${JSON.stringify(res.body)}`);
  }
  return res.body;
}

export const BROWSER_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  `--host-resolver-rules=MAP *.test 127.0.0.1`,
];

// Debian's Chromium under playwright-core (never a downloaded browser).
export async function launchBrowser() {
  const { chromium } = await import('playwright-core');
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} not found: install Debian's chromium (scripts/test does)`);
  }
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: BROWSER_ARGS, timeout: 30000 });
  // Headless Chromium says "HeadlessChrome", which the daemon drops as a bot, as it should: the
  // pages are opened with the user agent of the same Chromium with a head.
  const userAgent = `Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) ` +
    `Chrome/${browser.version()} Safari/537.36`;
  browser.newVisitorContext = (options = {}) => browser.newContext({ userAgent, ...options });
  return browser;
}

// Saves a PNG of the page under build/e2e-artifacts/; answers its path.
export async function screenshot(page, name) {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const file = path.join(ARTIFACTS, `${name.replace(/[^\w.-]+/g, '-')}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

// A static HTTP server for test pages on 127.0.0.1. routes maps a path to a string (HTML), to
// { body, type, headers, status }, or to a function (req, res). Requests are recorded.
export async function servePages(routes = {}) {
  const requests = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://' + (req.headers.host || 'localhost'));
    requests.push({ method: req.method, host: req.headers.host, path: url.pathname, url: url.href });
    let route = routes[url.pathname];
    if (typeof route === 'function') return route(req, res, url);
    if (route === undefined) route = { status: 404, body: '<!doctype html><title>Not found</title><h1>Not found</h1>' };
    if (typeof route === 'string') route = { body: route };
    res.writeHead(route.status || 200, {
      'Content-Type': route.type || 'text/html; charset=utf-8',
      'Cache-Control': 'no-store',
      ...(route.headers || {}),
    });
    res.end(route.body);
  });
  const port = await freePort();
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  return {
    port,
    routes,
    requests,
    url: (p = '/', host = SHOP_HOST) => `http://${host}:${port}${p}`,
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

// An HTML page for the test page server.
export function html({ title = 'Shop', head = '', body = '' } = {}) {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${title}</title>
<style>body { font: 16px/1.4 sans-serif; margin: 2em; } a { display: inline-block; margin: .5em 0; }</style>
${head}
</head>
<body>
<h1>${title}</h1>
${body}
</body>
</html>
`;
}
