// browser/views: the views of models, sweeps and analyses on real data, each plotted
// (data-plotted) and clean: a model page with its W heat map, the eigenvalues of a spectrum
// analysis computed from the page's button and fixed points with their stability; a sweep of a
// metric over two axes and over one; the analyses list and an analysis page; a model named
// like HTML markup shown as text. Screenshots:
// model, sweeps, sweep, sweep-1d, analyses, analysis.
import { scenario, watchPage, screenshot, canvasPixels, assert, ms } from './lib.mjs';
import { smallModel } from './fixtures.mjs';

await scenario('browser/views', {}, async ({ daemon, api, context }) => {
  const model = await api.must('POST', '/v1/models', smallModel());
  const fp = await api.must('POST', '/v1/analyses', { kind: 'fixed_points', model_id: model.id, x: [0.5, 0.2],
    starts: { random: { count: 10, seed: 1 } } });
  const run = { dt: 0.5, inputs: { steps: 400, segments: [{ from: 100, to: 400, value: [1.0, 0.5] }] },
    seed: 1, record: { vars: ['r'], every: 10 } };
  const sweep2 = await api.must('POST', '/v1/sweeps', { name: 'browser-2d', model_id: model.id, run,
    axes: [{ path: '/model/recurrent/A/E', values: [0.0, 0.2, 0.4, 0.6] }, { path: '/run/seed', values: [1, 2, 3] }],
    mode: 'grid', metrics: { windows: [{ name: 'late_r', var: 'r', from: 300, to: 400 }] } });
  const sweep1 = await api.must('POST', '/v1/sweeps', { name: 'browser-1d', model_id: model.id, run,
    axes: [{ path: '/model/recurrent/A/E', values: [0.0, 0.1, 0.2, 0.3, 0.4, 0.5] }],
    mode: 'grid', metrics: { windows: [{ name: 'late_r', var: 'r', from: 300, to: 400 }] } });
  const a = await api.waitEnded(`/v1/analyses/${fp.id}`, 120);
  assert(a.status === 'succeeded', `fixed points ${a.status}: ${JSON.stringify(a.error)}`);
  for (const s of [sweep2, sweep1]) {
    const j = await api.waitEnded(`/v1/sweeps/${s.id}`, 120);
    assert(j.status === 'finished' && j.counts.succeeded === j.points, `sweep ${s.id}: ${JSON.stringify(j.counts)}`);
  }

  // user strings are text, never HTML: a model named like markup is shown as typed
  const markup = '<img src=x data-xss=1><b data-xss=2>bold</b>';
  const evil = smallModel(markup);
  evil.labels = { note: markup };
  const evilModel = await api.must('POST', '/v1/models', evil);

  const page = await context.newPage();
  const watch = watchPage(page);
  for (const url of ['#/models', `#/models/${evilModel.id}`]) {
    await page.goto(`${daemon.base}/${url}`);
    await page.getByText(markup).first().waitFor();
    assert(await page.locator('[data-xss]').count() === 0, `${url}: the model's name was not parsed as HTML`);
  }

  // ---- the model page: W heat map drawn, spectrum computed from the button, fixed points
  await page.goto(`${daemon.base}/#/models/${model.id}`);
  const view = page.locator(`[data-testid=model-view][data-model-id="${model.id}"]`);
  await view.waitFor();
  await page.locator('[data-testid=model-view][data-plotted="1"]').waitFor({ timeout: ms(60000) });
  const doc = await page.locator('[data-testid=model-doc]').innerText();
  assert(doc.includes(model.name ?? 'browser-small') || doc.includes('browser-small'), 'model-doc shows the document');
  const pops = await page.locator('[data-testid=model-populations]').innerText();
  assert(pops.includes('32') && pops.includes('8'), `model-populations shows E 32, I 8: ${pops}`);
  const w = await canvasPixels(page.locator('[data-testid=w-heatmap]'));
  const colours = new Set();
  for (let i = 0; i < w.data.length; i += 4) colours.add(w.data.slice(i, i + 3).join(','));
  assert(colours.size > 3, `the W heat map has ${colours.size} colours (signs as two colours and white)`);
  await page.click('[data-testid=spectrum-compute]');
  // the page posts the analysis; when it has succeeded its eigenvalues are plotted
  await page.locator('[data-testid=eig-plot] canvas').first().waitFor({ timeout: ms(60000) });
  await page.waitForFunction(async (id) => {
    const r = await fetch(`/v1/analyses?model_id=${id}&kind=spectrum`);
    const j = await r.json();
    return j.items.some((a) => a.status === 'succeeded');
  }, model.id, { timeout: ms(60000), polling: 500 });
  await page.locator('[data-testid=model-view][data-plotted="1"]').waitFor({ timeout: ms(60000) });
  // the eigenvalues are drawn: coloured points on the complex plane's canvas
  const eig = await canvasPixels(page.locator('[data-testid=eig-plot] canvas').first());
  let points = 0;
  for (let i = 0; i < eig.data.length; i += 4) {
    const [r, g, b, a] = eig.data.subarray(i, i + 4);
    if (a > 128 && b > r + 60) points++; // blue markers (the Re λ = leak line is red)
  }
  console.log(`browser/views: ${points} blue pixels on the eigenvalue plot`);
  assert(points > 200, `the eigenvalue plot has ${points} blue pixels (40 points drawn)`);
  const fpRows = await page.locator('[data-testid=fixed-points] tbody tr').count();
  assert(fpRows >= 1, `the fixed-points table lists the analysis's points (${fpRows} rows)`);
  await page.waitForTimeout(500);
  await screenshot(page, 'model');

  // ---- sweeps
  await page.click('[data-testid=nav-sweeps]');
  await page.locator('[data-testid=sweeps-table]').waitFor();
  assert(await page.locator('[data-testid=sweep-row]').count() === 2, 'two sweep rows');
  await screenshot(page, 'sweeps');
  for (const [s, name] of [[sweep2, 'sweep'], [sweep1, 'sweep-1d']]) {
    await page.goto(`${daemon.base}/#/sweeps/${s.id}`);
    await page.locator(`[data-testid=sweep-view][data-sweep-id="${s.id}"][data-plotted="1"]`).waitFor({ timeout: ms(60000) });
    await page.locator('[data-testid=sweep-metric]').waitFor();
    const rows = await page.locator('[data-testid=sweep-table] tbody tr').count();
    assert(rows === (s === sweep2 ? 12 : 6), `the sweep table of ${name} has a row per point (${rows})`);
    const plot = page.locator('[data-testid=sweep-plot] canvas').first();
    const px = await canvasPixels(plot);
    let drawn = 0;
    for (let i = 0; i < px.data.length; i += 4) if (px.data[i + 3] > 0) drawn++;
    assert(drawn > 100, `the sweep plot of ${name} is drawn (${drawn} pixels)`);
    await screenshot(page, name);
  }

  // ---- analyses
  await page.click('[data-testid=nav-analyses]');
  await page.locator('[data-testid=analyses-table]').waitFor();
  assert(await page.locator('[data-testid=analysis-row]').count() >= 2, 'the spectrum and the fixed points listed');
  await screenshot(page, 'analyses');
  await page.goto(`${daemon.base}/#/analyses/${fp.id}`);
  await page.locator(`[data-testid=analysis-view][data-analysis-id="${fp.id}"][data-plotted="1"]`).waitFor({ timeout: ms(60000) });
  await page.locator('[data-testid=analysis-plot]').waitFor();
  await screenshot(page, 'analysis');
  watch.check('browser/views');
});
