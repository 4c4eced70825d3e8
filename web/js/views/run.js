// #/runs/<id>: one run. Its status and progress stay current through the progress long poll
// (GET /v1/runs/{id}?wait=30&progress=<done>: one request held at a time, re-issued with the new
// `done`); once it has ended: population mean rates over time, the cells × time heat map of r
// (E cells above I cells, a line between them drawn outside the canvas), its colour legend,
// traces of chosen cells, z when recorded, y when recorded, the metadata and download links.
//
// Large runs: one trial is fetched at a time (?trials=b), r first; reductions run in slices
// that yield to the event loop (heatmap.js); only one copy of each variable of the trial is
// held. data-plotted="1" (and data-plot-ms, ms since render()) on the root once every plot of
// the trial is drawn.

import { h, clear, fmt, fmtTime } from '../dom.js';
import { get, post, npy, waitRun, token, download, ApiError } from '../api.js';
import { describe } from '../problems.js';
import { drawHeatmap, drawLegend, yieldToLoop } from '../heatmap.js';
import { viridis } from '../colormaps.js';
import { linePlot, PALETTE } from '../plots.js';
import { statusBadge, progressBar, sleep } from './runs.js';

const ACTIVE = new Set(['queued', 'running']);
const FORMATS = [['npy', 'npy'], ['json', 'json'], ['csv', 'csv']];
const E_COLOR = '#c0392b';
const I_COLOR = '#2471a3';

export function render(root, params, ctx) {
  const t0 = performance.now();
  const id = params.id;
  const base = `/v1/runs/${encodeURIComponent(id)}`;
  const { signal } = ctx;

  const view = h('div', { class: 'run-view', 'data-testid': 'run-view', 'data-run-id': id });
  const statusEl = h('span', { class: 'status-badge', 'data-testid': 'run-status' }, '…');
  const progress = h('progress', { 'data-testid': 'run-progress', max: '1', value: '0' });
  const progressText = h('span', { class: 'muted', 'data-testid': 'run-progress-text' });
  const cancelBtn = h('button', { type: 'button', 'data-testid': 'run-cancel', hidden: true }, 'Cancel');
  const modelLink = h('span');
  const errorBox = h('div');
  const cards = h('div', { class: 'cards', 'data-testid': 'run-summary' });
  const plots = h('div', { class: 'run-plots' });
  const downloads = h('div', { class: 'downloads', 'data-testid': 'downloads' });
  const metaPre = h('pre', { 'data-testid': 'run-meta' }, '');
  view.append(
    h('h1', null, 'Run ', h('code', null, id)),
    h('div', { class: 'run-head' }, statusEl, progress, progressText, cancelBtn, modelLink),
    errorBox, cards, plots,
    h('h2', null, 'Downloads'), downloads,
    h('h2', null, 'Metadata'), metaPre);
  root.appendChild(view);

  cancelBtn.addEventListener('click', async () => {
    cancelBtn.disabled = true;
    try {
      await post(`${base}/cancel`, {}, { signal });
    } catch (e) {
      if (e.name !== 'AbortError') errorBox.replaceChildren(h('div', { class: 'message error' }, describe(e)));
    }
  });

  function update(run) {
    view.dataset.status = run.status;
    statusEl.textContent = run.status;
    statusEl.className = `status-badge status-${run.status}`;
    const p = run.progress || { done: 0, total: 0, fraction: 0 };
    progress.max = Math.max(1, Number(p.total) || 1);
    progress.value = Number(p.done) || 0;
    progressText.textContent = p.total
      ? `${p.done} / ${p.total} steps (${fmt(100 * (p.fraction || 0), 3)} %)` : '';
    cancelBtn.hidden = !ACTIVE.has(run.status) || run.cancel_requested;
    if (run.cancel_requested && ACTIVE.has(run.status)) progressText.textContent += ' — cancelling';
    clear(modelLink);
    modelLink.append(run.model_id
      ? h('span', null, 'model ', h('a', { href: `#/models/${encodeURIComponent(run.model_id)}` }, h('code', null, run.model_id)))
      : h('span', { class: 'muted' }, 'inline model'));
    if (run.sweep) {
      modelLink.append(' · sweep ', h('a', { href: `#/sweeps/${encodeURIComponent(run.sweep.id)}` }, `${run.sweep.id} #${run.sweep.index}`));
    }
    const labels = Object.entries(run.labels || {});
    if (labels.length) modelLink.append(' · ', labels.map(([k, v]) => h('span', { class: 'status-badge' }, `${k}:${v}`)));
    metaPre.textContent = JSON.stringify(run.meta || withoutMeta(run), null, 2);
  }

  async function follow() {
    let run = await get(base, { signal });
    update(run);
    if (ACTIVE.has(run.status)) {
      plots.replaceChildren(h('p', { class: 'muted', 'data-testid': 'run-waiting' },
        'The plots and the downloads come when the run ends; this page follows it.'));
    }
    let progressParam = true;
    while (ACTIVE.has(run.status)) {
      try {
        run = progressParam
          ? await waitRun(id, run.progress ? run.progress.done : 0, 30, { signal })
          : await get(`${base}?wait=2`, { signal });
      } catch (e) {
        if (e.name === 'AbortError') throw e;
        if (e instanceof ApiError && e.status === 400 && e.problem.parameter === 'progress') {
          progressParam = false; // an older daemon: the end only, checked every 2 s
          continue;
        }
        errorBox.replaceChildren(h('div', { class: 'message error' }, `updates paused: ${describe(e)}`));
        await sleep(3000, signal);
        continue;
      }
      clear(errorBox);
      update(run);
    }
    await finished(run);
  }

  async function finished(run) {
    if (run.error) {
      errorBox.replaceChildren(h('div', { class: 'message error', 'data-testid': 'run-error' }, describe(run.error)));
    }
    const meta = run.meta;
    showCards(cards, run);
    const results = await showDownloads(run);
    if (!meta || !meta.outputs || !meta.model || !meta.run || !results.length) {
      plots.replaceChildren(h('p', { class: 'muted', 'data-testid': 'run-no-results' },
        `This run (${run.status}) has no results to plot.`));
      plotted();
      return;
    }
    await showPlots(run, results);
  }

  function plotted() {
    view.dataset.plotted = '1';
    view.dataset.plotMs = String(Math.round(performance.now() - t0));
  }

  async function showDownloads(run) {
    let list = { items: [] };
    try {
      list = await get(`${base}/results`, { signal });
    } catch (e) {
      if (e.name === 'AbortError') throw e;
      downloads.replaceChildren(h('p', { class: 'message error' }, describe(e)));
      return list.items;
    }
    if (!list.items.length) {
      downloads.replaceChildren(h('p', { class: 'muted' },
        ACTIVE.has(run.status) ? 'Results come when the run ends.' : 'This run kept no results.'));
      return list.items;
    }
    const rows = list.items.map((item) => h('tr', null,
      h('th', null, item.var),
      h('td', { class: 'muted' }, `${item.dtype} [${item.shape.join(' × ')}]`),
      FORMATS.map(([format, ext]) => {
        const url = `${item.url}?format=${format}`;
        const name = `${run.id}_${item.var}.${ext}`;
        return h('td', null, h('a', {
          href: url, download: name, 'data-var': item.var, 'data-format': format,
          onclick: (ev) => {
            if (!token()) return; // a plain link does it
            ev.preventDefault(); // the bearer header needs fetch
            download(url, name).catch((e) => {
              downloads.prepend(h('p', { class: 'message error' }, describe(e)));
            });
          },
        }, format));
      })));
    downloads.replaceChildren(h('table', null, h('tbody', null, rows)));
    return list.items;
  }

  // ---- plots ------------------------------------------------------------------------------

  async function showPlots(run, results) {
    const meta = run.meta;
    const sizes = meta.model.sizes;
    const rec = meta.run.record || {};
    const outputs = meta.outputs;
    const dt = Number(meta.run.dt);
    const every = Number(rec.every) || 1;
    const B = Number(meta.run.B) || 1;
    const main = outputs.r ? 'r' : outputs.V ? 'V' : null;
    const available = new Set(results.map((r) => r.var));
    clear(plots);
    if (!main || !available.has(main)) {
      plots.append(h('p', { class: 'muted' }, 'Neither r nor V was recorded: nothing to plot over time.'));
      if (outputs.y && available.has('y')) {
        const yDiv = h('div', { class: 'plot', 'data-testid': 'y-plot' });
        plots.append(h('h2', null, 'Readout y'), yDiv);
        const trial = h('select', { 'data-testid': 'trial-select' },
          Array.from({ length: B }, (_, b) => h('option', { value: String(b) }, `trial ${b}`)));
        plots.prepend(h('div', { class: 'toolbar' }, h('label', null, 'Trial ', trial)));
        const drawY = async () => {
          view.removeAttribute('data-plotted');
          await plotY(yDiv, Number(trial.value), dt, every);
          plotted();
        };
        trial.addEventListener('change', () => drawY().catch(report));
        await drawY();
      } else {
        plotted();
      }
      return;
    }
    const shape = outputs[main].shape; // [B, T', n]
    const rows = shape[1];
    const n = shape[2];
    // Which model cell each recorded unit is: all cells, or record.neurons from the request.
    let cells = null;
    if (n === sizes.N) {
      cells = Int32Array.from({ length: n }, (_, i) => i);
    } else {
      try {
        const request = await get(`${base}/request`, { signal });
        const list = request.record && request.record.neurons;
        if (Array.isArray(list) && list.length === n) cells = Int32Array.from(list);
      } catch (e) {
        if (e.name === 'AbortError') throw e;
      }
    }
    const known = cells !== null;
    if (!known) cells = Int32Array.from({ length: n }, (_, i) => i);
    const isE = Array.from(cells, (c) => known && c < sizes.E);
    // Heat map rows: E units first (in recorded order), then I units.
    const order = Int32Array.from([...cells.keys()].sort((a, b) => (isE[b] - isE[a]) || (a - b)));
    const nE = isE.filter(Boolean).length;

    const trialSel = h('select', { 'data-testid': 'trial-select', 'aria-label': 'trial' },
      Array.from({ length: B }, (_, b) => h('option', { value: String(b) }, `trial ${b}`)));
    const ratesDiv = h('div', { class: 'plot', 'data-testid': 'rates-plot' });
    const hmCanvas = h('canvas', { 'data-testid': `heatmap-${main}` });
    const hmArea = h('div', { class: 'heatmap-area' }, hmCanvas);
    const hmGutter = h('div', { class: 'heatmap-rows' });
    const hmX = h('div', { class: 'heatmap-xaxis' });
    const legendCanvas = h('canvas', { 'data-testid': 'heatmap-legend', width: '220', height: '14' });
    const readout = h('span', { class: 'heatmap-readout', 'data-testid': 'heatmap-readout' });
    const legend = h('div', { class: 'legend' }, h('span', null, `${main}: `), legendCanvas,
      h('span', { class: 'muted' }, ' grey: not a number'), readout);
    const traceIn = h('input', {
      type: 'text', 'data-testid': 'trace-cells', 'aria-label': 'cells to trace', size: '24',
      value: defaultTraceCells(cells, isE).join(','),
    });
    const traceVar = h('select', { 'data-testid': 'trace-var', 'aria-label': 'variable to trace' },
      ['r', 'V'].filter((v) => outputs[v] && available.has(v)).map((v) => h('option', { value: v }, v)));
    const traceMsg = h('span', { class: 'muted', 'data-testid': 'trace-message' });
    const tracesDiv = h('div', { class: 'plot', 'data-testid': 'traces-plot' });
    const zDiv = outputs.z && available.has('z') ? h('div', { class: 'plot', 'data-testid': 'z-plot' }) : null;
    const yDiv = outputs.y && available.has('y') ? h('div', { class: 'plot', 'data-testid': 'y-plot' }) : null;
    const what = main === 'r' ? 'rate r' : 'potential V (r was not recorded)';
    plots.append(
      h('div', { class: 'toolbar' }, h('label', null, 'Trial ', trialSel),
        h('span', { class: 'muted' }, `${B} trial${B === 1 ? '' : 's'}, ${rows} recorded rows of ${n} cells, every ${every} step${every === 1 ? '' : 's'}, dt = ${dt}`)),
      h('h2', null, `Population mean ${what}`), ratesDiv,
      h('h2', null, `${main}: cells × time`),
      h('div', { class: 'heatmap-wrap' }, hmGutter, hmArea, h('span'), hmX), legend,
      h('h2', null, 'Traces'),
      h('div', { class: 'toolbar' }, h('label', null, 'Cells ', traceIn), h('label', null, 'of ', traceVar), traceMsg),
      tracesDiv,
      ...(zDiv ? [h('h2', null, 'Gate z (total conductance / capacitance)'), zDiv] : []),
      ...(yDiv ? [h('h2', null, 'Readout y'), yDiv] : []));

    if (rows === 0 || n === 0) {
      plots.append(h('p', { class: 'muted' }, 'The run kept no rows (stopped before its first recorded step).'));
      plotted();
      return;
    }
    // time of recorded row m: the state after step (m + 1)·every, t = (m + 1)·every·dt
    const time = Float64Array.from({ length: rows }, (_, m) => (m + 1) * every * dt);
    const xlabel = 't (step × dt)';
    const state = { trial: 0, data: null, traceData: null, traceVarName: null, controller: null };

    const plotTraces = async (trialSignal) => {
      const want = parseCells(traceIn.value);
      traceMsg.textContent = '';
      if (want.error) {
        traceMsg.textContent = want.error;
        return;
      }
      const unitOf = new Map(Array.from(cells, (c, k) => [c, k]));
      const missing = want.cells.filter((c) => !unitOf.has(c));
      if (missing.length) traceMsg.textContent = `not recorded: ${missing.join(', ')}`;
      const chosen = want.cells.filter((c) => unitOf.has(c)).slice(0, 20);
      const v = traceVar.value || main;
      let data = state.data;
      if (v !== main) {
        if (state.traceVarName !== v) {
          state.traceData = null;
          const arr = await npy(`${base}/results/${v}?trials=${state.trial}`, { signal: trialSignal });
          state.traceData = arr.data;
          state.traceVarName = v;
        }
        data = state.traceData;
      }
      clear(tracesDiv);
      if (!chosen.length) {
        tracesDiv.append(h('p', { class: 'muted' }, 'Give recorded cell indices, e.g. 0,5,12.'));
        return;
      }
      const series = chosen.map((c, s) => {
        const k = unitOf.get(c);
        const values = new Float64Array(rows);
        for (let m = 0; m < rows; m++) values[m] = data[m * n + k];
        return { label: `${v} cell ${c} (${isE[k] ? 'E' : known ? 'I' : '?'})`, values, stroke: PALETTE[s % PALETTE.length] };
      });
      linePlot(tracesDiv, { x: time, series, xlabel, ylabel: v, height: 220 });
    };

    const drawTrial = async (b) => {
      if (state.controller) state.controller.abort();
      const controller = new AbortController();
      state.controller = controller;
      const tsig = anySignal(signal, controller.signal);
      view.removeAttribute('data-plotted');
      view.removeAttribute('data-plot-ms');
      state.trial = b;
      state.pixels = null;
      state.data = null; // let the previous trial's arrays go before fetching the next
      state.traceData = null;
      state.traceVarName = null;
      hmCanvas.dataset.trial = String(b);
      clear(ratesDiv).append(h('p', { class: 'muted' }, `loading ${main} of trial ${b}…`));
      const arr = await npy(`${base}/results/${main}?trials=${b}`, { signal: tsig });
      if (controller.signal.aborted) return;
      const data = arr.data;
      state.data = data;
      // population means per recorded row, in slices
      const meanE = new Float64Array(rows);
      const meanI = new Float64Array(rows);
      const nI = n - nE;
      let tick = performance.now();
      for (let m = 0; m < rows; m++) {
        let se = 0;
        let si = 0;
        const off = m * n;
        for (let k = 0; k < n; k++) {
          if (isE[k]) se += data[off + k];
          else si += data[off + k];
        }
        meanE[m] = nE ? se / nE : NaN;
        meanI[m] = nI ? si / nI : NaN;
        if (performance.now() - tick > 12) {
          await yieldToLoop();
          if (tsig.aborted) return;
          tick = performance.now();
        }
      }
      const series = [];
      if (nE) series.push({ label: known ? `E (${nE} cells)` : `all ${n} units`, values: meanE, stroke: E_COLOR });
      if (nI && known) series.push({ label: `I (${nI} cells)`, values: meanI, stroke: I_COLOR });
      if (!known) series.push({ label: `${n} recorded units`, values: meanI, stroke: '#555' });
      clear(ratesDiv);
      linePlot(ratesDiv, { x: time, series, xlabel, ylabel: `mean ${main}`, height: 240 });

      // heat map: backing store = plot area, E rows above I rows
      const width = Math.max(300, Math.floor(hmArea.clientWidth || 900));
      const height = n >= 400 ? 400 : n * Math.max(1, Math.floor(400 / n));
      hmCanvas.width = width;
      hmCanvas.height = height;
      const range = await drawHeatmap(hmCanvas, {
        rows: n, cols: rows, get: (i, m) => data[m * n + order[i]], colormap: viridis, signal: tsig,
      });
      if (!range || tsig.aborted) return;
      drawLegend(legendCanvas, { vmin: range.vmin, vmax: range.vmax, colormap: viridis, format: (v) => fmt(v, 4) });
      state.pixels = range.pixels;
      heatmapAxes(hmGutter, hmArea, hmX, { n, nE: known ? nE : n, height, rows, time, known });

      await plotTraces(tsig);
      if (zDiv) {
        clear(zDiv).append(h('p', { class: 'muted' }, 'loading z…'));
        await plotZ(zDiv, b, tsig, { time, isE, nE, known, xlabel });
      }
      if (yDiv) await plotY(yDiv, b, dt, every, tsig);
      if (!tsig.aborted) plotted();
    };

    const report = (e) => {
      if (e && e.name === 'AbortError') return;
      plots.prepend(h('div', { class: 'message error', 'data-testid': 'plot-error' }, describe(e)));
    };
    trialSel.addEventListener('change', () => drawTrial(Number(trialSel.value)).catch(report));
    // what the pointer is over: the cells and times of that pixel, and their mean
    hmCanvas.addEventListener('mousemove', (ev) => {
      if (!state.pixels) return;
      const box = hmCanvas.getBoundingClientRect();
      const W = hmCanvas.width;
      const H = hmCanvas.height;
      const px = Math.min(W - 1, Math.max(0, Math.floor(((ev.clientX - box.left) * W) / box.width)));
      const py = Math.min(H - 1, Math.max(0, Math.floor(((ev.clientY - box.top) * H) / box.height)));
      const span = (p, count, size) => {
        if (count < size) {
          const i = Math.min(count - 1, Math.ceil(((p + 1) * count) / size) - 1);
          return [i, i];
        }
        return [Math.ceil((p * count) / size), Math.ceil(((p + 1) * count) / size) - 1];
      };
      const [i0, i1] = span(py, n, H);
      const [m0, m1] = span(px, rows, W);
      const who = (i) => `${cells[order[i]]}${known ? (isE[order[i]] ? ' E' : ' I') : ''}`;
      const cellText = i0 === i1 ? `cell ${who(i0)}` : `cells ${who(i0)} … ${who(i1)} (${i1 - i0 + 1}, mean)`;
      const timeText = m0 === m1 ? `t = ${fmt(time[m0], 5)}` : `t = ${fmt(time[m0], 5)} … ${fmt(time[m1], 5)}`;
      readout.textContent = `${cellText}, ${timeText}: ${main} = ${fmt(state.pixels[py * W + px], 4)}`;
    });
    hmCanvas.addEventListener('mouseleave', () => { readout.textContent = ''; });
    const retrace = () => {
      if (!state.data) return;
      plotTraces(state.controller ? anySignal(signal, state.controller.signal) : signal).catch(report);
    };
    traceIn.addEventListener('change', retrace);
    traceVar.addEventListener('change', retrace);
    await drawTrial(0);
  }

  // z: population means and the maximum over cells, per recorded row (the array is dropped
  // once reduced).
  async function plotZ(div, b, sig, { time, isE, nE, known, xlabel }) {
    const arr = await npy(`${base}/results/z?trials=${b}`, { signal: sig });
    const [, rows, n] = arr.shape;
    const data = arr.data;
    const mE = new Float64Array(rows);
    const mI = new Float64Array(rows);
    const mx = new Float64Array(rows);
    const nI = n - nE;
    let tick = performance.now();
    for (let m = 0; m < rows; m++) {
      let se = 0; let si = 0; let top = -Infinity;
      for (let k = 0; k < n; k++) {
        const v = data[m * n + k];
        if (isE[k]) se += v; else si += v;
        if (v > top) top = v;
      }
      mE[m] = nE ? se / nE : NaN;
      mI[m] = nI ? si / nI : NaN;
      mx[m] = top;
      if (performance.now() - tick > 12) {
        await yieldToLoop();
        if (sig.aborted) return;
        tick = performance.now();
      }
    }
    const series = [];
    if (nE && known) series.push({ label: 'mean z, E', values: mE, stroke: E_COLOR });
    if (nI && known) series.push({ label: 'mean z, I', values: mI, stroke: I_COLOR });
    if (!known) series.push({ label: 'mean z', values: mI, stroke: '#555' });
    series.push({ label: 'max z over cells', values: mx, stroke: '#7d3c98' });
    clear(div);
    linePlot(div, { x: time.length === rows ? time : Float64Array.from({ length: rows }, (_, m) => m), series, xlabel, ylabel: 'z', height: 220 });
  }

  async function plotY(div, b, dt, every, sig) {
    const arr = await npy(`${base}/results/y?trials=${b}`, sig ? { signal: sig } : { signal });
    const [, rows, n] = arr.shape;
    const time = Float64Array.from({ length: rows }, (_, m) => (m + 1) * every * dt);
    const series = [];
    for (let k = 0; k < Math.min(n, 20); k++) {
      const values = new Float64Array(rows);
      for (let m = 0; m < rows; m++) values[m] = arr.data[m * n + k];
      series.push({ label: `y${k}`, values, stroke: PALETTE[k % PALETTE.length] });
    }
    clear(div);
    if (!rows || !series.length) {
      div.append(h('p', { class: 'muted' }, 'no rows'));
      return;
    }
    linePlot(div, { x: time, series, xlabel: 't (step × dt)', ylabel: 'y', height: 200 });
  }

  follow().catch((e) => {
    if (e && e.name === 'AbortError') return;
    if (e instanceof ApiError && e.status === 404) {
      view.dataset.status = 'unknown';
      errorBox.replaceChildren(h('div', { class: 'message error', 'data-testid': 'run-error' },
        `No run ${id} here: `, describe(e)));
      return;
    }
    errorBox.replaceChildren(h('div', { class: 'message error', 'data-testid': 'run-error' }, describe(e)));
  });
  return () => {};
}

function withoutMeta(run) {
  const copy = { ...run };
  delete copy.meta;
  return copy;
}

function showCards(el, run) {
  const m = run.meta || {};
  const r = m.run || {};
  const s = m.summary || {};
  const model = m.model || {};
  const sizes = model.sizes || {};
  const t = m.timings || {};
  const items = [
    ['status', run.status],
    ['cells', sizes.N !== undefined ? `${sizes.N} (E ${sizes.E}, I ${sizes.I})` : null],
    ['inputs / outputs', sizes.n_in !== undefined ? `${sizes.n_in} / ${sizes.n_out}` : null],
    ['steps T', r.T], ['trials B', r.B], ['dt', r.dt], ['integrator', r.integrator],
    ['record', r.record ? `${(r.record.vars || []).join(' ')} every ${r.record.every}` : null],
    ['seed', r.seed],
    ['mean rate E', s.mean_rate_E !== undefined ? fmt(s.mean_rate_E, 5) : null],
    ['mean rate I', s.mean_rate_I !== undefined ? fmt(s.mean_rate_I, 5) : null],
    ['max z·dt', s.max_z_dt !== undefined ? fmt(s.max_z_dt, 4) : null],
    ['diverged', s.diverged === undefined ? null : s.diverged ? `yes, step ${s.diverged_step}, trial ${s.diverged_trial}` : 'no'],
    ['truncated', s.truncated ? `yes (${s.rows_written} rows)` : null],
    ['simulated in', t.simulate_s !== undefined && t.simulate_s !== null ? `${fmt(t.simulate_s, 3)} s` : null],
    ['created', fmtTime(run.created_at)], ['finished', fmtTime(run.finished_at)],
    ['model hash', model.hash ? `${model.hash.slice(0, 12)}…` : null],
  ].filter(([, v]) => v !== null && v !== undefined);
  el.replaceChildren(...items.map(([k, v]) => h('div', { class: 'card' },
    h('div', { class: 'k' }, k), h('div', { class: 'v' }, String(v)))));
}

function defaultTraceCells(cells, isE) {
  const out = [];
  const firstE = isE.indexOf(true);
  const firstI = isE.indexOf(false);
  if (firstE >= 0) out.push(cells[firstE]);
  if (firstI >= 0) out.push(cells[firstI]);
  if (out.length < 2 && cells.length > 1) out.push(cells[1]);
  return out;
}

// "0,5,12" or "0-3, 9" → {cells: [...]} or {error}
export function parseCells(text) {
  const cells = [];
  for (const part of text.split(/[\s,]+/).filter(Boolean)) {
    const range = /^(\d+)-(\d+)$/.exec(part);
    if (range) {
      const a = Number(range[1]);
      const b = Number(range[2]);
      if (b < a || b - a > 50) return { error: `range ${part}: at most 50 cells, low first` };
      for (let c = a; c <= b; c++) cells.push(c);
    } else if (/^\d+$/.test(part)) {
      cells.push(Number(part));
    } else {
      return { error: `${part}: give cell indices such as 0,5,12 or 0-3` };
    }
  }
  return { cells };
}

// A signal aborted when any of the given ones is.
function anySignal(...signals) {
  const c = new AbortController();
  for (const s of signals) {
    if (s.aborted) {
      c.abort();
      break;
    }
    s.addEventListener('abort', () => c.abort(), { once: true });
  }
  return c.signal;
}

// Row labels (E and I blocks) in the gutter, the E/I separator line over the canvas's edge
// (a DOM element: the canvas holds data pixels only) and time labels under it.
function heatmapAxes(gutter, area, xaxis, { n, nE, height, rows, time, known }) {
  clear(gutter);
  for (const el of area.querySelectorAll('.heatmap-sep')) el.remove();
  clear(xaxis);
  const pct = (rowIndex) => (100 * Math.floor((rowIndex * height) / n)) / height;
  if (known && nE > 0) {
    const lab = h('span', { class: 'block-label' }, 'E');
    lab.title = `E cells (${nE})`;
    lab.style.top = `${(pct(0) + pct(nE)) / 2}%`;
    gutter.append(lab);
  }
  if (known && nE < n) {
    const lab = h('span', { class: 'block-label' }, 'I');
    lab.title = `I cells (${n - nE})`;
    lab.style.top = `${(pct(nE) + 100) / 2}%`;
    gutter.append(lab);
  }
  if (known && nE > 0 && nE < n) {
    const sep = h('div', { class: 'heatmap-sep', 'data-testid': 'heatmap-separator' });
    sep.style.top = `${pct(nE)}%`;
    area.append(sep);
  }
  gutter.style.height = `${area.clientHeight || height}px`;
  // the canvas spans t from 0 (before the first recorded row) to the last recorded time
  const end = time[rows - 1];
  for (let k = 0; k <= 4; k++) xaxis.append(h('span', null, fmt((k * end) / 4, 4)));
}
