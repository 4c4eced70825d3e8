// browser/heatmap: the heat map of r of runs whose picture is known in advance (fixtures.mjs:
// W = 0, no input, each cell constant at r = max(0, bias)) is drawn by the contract's rule
// (web/js/heatmap.js): with N cells and H pixel rows, cell i covers pixel rows
// floor(i·H/N) … floor((i+1)·H/N) − 1 when N < H, and when N ≥ H pixel row p is the MEAN of the
// cells i with floor(i·H/N) = p; values map to the colour map over [vmin, vmax] = [0, max];
// the legend runs from vmin's colour (left) to vmax's (right). Every pixel of the canvas is
// compared with the colour map itself (web/js/colormaps.js, loaded in the page):
//  * 8 cells (silent at 0, active at 0.5 or 1): each cell a band of rows;
//  * 1,000 cells, every third one active at 1: more cells than pixel rows, so each pixel row
//    is the mean of the cells it covers (a pixel that showed one cell instead would be 0 or 1).
import { scenario, watchPage, screenshot, canvasPixels, pixel, assert, ms } from './lib.mjs';
import { knownModel, knownRun, KNOWN_BIAS, KNOWN_STEPS } from './fixtures.mjs';

const close = (a, b, tol = 3) => a.slice(0, 3).every((v, k) => Math.abs(v - b[k]) <= tol);
const show = (c) => `rgb(${c.slice(0, 3).join(',')})`;

/** The cells pixel row p shows, by the drawing rule. */
function cellsOfRow(p, N, H) {
  const out = [];
  for (let i = 0; i < N; i++) {
    if (N < H) {
      if (Math.floor((i * H) / N) <= p && p <= Math.floor(((i + 1) * H) / N) - 1) out.push(i);
    } else if (Math.floor((i * H) / N) === p) out.push(i);
  }
  return out;
}

async function checkRun(page, daemon, api, name, bias, E) {
  const model = await api.must('POST', '/v1/models', knownModel(name, bias, E));
  const run = await api.must('POST', '/v1/runs', knownRun(model.id, bias));
  const done = await api.waitEnded(`/v1/runs/${run.id}`);
  assert(done.status === 'succeeded', `known run ${done.status}`);
  const rates = bias.map((b) => Math.max(0, b));
  const N = rates.length;

  await page.goto(`${daemon.base}/#/runs/${run.id}`);
  await page.locator(`[data-testid=run-view][data-run-id="${run.id}"][data-plotted="1"]`).waitFor({ timeout: ms(60000) });
  const canvas = page.locator('[data-testid=heatmap-r]');
  const attrs = await canvas.evaluate((c) => ({ ...c.dataset }));
  assert(Number(attrs.rows) === N, `${name}: data-rows ${attrs.rows}`);
  assert(Number(attrs.cols) === KNOWN_STEPS, `${name}: data-cols ${attrs.cols}`);
  assert(Number(attrs.trial) === 0, `${name}: data-trial ${attrs.trial}`);
  assert(Number(attrs.vmin) === 0, `${name}: data-vmin ${attrs.vmin} (r >= 0 everywhere: vmin is 0)`);
  assert(Math.abs(Number(attrs.vmax) - 1) < 1e-12, `${name}: data-vmax ${attrs.vmax}`);

  const px = await canvasPixels(canvas);
  const H = px.height, W = px.width;
  // the value of each pixel row, then the colour map's colours for them (in the page)
  const rowValue = [];
  for (let p = 0; p < H; p++) {
    const cells = cellsOfRow(p, N, H);
    assert(cells.length > 0, `${name}: pixel row ${p} shows some cell`);
    rowValue.push(cells.reduce((s, i) => s + rates[i], 0) / cells.length);
  }
  const maps = await page.evaluate(async (ts) => {
    const m = await import('/ui/js/colormaps.js');
    const out = {};
    for (const k of ['viridis', 'diverging']) out[k] = ts.map((t) => m[k](t));
    return out;
  }, [0, 1, ...rowValue]);
  // the legend's ends name the colour map
  const legend = await canvasPixels(page.locator('[data-testid=heatmap-legend]'));
  const ly = Math.floor(legend.height / 2);
  const cVmin = pixel(legend, 0, ly), cVmax = pixel(legend, legend.width - 1, ly);
  const mapName = Object.keys(maps).find((k) => close(maps[k][0], cVmin, 4) && close(maps[k][1], cVmax, 4));
  assert(mapName, `${name}: the legend's ends ${show(cVmin)} … ${show(cVmax)} are the ends of a colour map of colormaps.js`);

  let checked = 0;
  for (let y = 0; y < H; y++) {
    const want = maps[mapName][2 + y];
    for (let x = 0; x < W; x++) {
      const got = pixel(px, x, y);
      if (got[3] !== 255 || !close(got, want))
        throw new Error(`${name}: pixel (${x}, ${y}) (cells ${cellsOfRow(y, N, H).join(',')}, mean r ${rowValue[y]}) is ${show(got)} alpha ${got[3]}, want ${mapName}(${rowValue[y]}) = ${show(want)} opaque`);
      checked++;
    }
  }
  const silent = rowValue.filter((v) => v === 0).length;
  console.log(`browser/heatmap: ${name}: all ${checked} pixels (${W}×${H}, ${N} cells, ${silent} silent rows at the legend's vmin colour) match ${mapName}`);
  return run.id;
}

await scenario('browser/heatmap', {}, async ({ daemon, api, context }) => {
  const page = await context.newPage();
  const watch = watchPage(page);
  await checkRun(page, daemon, api, 'browser-known', KNOWN_BIAS, 6);
  await screenshot(page, 'run-known');
  const wide = Array.from({ length: 1000 }, (_, i) => (i % 3 === 0 ? 1 : -1));
  await checkRun(page, daemon, api, 'browser-known-wide', wide, 800);
  await screenshot(page, 'run-known-wide');
  watch.check('browser/heatmap');
});
