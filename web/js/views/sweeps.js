// #/sweeps: the sweeps (live, paged); #/sweeps/<id>: one sweep: its progress (followed through
// the change feed), its table, and a chosen metric as a line over one axis or a heat map over
// two, the other axes held at values chosen by selects.

import { h, clear } from '../dom.js';
import * as api from '../api.js';
import { viridis } from '../colormaps.js';
import { drawHeatmap, drawLegend } from '../heatmap.js';
import { linePlot } from '../plots.js';
import {
  childController,
  followChanges,
  listReloader,
  isAbort,
  errorBox,
  link,
  when,
  num,
  table,
  progressBar,
  setProgress,
  finiteRange,
  jsonPostForm,
  newestModelId,
} from '../viewkit.js';

const PAGE = 50;
const TABLE_ROWS_SHOWN = 500;
const NOT_METRICS = new Set(['index', 'run_id', 'status']);

export function render(root, params, ctx) {
  return params.id ? renderSweep(root, params.id, ctx) : renderList(root, ctx);
}

function countsText(c) {
  if (!c) return '';
  return ['succeeded', 'failed', 'diverged', 'cancelled', 'running', 'queued']
    .filter((k) => c[k])
    .map((k) => `${c[k]} ${k}`)
    .join(', ');
}

function renderList(root, ctx) {
  const ctl = childController(ctx && ctx.signal);
  const signal = ctl.signal;
  const listBox = h('div', { class: 'list-box' });
  const more = h('button', { type: 'button', class: 'more', hidden: true }, 'More');
  let shown = PAGE;
  clear(root);
  root.append(
    h(
      'section',
      { class: 'view sweeps-view', 'data-testid': 'sweeps-view' },
      h('h2', {}, 'Sweeps'),
      listBox,
      more,
      jsonPostForm({
        testid: 'sweep-create',
        title: 'New sweep',
        hint: 'A base model and run, and the axes to sweep (docs/SWEEPS.md). Every point is checked before anything is queued.',
        path: '/v1/sweeps',
        route: '/sweeps',
        button: 'Submit sweep',
        signal,
        example: async () => ({
          name: 'example',
          model_id: await newestModelId(signal),
          run: { dt: 0.1, seed: 1, inputs: { steps: 1000 }, record: { vars: ['r'], every: 100 } },
          axes: [{ path: '/run/seed', values: [1, 2, 3] }],
          metrics: { windows: [{ name: 'late_r', var: 'r', from: 500, to: 1000 }] },
        }),
      }),
    ),
  );

  async function load() {
    const items = [];
    let cursor = null;
    do {
      const q = `/v1/sweeps?limit=${Math.min(PAGE, shown - items.length)}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
      const page = await api.get(q, { signal });
      items.push(...page.items);
      cursor = page.next_cursor;
    } while (cursor && items.length < shown);
    const t = table('sweeps-table', ['id', 'name', 'status', 'points', 'runs', 'progress', 'created', 'labels'], []);
    const body = t.querySelector('tbody');
    for (const s of items) {
      body.append(
        h(
          'tr',
          { 'data-testid': 'sweep-row', 'data-sweep-id': s.id, 'data-status': s.status },
          h('td', {}, link(`#/sweeps/${s.id}`, s.id, { class: 'mono' })),
          h('td', {}, s.name === null || s.name === undefined ? '—' : String(s.name)),
          h('td', {}, h('span', { class: `status-badge status-${s.status}` }, String(s.status))),
          h('td', { class: 'num' }, String(s.points)),
          h('td', {}, countsText(s.counts)),
          h('td', {}, progressBar(s.progress, 'sweep-progress')),
          h('td', {}, when(s.created_at)),
          h('td', {}, Object.entries(s.labels || {}).map(([k, v]) => `${k}:${v}`).join(' ')),
        ),
      );
    }
    clear(listBox);
    listBox.append(t);
    if (!items.length) listBox.append(h('p', { class: 'empty' }, 'No sweep yet.'));
    more.hidden = !cursor;
  }
  const reload = listReloader(listBox, load);
  more.addEventListener('click', () => {
    shown += PAGE;
    reload();
  });
  reload().then(() => followChanges(signal, reload));
  return () => ctl.abort();
}

function valueText(v) {
  return typeof v === 'string' ? v : JSON.stringify(v);
}

// The metric's values as numbers (booleans as 0/1; null and the rest as NaN).
function metricValue(v) {
  if (typeof v === 'number') return v;
  if (typeof v === 'boolean') return v ? 1 : 0;
  return NaN;
}

function renderSweep(root, id, ctx) {
  const ctl = childController(ctx && ctx.signal);
  const signal = ctl.signal;
  const t0 = performance.now();
  const title = h('h2', {}, 'Sweep ', h('span', { class: 'mono' }, id));
  const meta = h('div', { class: 'meta-line' });
  const message = h('div', { class: 'view-message' });
  const progress = h('progress', { max: '1', 'data-testid': 'sweep-progress' });
  const progressText = h('span', { class: 'hint', 'data-testid': 'sweep-counts' });
  const axesBox = h('div', { class: 'axes-box' });
  const controls = h('div', { class: 'controls sweep-controls' });
  const plotBox = h('div', { class: 'plot sweep-plot', 'data-testid': 'sweep-plot' });
  const tableBox = h('div', { class: 'table-box' });
  const view = h(
    'section',
    { class: 'view sweep-view', 'data-testid': 'sweep-view', 'data-sweep-id': id },
    title,
    meta,
    h('div', { class: 'progress-line' }, progress, ' ', progressText),
    message,
    axesBox,
    h('div', { class: 'panel' }, h('h3', {}, 'Metric'), controls, plotBox),
    h('div', { class: 'panel' }, h('h3', {}, 'Table'), tableBox),
  );
  clear(root);
  root.append(view);

  let sweep = null;
  let tbl = null;
  const metricSel = h('select', { 'data-testid': 'sweep-metric' });
  const xSel = h('select', { 'data-testid': 'sweep-x' });
  const ySel = h('select', { 'data-testid': 'sweep-y' });
  const fixBox = h('span', { class: 'fix-box' });
  const fixSels = new Map(); // axis index → select
  let plot = null;

  function drawHeader() {
    const s = sweep;
    view.dataset.status = s.status;
    clear(title);
    title.append('Sweep ', s.name ? `${s.name} ` : '', h('span', { class: 'mono id' }, s.id));
    setProgress(progress, s.progress);
    progressText.textContent = `${s.status} · ${s.points} points: ${countsText(s.counts)}`;
    clear(meta);
    meta.append(`${s.mode} of ${s.axes.length} ax${s.axes.length === 1 ? 'is' : 'es'} · created ${when(s.created_at)}`);
    if (s.finished_at) meta.append(` · finished ${when(s.finished_at)}`);
    const models = (s.models || []).slice(0, 20);
    if (models.length) {
      meta.append(' · models: ');
      models.forEach((m, i) => meta.append(i ? ', ' : '', link(`#/models/${m}`, m, { class: 'mono' })));
      if (s.models.length > models.length) meta.append(` … (${s.models.length} in all)`);
    }
    if (s.status !== 'finished') {
      const b = h('button', { type: 'button', 'data-testid': 'sweep-cancel', class: 'danger' }, 'Cancel');
      b.addEventListener('click', async () => {
        try {
          await api.post(`/v1/sweeps/${id}/cancel`, {}, { signal });
        } catch (err) {
          if (!isAbort(err)) message.append(errorBox(err));
        }
      });
      meta.append(' ', b);
    }
    clear(axesBox);
    axesBox.append(
      table(
        'sweep-axes',
        ['axis', 'values'],
        s.axes.map((a) => [h('code', {}, a.path), a.values.map(valueText).join(', ')]),
      ),
    );
  }

  function metricColumns() {
    const axisPaths = new Set(sweep.axes.map((a) => a.path));
    return tbl.columns.filter((c) => !NOT_METRICS.has(c) && !axisPaths.has(c));
  }

  function buildControls() {
    const keepMetric = metricSel.value;
    const cols = metricColumns();
    clear(metricSel);
    for (const c of cols) metricSel.append(h('option', { value: c }, c));
    if (cols.includes(keepMetric)) metricSel.value = keepMetric;
    else {
      const pref = cols.find((c) => /\.mean\.E$/.test(c)) || cols.find((c) => c.startsWith('final.r')) || cols[0];
      if (pref) metricSel.value = pref;
    }
    const axes = sweep.axes;
    if (!xSel.options.length) {
      axes.forEach((a, k) => xSel.append(h('option', { value: String(k) }, a.path)));
      xSel.value = '0';
    }
    fillY();
    clear(controls);
    controls.append(h('label', {}, 'metric ', metricSel));
    if (axes.length > 1 || sweep.mode === 'zip') controls.append(' ', h('label', {}, 'x ', xSel));
    if (sweep.mode === 'grid' && axes.length > 1) controls.append(' ', h('label', {}, 'y ', ySel));
    controls.append(' ', fixBox);
    fillFixes();
  }

  function fillY() {
    const first = !ySel.dataset.init;
    const keep = ySel.value;
    clear(ySel);
    ySel.append(h('option', { value: '' }, 'none: line plot'));
    sweep.axes.forEach((a, k) => {
      if (String(k) !== xSel.value) ySel.append(h('option', { value: String(k) }, a.path));
    });
    const other = ySel.options.length > 1 ? ySel.options[1].value : '';
    if (first) ySel.value = other;
    else if (keep === xSel.value) ySel.value = other;
    else if ([...ySel.options].some((o) => o.value === keep)) ySel.value = keep;
    else ySel.value = '';
    ySel.dataset.init = '1';
  }

  function fillFixes() {
    clear(fixBox);
    if (sweep.mode !== 'grid') return;
    const x = Number(xSel.value);
    const y = ySel.value === '' ? -1 : Number(ySel.value);
    sweep.axes.forEach((a, k) => {
      if (k === x || k === y) return;
      let sel = fixSels.get(k);
      if (!sel) {
        sel = h('select', { 'data-testid': 'sweep-fix', 'data-axis': a.path });
        a.values.forEach((v, i) => sel.append(h('option', { value: String(i) }, valueText(v))));
        sel.addEventListener('change', drawPlot);
        fixSels.set(k, sel);
      }
      fixBox.append(h('label', {}, `${a.path} = `, sel), ' ');
    });
  }

  metricSel.addEventListener('change', drawPlot);
  xSel.addEventListener('change', () => {
    fillY();
    fillFixes();
    drawPlot();
  });
  ySel.addEventListener('change', () => {
    fillFixes();
    drawPlot();
  });

  // Grid: the point of the axis indices idx (the last axis fastest). Zip: idx[0].
  function pointOf(idx) {
    if (sweep.mode !== 'grid') return idx[0];
    let p = 0;
    sweep.axes.forEach((a, k) => {
      p = p * a.values.length + idx[k];
    });
    return p;
  }

  function baseIndices() {
    return sweep.axes.map((a, k) => (fixSels.get(k) ? Number(fixSels.get(k).value) : 0));
  }

  function drawPlot() {
    if (plot && plot.destroy) plot.destroy();
    plot = null;
    clear(plotBox);
    const metric = metricSel.value;
    const col = tbl.columns.indexOf(metric);
    if (col < 0) {
      plotBox.append(h('p', { class: 'note' }, 'This sweep has no metric columns (it was submitted without metrics).'));
      markPlotted();
      return;
    }
    const runCol = tbl.columns.indexOf('run_id');
    const x = Number(xSel.value || 0);
    const y = sweep.mode === 'grid' && ySel.value !== '' ? Number(ySel.value) : -1;
    const xa = sweep.axes[x];
    const numericX = xa.values.every((v) => typeof v === 'number');
    if (y < 0) {
      // A line over axis x: the other axes held at their selected values.
      let pts;
      if (sweep.mode === 'grid') {
        pts = xa.values.map((v, i) => {
          const idx = baseIndices();
          idx[x] = i;
          return { xv: numericX ? v : i, p: pointOf(idx) };
        });
      } else {
        pts = xa.values.map((v, i) => ({ xv: numericX ? v : i, p: i }));
      }
      if (numericX) pts.sort((a, b) => a.xv - b.xv);
      const xs = Float64Array.from(pts, (q) => q.xv);
      const ys = Float64Array.from(pts, (q) => (tbl.rows[q.p] ? metricValue(tbl.rows[q.p][col]) : NaN));
      plotBox.dataset.kind = 'line';
      const holder = h('div', { class: 'uplot-holder' });
      plotBox.append(holder);
      plot = linePlot(holder, {
        x: xs,
        series: [{ label: metric, values: ys }],
        xlabel: numericX ? xa.path : `${xa.path} (value index)`,
        ylabel: metric,
        height: 300,
        width: Math.min(760, plotBox.clientWidth || 760),
      });
      if (!numericX) {
        plotBox.append(h('p', { class: 'hint' }, xa.values.map((v, i) => `${i}: ${valueText(v)}`).join(' · ')));
      }
      markPlotted();
      return;
    }
    // A heat map over axes x (columns) and y (rows, the last value on top).
    const ya = sweep.axes[y];
    const nx = xa.values.length;
    const ny = ya.values.length;
    const values = new Float64Array(nx * ny);
    const runs = new Array(nx * ny);
    for (let b = 0; b < ny; b++) {
      for (let a = 0; a < nx; a++) {
        const idx = baseIndices();
        idx[x] = a;
        idx[y] = b;
        const row = tbl.rows[pointOf(idx)];
        const r = ny - 1 - b;
        values[r * nx + a] = row ? metricValue(row[col]) : NaN;
        runs[r * nx + a] = row && runCol >= 0 ? row[runCol] : null;
      }
    }
    const cell = Math.max(4, Math.min(96, Math.floor(480 / Math.max(nx, ny))));
    const W = Math.min(600, nx * cell);
    const H = Math.min(600, ny * cell);
    const canvas = h('canvas', { 'data-testid': 'sweep-heatmap', class: 'heatmap clickable' });
    canvas.width = W;
    canvas.height = H;
    canvas.style.width = `${W}px`;
    canvas.style.height = `${H}px`;
    const range = finiteRange(values);
    const vmin = Number.isFinite(range.min) ? range.min : 0;
    const vmax = Number.isFinite(range.max) ? (range.max > vmin ? range.max : vmin + 1) : 1;
    const yLabels = h('div', { class: 'hm-ylabels' });
    yLabels.style.height = `${H}px`;
    // At most about 12 labels on an axis: every k-th value when there are more.
    const every = (n) => Math.max(1, Math.ceil(n / 12));
    for (let r = 0; r < ny; r++) {
      const b = ny - 1 - r;
      const l = h('span', {}, b % every(ny) === 0 ? valueText(ya.values[b]) : '');
      l.style.height = `${H / ny}px`;
      yLabels.append(l);
    }
    const xLabels = h('div', { class: 'hm-xlabels' });
    xLabels.style.width = `${W}px`;
    for (let a = 0; a < nx; a++) {
      const l = h('span', {}, a % every(nx) === 0 ? valueText(xa.values[a]) : '');
      l.style.width = `${W / nx}px`;
      xLabels.append(l);
    }
    const xCaption = h('div', { class: 'hm-caption' }, xa.path);
    xCaption.style.width = `${W}px`;
    const readout = h('div', { class: 'plane-readout' }, '\u00a0');
    const cellAt = (ev) => {
      const rect = canvas.getBoundingClientRect();
      const a = Math.min(nx - 1, Math.max(0, Math.floor(((ev.clientX - rect.left) * nx) / rect.width)));
      const r = Math.min(ny - 1, Math.max(0, Math.floor(((ev.clientY - rect.top) * ny) / rect.height)));
      return [a, r];
    };
    canvas.addEventListener('mousemove', (ev) => {
      const [a, r] = cellAt(ev);
      readout.textContent = `${xa.path} = ${valueText(xa.values[a])}, ${ya.path} = ${valueText(ya.values[ny - 1 - r])}: ${metric} = ${num(values[r * nx + a], 6)}${runs[r * nx + a] ? ` (run ${runs[r * nx + a]}; click to open)` : ''}`;
    });
    canvas.addEventListener('click', (ev) => {
      const [a, r] = cellAt(ev);
      if (runs[r * nx + a]) window.location.hash = `#/runs/${runs[r * nx + a]}`;
    });
    const legend = h('canvas', { 'data-testid': 'sweep-legend', class: 'legend-bar' });
    legend.width = 240;
    legend.height = 12;
    plotBox.dataset.kind = 'heatmap';
    plotBox.append(
      h('div', { class: 'hm-row' }, h('div', { class: 'hm-caption vertical' }, ya.path), yLabels, canvas),
      h('div', { class: 'hm-xaxis' }, xLabels, xCaption),
      readout,
      h('div', { class: 'legend' }, legend, h('span', { class: 'hint' }, ` ${metric} (grey: no value yet)`)),
    );
    drawLegend(legend, { vmin, vmax, colormap: viridis });
    drawHeatmap(canvas, { rows: ny, cols: nx, values, vmin, vmax, colormap: viridis, signal })
      .then(markPlotted)
      .catch((err) => {
        if (!isAbort(err)) plotBox.append(errorBox(err));
      });
  }

  function markPlotted() {
    if (view.dataset.plotted !== '1') {
      view.dataset.plotted = '1';
      view.dataset.plotMs = String(Math.round(performance.now() - t0));
    }
  }

  function drawTable() {
    clear(tableBox);
    const runCol = tbl.columns.indexOf('run_id');
    const rows = tbl.rows.slice(0, TABLE_ROWS_SHOWN).map((row) =>
      row.map((v, c) => (c === runCol && v ? link(`#/runs/${v}`, String(v), { class: 'mono' }) : typeof v === 'number' ? num(v, 6) : v === null ? '—' : valueText(v))),
    );
    tableBox.append(
      table('sweep-table', tbl.columns, rows, (i) => ({
        'data-testid': 'sweep-table-row',
        'data-index': String(tbl.rows[i][0]),
      })),
    );
    if (tbl.rows.length > TABLE_ROWS_SHOWN) {
      tableBox.append(h('p', { class: 'hint' }, `The first ${TABLE_ROWS_SHOWN} of ${tbl.rows.length} points; the whole table: GET /v1/sweeps/${id}/table?format=csv.`));
    }
    const csv = h('button', { type: 'button', 'data-testid': 'sweep-table-csv' }, 'Download the table (CSV)');
    csv.addEventListener('click', () => api.download(`/v1/sweeps/${id}/table?format=csv`, `${id}_table.csv`).catch((err) => tableBox.append(errorBox(err))));
    tableBox.append(csv);
  }

  let lastKey = '';
  async function load() {
    const [s, t] = await Promise.all([api.get(`/v1/sweeps/${id}`, { signal }), api.get(`/v1/sweeps/${id}/table`, { signal })]);
    sweep = s;
    tbl = t;
    drawHeader();
    const key = JSON.stringify(t.rows);
    if (key === lastKey) return;
    const first = lastKey === '';
    lastKey = key;
    if (first) buildControls();
    else {
      const cols = metricColumns();
      if (cols.length !== metricSel.options.length) buildControls();
    }
    drawTable();
    drawPlot();
  }

  (async () => {
    try {
      await load();
    } catch (err) {
      if (isAbort(err)) return;
      message.append(errorBox(err));
      return;
    }
    await followChanges(
      signal,
      async () => {
        if (sweep && sweep.status === 'finished') return;
        try {
          await load();
        } catch (err) {
          if (!isAbort(err)) {
            clear(message);
            message.append(errorBox(err));
          }
        }
      },
      sweep && sweep.points > 1000 ? 3000 : 1000,
    );
  })();
  return () => {
    ctl.abort();
    if (plot && plot.destroy) plot.destroy();
  };
}
