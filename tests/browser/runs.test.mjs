// browser/runs: the page loads clean (security headers, no console error, no failed request,
// every view empty, its own links); a model is created through the Models form, a run
// submitted through the Submit form, and the run's page is seen running, then succeeded, with
// its rate plot drawn and another trial fetched and drawn on demand; the runs list shows it,
// and shows a run posted through the API by itself (live, with an idle list quiet).
// Screenshots: runs, submit, run, models.
import { scenario, watchPage, screenshot, canvasPixels, assert, ms } from './lib.mjs';
import { bigModel } from './fixtures.mjs';

const STEPS = 4000; // with 4 trials: ~5 s of simulation here, so that the page sees it running
const TRIALS = 4;

await scenario('browser/runs', {}, async ({ daemon, api, context }) => {
  const page = await context.newPage();
  const watch = watchPage(page);
  // The history of the run page's data-status (the page may move fast: keep every value).
  await page.addInitScript(() => {
    window.__runStatus = [];
    window.__runProgress = [];
    new MutationObserver(() => {
      const v = document.querySelector('[data-testid=run-view]');
      const s = v && v.getAttribute('data-status');
      const h = window.__runStatus;
      if (s && h[h.length - 1] !== s) h.push(s);
      const p = document.querySelector('[data-testid=run-view] progress[data-testid=run-progress]');
      const f = p && p.max > 0 ? p.value / p.max : null;
      const g = window.__runProgress;
      if (f !== null && g[g.length - 1] !== f) g.push(f);
    }).observe(document, { subtree: true, childList: true, attributes: true, attributeFilter: ['data-status', 'value', 'max'] });
  });

  // ---- the page and its headers
  const res = await page.goto(daemon.base + '/');
  assert(res.status() === 200, `GET / answered ${res.status()}`);
  const h = res.headers();
  const csp = h['content-security-policy'] || '';
  for (const d of ["default-src 'none'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "connect-src 'self'"])
    assert(csp.includes(d), `Content-Security-Policy has ${d}: ${csp}`);
  assert(h['x-content-type-options'] === 'nosniff', 'X-Content-Type-Options: nosniff on /');
  assert(h['x-frame-options'] === 'DENY', 'X-Frame-Options: DENY on /');
  assert(h['referrer-policy'] === 'no-referrer', 'Referrer-Policy: no-referrer on /');
  await page.locator('[data-testid=runs-table]').waitFor();
  for (const nav of ['nav-runs', 'nav-submit', 'nav-models', 'nav-sweeps', 'nav-analyses'])
    await page.locator(`[data-testid=${nav}]`).waitFor();
  const health = await api.must('GET', '/healthz');
  assert(health.version, '/healthz names the version');
  await page.locator('[data-testid=daemon-version]', { hasText: health.version }).waitFor();
  // the page's own links (status bar: OpenAPI, uPlot's licence) answer
  const hrefs = await page.locator('a[href^="/"]').evaluateAll((as) => as.map((a) => a.getAttribute('href')));
  assert(hrefs.length >= 2, `the page links its OpenAPI document and uPlot's licence: ${hrefs}`);
  for (const href of hrefs) {
    const r = await page.request.get(daemon.base + href);
    assert(r.status() === 200, `${href} answers ${r.status()}`);
  }

  // every view, empty, loads clean
  for (const nav of ['nav-submit', 'nav-models', 'nav-sweeps', 'nav-analyses', 'nav-runs']) {
    await page.click(`[data-testid=${nav}]`);
    const table = { 'nav-submit': 'submit-form', 'nav-models': 'models-table', 'nav-sweeps': 'sweeps-table',
      'nav-analyses': 'analyses-table', 'nav-runs': 'runs-table' }[nav];
    await page.locator(`[data-testid=${table}]`).waitFor();
  }

  // ---- a model through the Models form
  await page.click('[data-testid=nav-models]');
  await page.locator('[data-testid=models-table]').waitFor();
  const model = bigModel();
  await page.fill('[data-testid=model-json]', JSON.stringify(model, null, 2));
  await page.click('[data-testid=model-create-submit]');
  await page.waitForURL(/#\/models\/m_[0-9a-f]{24}$/);
  const modelId = page.url().split('/').pop();
  await page.locator(`[data-testid=model-view][data-model-id="${modelId}"]`).waitFor();
  const stored = await api.must('GET', `/v1/models/${modelId}`);
  assert(stored.name === model.name, `the stored model is the pasted one (${stored.name})`);
  await page.locator('[data-testid=model-view][data-plotted="1"]').waitFor({ timeout: ms(60000) });

  // ---- a run through the Submit form
  await page.click('[data-testid=nav-submit]');
  const form = page.locator('[data-testid=submit-form]');
  await form.waitFor();
  await page.locator(`[data-testid=submit-model-select] option[value="${modelId}"]`).waitFor({ state: 'attached' });
  await page.selectOption('[data-testid=submit-model-select]', modelId);
  await page.fill('[data-testid=submit-dt]', '0.5');
  await page.fill('[data-testid=submit-steps]', String(STEPS));
  await page.fill('[data-testid=submit-trials]', String(TRIALS));
  await page.fill('[data-testid=submit-seed]', '11');
  for (const v of ['V', 'r', 'z', 'y']) {
    const box = page.locator(`[data-testid=submit-record][value="${v}"], [data-testid=submit-record] input[value="${v}"]`).first();
    if (v === 'r') await box.check(); else if (await box.count()) await box.uncheck();
  }
  await page.click('[data-testid=segment-add]');
  const seg = page.locator('[data-testid=segment-row]').last();
  await seg.locator('[data-testid=seg-from]').fill('500');
  await seg.locator('[data-testid=seg-to]').fill(String(STEPS));
  await seg.locator('[data-testid=seg-value]').fill('1, 0.5');
  await screenshot(page, 'submit');
  await page.click('[data-testid=submit-button]');
  await page.waitForURL(/#\/runs\/r_[0-9a-f]{24}$/);
  const runId = page.url().split('/').pop();
  const view = page.locator(`[data-testid=run-view][data-run-id="${runId}"]`);
  await view.waitFor();

  // what the form sent is what was typed
  const req = await api.must('GET', `/v1/runs/${runId}/request`);
  assert(req.model_id === modelId, `request.model_id ${req.model_id}`);
  assert(req.dt === 0.5, `request.dt ${req.dt}`);
  assert(req.inputs.steps === STEPS && req.inputs.trials === TRIALS, `request.inputs ${JSON.stringify(req.inputs)}`);
  assert(req.seed === 11, `request.seed ${req.seed}`);
  assert(JSON.stringify(req.record.vars) === '["r"]', `request.record ${JSON.stringify(req.record)}`);
  const segs = req.inputs.segments;
  assert(segs.length === 1 && segs[0].from === 500 && segs[0].to === STEPS &&
         JSON.stringify(segs[0].value) === '[1,0.5]', `request.inputs.segments ${JSON.stringify(segs)}`);

  // running, then succeeded (the status history: a poll of the current state could miss it)
  await page.waitForFunction(() => window.__runStatus.some((s) => s !== 'queued'), null, { timeout: ms(60000) });
  if ((await view.getAttribute('data-status')) === 'running') await screenshot(page, 'run-running');
  await page.locator(`[data-testid=run-view][data-status="succeeded"]`).waitFor({ timeout: ms(180000) });
  const history = await page.evaluate(() => window.__runStatus);
  const iRun = history.indexOf('running'), iOk = history.indexOf('succeeded');
  assert(iRun >= 0 && iOk > iRun, `run page status history ${history.join(' → ')}`);
  // the progress bar moved while it ran (the progress long poll), and ended full
  const prog = await page.evaluate(() => window.__runProgress);
  assert(prog.some((f) => f > 0 && f < 1) && prog[prog.length - 1] === 1, `run page progress history ${prog.map((f) => f.toFixed(2)).join(' ')}`);
  console.log(`browser/runs: status ${history.join(' → ')}; progress ${prog.map((f) => f.toFixed(2)).join(' ')}`);
  await page.locator('[data-testid=run-status]', { hasText: 'succeeded' }).waitFor();
  await page.locator('[data-testid=run-view][data-plotted="1"]').waitFor({ timeout: ms(120000) });

  // the rate plot drew lines: coloured pixels on its canvas (axes and grid are grey)
  const px = await canvasPixels(page.locator('[data-testid=rates-plot] canvas').first());
  let coloured = 0;
  for (let i = 0; i < px.data.length; i += 4) {
    const [r, g, b, a] = px.data.slice(i, i + 4);
    if (a > 128 && Math.max(r, g, b) - Math.min(r, g, b) > 40) coloured++;
  }
  assert(coloured > 200, `the rate plot's canvas has ${coloured} coloured pixels (lines drawn)`);
  // one download link per result and format
  for (const fmt of ['npy', 'json', 'csv']) {
    const a = page.locator(`[data-testid=downloads] a[data-var="r"][data-format="${fmt}"]`);
    const href = await a.getAttribute('href');
    assert(href && href.includes(`/v1/runs/${runId}/results/r`), `download r ${fmt}: ${href}`);
  }
  await screenshot(page, 'run');
  // another trial: fetched (?trials=2) and drawn
  await page.selectOption('[data-testid=trial-select]', '2');
  await page.locator('[data-testid=heatmap-r][data-trial="2"]').waitFor({ timeout: ms(60000) });
  await page.locator('[data-testid=run-view][data-plotted="1"]').waitFor({ timeout: ms(60000) });
  assert(watch.requests.some((r) => /\/results\/r\?.*trials=2/.test(r.url())), 'trial 2 fetched with ?trials=2');

  // the runs list shows it, finished
  await page.click('[data-testid=nav-runs]');
  await page.locator(`[data-testid=run-row][data-run-id="${runId}"][data-status="succeeded"]`).waitFor();
  // live: a run submitted elsewhere (the API) appears and ends on the list without a reload,
  // and an idle list sends (almost) nothing: long polls, not a polling loop
  const other = await api.must('POST', '/v1/runs', { model_id: modelId, dt: 0.5, inputs: { steps: 200 }, seed: 2, record: { vars: ['r'] } });
  await page.locator(`[data-testid=run-row][data-run-id="${other.id}"][data-status="succeeded"]`).waitFor({ timeout: ms(60000) });
  await page.waitForTimeout(1000);
  const before = watch.requests.length;
  await page.waitForTimeout(4000);
  const idle = watch.requests.slice(before).map((r) => new URL(r.url()).pathname + new URL(r.url()).search);
  console.log(`browser/runs: idle runs list: ${idle.length} request(s) in 4 s ${idle.join(" ")}`);
  assert(idle.length <= 2, `an idle runs list sent ${idle.length} requests in 4 s: ${idle.join(', ')}`);
  await screenshot(page, 'runs');
  await page.click('[data-testid=nav-models]');
  await page.locator(`[data-testid=model-row][data-model-id="${modelId}"]`).waitFor();
  await screenshot(page, 'models');
  watch.check('browser/runs');
});
