// Web page benchmark (docs/BENCHMARKS.md, "Web page"): how long the run page takes to open and
// plot a run of CELLS cells × STEPS steps (r recorded every step, B = 1: 80 MB of float64 at
// 1,000 × 10,000), and whether the tab stays responsive meanwhile. A fresh eirnnd (the build
// tree's, temporary database, free port) and Debian's chromium (tests/browser/lib.mjs), REPS
// page loads with the browser's cache disabled, medians.
//
// Per load:
//  * plotted_ms: navigation start (performance.timeOrigin) → the run view's data-plotted="1";
//  * plot_ms: the page's own data-plot-ms (its render() → every plot drawn);
//  * fetch_start_ms / fetch_end_ms / fetch_ms: the result download(s) (Resource Timing: from the
//    first request's start to the last response's end), after_fetch_ms: from there to
//    plotted (parsing, reductions, drawing); the page's own data-parse-ms if it sets one;
//  * longest_task_ms / long_tasks: PerformanceObserver 'longtask' entries (main-thread tasks
//    over 50 ms) from navigation to plotted; raf_gap_ms: the longest gap between two
//    requestAnimationFrame callbacks over the same span (what a user sees as a frozen tab).
// Usage: bench/run_web_bench.sh [BUILD_DIR]   (env CELLS [1000] STEPS [10000] REPS [5])
import { startDaemon, apiClient, launchBrowser, watchPage, screenshot, assert } from '../../tests/browser/lib.mjs';
import { bigModel } from '../../tests/browser/fixtures.mjs';
import fs from 'node:fs';

const CELLS = Number(process.env.CELLS || 1000);
const STEPS = Number(process.env.STEPS || 10000);
const REPS = Number(process.env.REPS || 5);
const median = (a) => { const s = [...a].sort((x, y) => x - y); const n = s.length; return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2; };

const daemon = await startDaemon({ args: ['--workers', '1'] });
const browser = await launchBrowser({ width: 1280, height: 900 });
let rc = 0;
try {
  const api = apiClient(daemon.base);
  const m = bigModel('bench-web');
  m.populations = { E: Math.round(CELLS * 0.8), I: CELLS - Math.round(CELLS * 0.8) };
  const model = await api.must('POST', '/v1/models', m);
  const t0 = Date.now();
  const run = await api.must('POST', '/v1/runs', { model_id: model.id, dt: 0.5,
    inputs: { steps: STEPS, segments: [{ from: Math.floor(STEPS / 4), to: STEPS, value: [1.0, 0.5] }] },
    seed: 1, record: { vars: ['r'] } });
  const done = await api.waitEnded(`/v1/runs/${run.id}`, 3600);
  assert(done.status === 'succeeded', `the run ${done.status}`);
  const results = await api.must('GET', `/v1/runs/${run.id}/results`);
  const r = results.items.find((x) => x.name === 'r' || x.var === 'r');
  console.error(`bench/web: run ${run.id} of ${CELLS} × ${STEPS} simulated in ${((Date.now() - t0) / 1000).toFixed(1)} s; r: ${JSON.stringify(r)}`);

  const rows = [];
  for (let i = 0; i < REPS; i++) {
    const page = await browser.context.newPage();
    const watch = watchPage(page);
    const cdp = await browser.context.newCDPSession(page);
    await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });
    await page.addInitScript(() => {
      const b = (window.__bench = { longTasks: [], rafGap: 0, plotted: null });
      try {
        new PerformanceObserver((l) => { for (const e of l.getEntries()) b.longTasks.push(e.duration); })
          .observe({ type: 'longtask', buffered: true });
      } catch { b.longTasks = null; }
      let last = performance.now();
      const frame = (t) => {
        b.rafGap = Math.max(b.rafGap, t - last);
        last = t;
        if (b.plotted === null) requestAnimationFrame(frame);
      };
      requestAnimationFrame(frame);
      new MutationObserver(() => {
        const v = document.querySelector('[data-testid=run-view][data-plotted="1"]');
        if (v && b.plotted === null) b.plotted = performance.now();
      }).observe(document, { subtree: true, childList: true, attributes: true, attributeFilter: ['data-plotted'] });
    });
    await page.goto(`${daemon.base}/#/runs/${run.id}`);
    await page.locator('[data-testid=run-view][data-plotted="1"]').waitFor({ timeout: 600000 });
    await page.waitForTimeout(200); // let the last frame and long-task entries land
    const m = await page.evaluate(() => {
      const v = document.querySelector('[data-testid=run-view]');
      const num = (k) => (v.dataset[k] !== undefined ? Number(v.dataset[k]) : null);
      const b = window.__bench;
      const out = {
        plotted_ms: b.plotted, plot_ms: num('plotMs'), fetch_ms: null, parse_ms: num('parseMs'),
        longest_task_ms: b.longTasks && b.longTasks.length ? Math.max(...b.longTasks) : 0,
        long_tasks: b.longTasks ? b.longTasks.length : null,
        long_task_total_ms: b.longTasks ? b.longTasks.reduce((x, y) => x + y, 0) : null,
        raf_gap_ms: b.rafGap,
        js_heap_mb: performance.memory ? performance.memory.usedJSHeapSize / 1048576 : null,
      };
      // Resource Timing of the result download(s): when the first began, when the last ended
      const res = performance.getEntriesByType('resource').filter((e) => /\/results\//.test(e.name));
      out.fetch_start_ms = res.length ? Math.min(...res.map((e) => e.startTime)) : null;
      out.fetch_end_ms = res.length ? Math.max(...res.map((e) => e.responseEnd)) : null;
      out.fetch_ms = out.fetch_end_ms !== null ? out.fetch_end_ms - out.fetch_start_ms : out.fetch_ms;
      out.after_fetch_ms = out.fetch_end_ms !== null ? b.plotted - out.fetch_end_ms : null;
      return out;
    });
    // bytes the page fetched for the run's results
    m.result_bytes = 0;
    for (const req of watch.requests) {
      if (!/\/results\//.test(req.url())) continue;
      const s = await req.sizes().catch(() => null);
      if (s) m.result_bytes += s.responseBodySize;
    }
    if (i === 0) await screenshot(page, 'bench-run');
    watch.check(`bench/web load ${i + 1}`);
    await page.close();
    rows.push(m);
    console.error(`bench/web: load ${i + 1}/${REPS}: ${JSON.stringify(m)}`);
  }
  const keys = Object.keys(rows[0]).filter((k) => rows.every((x) => typeof x[k] === 'number'));
  const summary = { cells: CELLS, steps: STEPS, reps: REPS, run_id: run.id, median: {}, each: {} };
  for (const k of keys) {
    summary.median[k] = Number(median(rows.map((x) => x[k])).toFixed(1));
    summary.each[k] = rows.map((x) => Number(x[k].toFixed(1)));
  }
  console.log(JSON.stringify(summary));
  if (process.env.BENCH_OUT) fs.writeFileSync(process.env.BENCH_OUT, JSON.stringify(summary, null, 2) + '\n');
} catch (err) {
  console.error(`bench/web: FAILED: ${err.stack || err}\n${daemon.log.slice(-20).join('\n')}`);
  rc = 1;
} finally {
  await browser.close();
  await daemon.stop();
}
process.exitCode = rc;
