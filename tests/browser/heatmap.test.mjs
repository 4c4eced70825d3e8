// browser/heatmap: the heat map of r of a run whose picture is known in advance (fixtures.mjs:
// each cell constant at r = max(0, bias), silent cells at 0, active ones at 1 or 0.5) is drawn
// by the contract's rule: cell i covers pixel rows floor(i·H/N) … floor((i+1)·H/N) − 1, values
// map to the colour map over [vmin, vmax] = [0, max], and the legend runs vmin (left) to vmax
// (right). Every row band's pixels are compared with the legend's colours and with the colour
// map itself (web/js/colormaps.js, loaded in the page): every pixel of the canvas.
import { scenario, watchPage, screenshot, canvasPixels, pixel, assert, ms } from './lib.mjs';
import { knownModel, knownRun, KNOWN_RATES, KNOWN_STEPS } from './fixtures.mjs';

const close = (a, b, tol = 3) => a.slice(0, 3).every((v, k) => Math.abs(v - b[k]) <= tol);
const show = (c) => `rgb(${c.slice(0, 3).join(',')})`;

await scenario('browser/heatmap', {}, async ({ daemon, api, context }) => {
  const model = await api.must('POST', '/v1/models', knownModel());
  const run = await api.must('POST', '/v1/runs', knownRun(model.id));
  const done = await api.waitEnded(`/v1/runs/${run.id}`);
  assert(done.status === 'succeeded', `known run ${done.status}`);

  const page = await context.newPage();
  const watch = watchPage(page);
  await page.goto(`${daemon.base}/#/runs/${run.id}`);
  await page.locator(`[data-testid=run-view][data-run-id="${run.id}"][data-plotted="1"]`).waitFor({ timeout: ms(60000) });
  const canvas = page.locator('[data-testid=heatmap-r]');
  const attrs = await canvas.evaluate((c) => ({ rows: c.dataset.rows, cols: c.dataset.cols, trial: c.dataset.trial, vmin: c.dataset.vmin, vmax: c.dataset.vmax }));
  assert(Number(attrs.rows) === KNOWN_RATES.length, `data-rows ${attrs.rows}`);
  assert(Number(attrs.cols) === KNOWN_STEPS, `data-cols ${attrs.cols}`);
  assert(Number(attrs.trial) === 0, `data-trial ${attrs.trial}`);
  assert(Number(attrs.vmin) === 0, `data-vmin ${attrs.vmin} (r >= 0 everywhere: vmin is 0)`);
  assert(Math.abs(Number(attrs.vmax) - 1) < 1e-12, `data-vmax ${attrs.vmax}`);

  // the legend: left end = vmin's colour, right end = vmax's, the middle = 0.5's
  const legend = await canvasPixels(page.locator('[data-testid=heatmap-legend]'));
  const ly = Math.floor(legend.height / 2);
  const cVmin = pixel(legend, 0, ly), cVmax = pixel(legend, legend.width - 1, ly);
  // which colour map the page uses, and its colours for 0, 0.5 and 1
  const maps = await page.evaluate(async () => {
    const m = await import('/ui/js/colormaps.js');
    const out = {};
    for (const name of ['viridis', 'diverging']) out[name] = [0, 0.5, 1].map((t) => m[name](t));
    return out;
  });
  const mapName = Object.keys(maps).find((k) => close(maps[k][0], cVmin, 4) && close(maps[k][2], cVmax, 4));
  assert(mapName, `the legend's ends ${show(cVmin)} … ${show(cVmax)} are the ends of a colour map of colormaps.js`);
  const colourOf = (r) => maps[mapName][r === 0 ? 0 : r === 0.5 ? 1 : 2];

  const px = await canvasPixels(canvas);
  const N = KNOWN_RATES.length, H = px.height, W = px.width;
  assert(H >= N, `canvas height ${H} covers the ${N} cells`);
  let checked = 0;
  for (let i = 0; i < N; i++) {
    const top = Math.floor((i * H) / N), bottom = Math.floor(((i + 1) * H) / N) - 1;
    const want = colourOf(KNOWN_RATES[i]);
    if (KNOWN_RATES[i] === 0) assert(close(want, cVmin, 4), `silent cell ${i}: the legend's vmin colour`);
    if (KNOWN_RATES[i] === 1) assert(close(want, cVmax, 4), `cell ${i} at vmax: the legend's vmax colour`);
    // every pixel of the band
    for (let y = top; y <= bottom; y++) {
      for (let x = 0; x < W; x++) {
        const got = pixel(px, x, y);
        if (got[3] !== 255 || !close(got, want))
          throw new Error(`cell ${i} (r = ${KNOWN_RATES[i]}) pixel (${x}, ${y}) is ${show(got)} alpha ${got[3]}, want ${mapName}(${KNOWN_RATES[i]}) = ${show(want)} opaque`);
        checked++;
      }
    }
  }
  assert(checked === W * H, `every pixel checked (${checked} of ${W * H})`);
  console.log(`browser/heatmap: ${checked} pixels of ${N} cells on a ${W}×${H} canvas match ${mapName}`);
  await screenshot(page, 'run-known');
  watch.check('browser/heatmap');
});
