// Shared by the browser tests (tests/browser/*.test.mjs) and the web bench (bench/web/): start
// the real eirnnd (build tree binary) on a free loopback port with a temporary database, drive
// Debian's chromium through playwright-core (installed by tests/browser/install.sh from the
// pinned package-lock.json; no browser is ever downloaded), and collect everything a page does
// wrong: console errors, uncaught exceptions, failed requests and unexpected HTTP errors.
//
// Environment: EIRNND_BIN (the daemon), EIRNN_BROWSER_TOOLS (the directory holding
// node_modules/playwright-core), EIRNN_SCREENSHOTS (where screenshots go),
// EIRNN_TEST_TIME_SCALE (factor of every wait, set by scripts/sanitize.sh).
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const SOURCE_DIR = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');

// The launch arguments of issue 13's contract; playwright-core adds its own automation flags.
export const CHROMIUM = '/usr/bin/chromium';
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
  '--no-first-run', '--disable-background-networking', '--disable-component-update',
  '--disable-sync'];

export function timeScale() {
  const v = process.env.EIRNN_TEST_TIME_SCALE;
  if (!v) return 1;
  const f = Number(v);
  if (!(f > 0 && Number.isFinite(f))) throw new Error(`EIRNN_TEST_TIME_SCALE=${v}: not a positive number`);
  return f;
}

/** Milliseconds scaled by EIRNN_TEST_TIME_SCALE. */
export const ms = (x) => Math.round(x * timeScale());

function need(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set (tests/browser/CMakeLists.txt sets it)`);
  return v;
}

export function playwright() {
  const tools = need('EIRNN_BROWSER_TOOLS');
  const req = createRequire(path.join(tools, 'package.json'));
  try {
    return req('playwright-core');
  } catch (e) {
    throw new Error(`playwright-core is not installed in ${tools}: run tests/browser/install.sh ${tools} (${e.message})`);
  }
}

/** Starts eirnnd on 127.0.0.1:0 with a fresh database; resolves to {base, port, log, stop()}.
 *  opts.token: the bearer token (passed as EIRNN_TOKEN, not on the command line);
 *  opts.args: more flags. Rejects when the daemon does not say it listens within 30 s. */
export function startDaemon(opts = {}) {
  const bin = need('EIRNND_BIN');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'eirnn-browser-'));
  const env = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('EIRNN_')) env[k] = v;
  env.OPENBLAS_NUM_THREADS = '1';
  if (opts.token) env.EIRNN_TOKEN = opts.token;
  const args = ['--listen', '127.0.0.1:0', '--db', path.join(dir, 'eirnn.db'), ...(opts.args || [])];
  const proc = spawn(bin, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
  const log = [];
  return new Promise((resolve, reject) => {
    let buf = '';
    let done = false;
    const timer = setTimeout(() => fail(new Error('eirnnd did not report "listening" within 30 s')), ms(30000));
    function fail(err) {
      if (done) return;
      done = true;
      clearTimeout(timer);
      proc.kill('SIGKILL');
      fs.rmSync(dir, { recursive: true, force: true });
      reject(new Error(`${err.message}\n${log.join('\n')}`));
    }
    proc.on('exit', (code, sig) => fail(new Error(`eirnnd exited (${code ?? sig}) before listening`)));
    proc.stderr.setEncoding('utf8');
    proc.stderr.on('data', (chunk) => {
      buf += chunk;
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        log.push(line);
        if (log.length > 2000) log.shift();
        if (!done && line.includes('"listening"')) {
          let port;
          try { port = JSON.parse(line).port; } catch { continue; }
          done = true;
          clearTimeout(timer);
          proc.removeAllListeners('exit');
          const exited = new Promise((r) => proc.on('exit', r));
          resolve({
            base: `http://127.0.0.1:${port}`, port, log, proc,
            async stop() {
              if (proc.exitCode === null && proc.signalCode === null) {
                proc.kill('SIGTERM');
                const t = setTimeout(() => proc.kill('SIGKILL'), ms(20000));
                await exited;
                clearTimeout(t);
              }
              fs.rmSync(dir, { recursive: true, force: true });
            },
          });
        }
      }
    });
  });
}

/** A small JSON client of the /v1 API for setting up and checking what the page shows. */
export function apiClient(base, token) {
  async function call(method, p, body) {
    const headers = { Accept: 'application/json' };
    if (token) headers.Authorization = `Bearer ${token}`;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const res = await fetch(base + p, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    let json = null;
    try { json = text ? JSON.parse(text) : null; } catch { json = text; }
    return { status: res.status, headers: res.headers, json };
  }
  const api = {
    call,
    get: (p) => call('GET', p),
    post: (p, b) => call('POST', p, b),
    async must(method, p, body, statuses = [200, 201, 202]) {
      const r = await call(method, p, body);
      if (!statuses.includes(r.status)) throw new Error(`${method} ${p}: ${r.status} ${JSON.stringify(r.json)}`);
      return r.json;
    },
    /** Waits (long polls) until the job (run, analysis, sweep) at path p has ended; returns it. */
    async waitEnded(p, seconds = 120) {
      const deadline = Date.now() + ms(seconds * 1000);
      for (;;) {
        const j = await api.must('GET', `${p}?wait=5`);
        if (['succeeded', 'failed', 'diverged', 'cancelled', 'finished'].includes(j.status)) return j; // a sweep ends 'finished'
        if (Date.now() > deadline) throw new Error(`${p} still ${j.status} after ${seconds} s`);
      }
    },
  };
  return api;
}

/** Launches chromium with a fresh user-data dir; resolves to {context, close()}. */
export async function launchBrowser(viewport = { width: 1280, height: 900 }) {
  const { chromium } = playwright();
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'eirnn-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, viewport,
    timeout: ms(60000),
  });
  context.setDefaultTimeout(ms(30000));
  return {
    context,
    async close() {
      await context.close().catch(() => {});
      fs.rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}

/** Listens to a page for what must not happen: console errors, uncaught exceptions, failed
 *  requests, and HTTP answers >= 400 that the test did not announce with expect(). Requests
 *  aborted on purpose (a view's long poll or download cancelled when the user navigates away:
 *  net::ERR_ABORTED on /v1/…) are not failures. check() throws listing every problem. */
export function watchPage(page) {
  const problems = [];
  const expected = []; // {status, test(url)}
  const expectedUrls = new Set();
  const requests = [];
  const isExpected = (url, status) => expected.some((e) => e.status === status && e.test(url));
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    const url = msg.location()?.url || '';
    // Chromium logs every HTTP error answer as "Failed to load resource: ... status of N";
    // those the test announced are not errors.
    const m = /Failed to load resource: the server responded with a status of (\d+)/.exec(msg.text());
    if (m && (expectedUrls.has(url) || isExpected(url, Number(m[1])))) return;
    problems.push(`console error: ${msg.text()} (${url})`);
  });
  page.on('pageerror', (err) => problems.push(`uncaught exception: ${err.stack || err.message}`));
  page.on('request', (req) => requests.push(req));
  page.on('requestfailed', (req) => {
    const failure = req.failure()?.errorText || '';
    const u = new URL(req.url());
    if (failure === 'net::ERR_ABORTED' && u.pathname.startsWith('/v1/')) return;
    problems.push(`request failed: ${req.method()} ${req.url()}: ${failure}`);
  });
  page.on('response', (res) => {
    if (res.status() < 400) return;
    if (isExpected(res.url(), res.status())) {
      expectedUrls.add(res.url());
      return;
    }
    problems.push(`HTTP ${res.status()} for ${res.request().method()} ${res.url()}`);
  });
  return {
    problems,
    requests,
    /** Announces that answers with this status to URLs matching re (a RegExp on the path and
     *  query) are part of the scenario. */
    expect(status, re) {
      expected.push({ status, test: (url) => { const u = new URL(url); return re.test(u.pathname + u.search); } });
    },
    check(what = 'page') {
      if (problems.length) throw new Error(`${what}: ${problems.length} problem(s):\n  ${problems.join('\n  ')}`);
    },
  };
}

/** Saves a screenshot of the page (full page) as EIRNN_SCREENSHOTS/<name>.png. */
export async function screenshot(page, name) {
  const dir = process.env.EIRNN_SCREENSHOTS || path.join(os.tmpdir(), 'eirnn-screenshots');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true, animations: 'disabled' });
  return file;
}

/** Reads a canvas's backing store (any context type) as {width, height, data: Uint8Array
 *  RGBA} (copied through base64: a JSON array of a large canvas takes seconds). */
export async function canvasPixels(locator) {
  const r = await locator.evaluate((c) => {
    const copy = document.createElement('canvas');
    copy.width = c.width;
    copy.height = c.height;
    const ctx = copy.getContext('2d');
    ctx.drawImage(c, 0, 0);
    const bytes = ctx.getImageData(0, 0, c.width, c.height).data;
    let bin = '';
    for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    return { width: c.width, height: c.height, b64: btoa(bin) };
  });
  return { width: r.width, height: r.height, data: new Uint8Array(Buffer.from(r.b64, 'base64')) };
}

export function pixel(px, x, y) {
  const i = 4 * (y * px.width + x);
  return Array.from(px.data.subarray(i, i + 4));
}

export function assert(cond, msg) {
  if (!cond) throw new Error(`assertion failed: ${msg}`);
}

/** Runs a scenario: fn({daemon, api, browser, page, watch}) with a daemon and a browser that
 *  are stopped afterwards whatever happens; prints the daemon's log on failure; exits 0/1. */
export async function scenario(name, opts, fn) {
  let daemon, browser;
  const t0 = Date.now();
  try {
    daemon = await startDaemon(opts);
    browser = await launchBrowser(opts.viewport);
    const api = apiClient(daemon.base, opts.token);
    // A deadline 30 s inside ctest's TIMEOUT (EIRNN_BROWSER_TIMEOUT_S, set by
    // tests/browser/CMakeLists.txt), so that a hung scenario still stops its daemon and
    // browser (ctest would kill this process only).
    const limit = Number(process.env.EIRNN_BROWSER_TIMEOUT_S || 300) - 30;
    let timer;
    const deadline = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`scenario still running after ${limit} s`)), limit * 1000);
    });
    try {
      await Promise.race([fn({ daemon, api, browser, context: browser.context }), deadline]);
    } finally {
      clearTimeout(timer);
    }
    console.log(`${name}: ok (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
    process.exitCode = 0;
  } catch (err) {
    console.error(`${name}: FAILED: ${err.stack || err}`);
    if (daemon) console.error(`---- eirnnd log (last 40 lines)\n${daemon.log.slice(-40).join('\n')}`);
    process.exitCode = 1;
  } finally {
    if (browser) await browser.close();
    if (daemon) await daemon.stop();
  }
}
