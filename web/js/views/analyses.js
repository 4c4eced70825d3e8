// #/analyses: the analyses (live, paged, filtered by kind and status); #/analyses/<id>: one
// analysis: its progress (long poll), summary, request, and its results plotted by kind:
// spectrum eigenvalues in the complex plane, fixed points with their stability, Lyapunov
// exponents' running estimates, activity statistics.

import { h, clear } from '../dom.js';
import * as api from '../api.js';
import { diverging } from '../colormaps.js';
import { drawHeatmap, drawLegend } from '../heatmap.js';
import { linePlot } from '../plots.js';
import { planePlot, eigenSet, spectrumLines } from '../complexplot.js';
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
  prettyJson,
  leakRange,
  leakFromDocument,
  sleep,
  jsonPostForm,
  newestModelId,
} from '../viewkit.js';

const PAGE = 50;
const ENDED = new Set(['succeeded', 'failed', 'cancelled', 'diverged']);
const KINDS = ['spectrum', 'fixed_points', 'lyapunov', 'activity'];
const STATUSES = ['queued', 'running', 'succeeded', 'failed', 'cancelled'];

export function render(root, params, ctx) {
  return params.id ? renderAnalysis(root, params.id, ctx) : renderList(root, params, ctx);
}

// One line of a summary for the list.
function summaryLine(a) {
  const s = a.summary;
  if (!s) return a.error ? String(a.error.detail || a.error.title || '') : '';
  switch (a.analysis) {
    case 'spectrum':
      return `of ${s.of}: radius ${num(s.spectral_radius)}, abscissa ${num(s.spectral_abscissa)}`;
    case 'fixed_points':
      return `${s.fixed_points} fixed (${s.stable} stable), ${s.slow_points} slow`;
    case 'lyapunov':
      return s.diverged ? 'diverged' : `λ_max ${num(s.max_exponent)}`;
    case 'activity':
      return `PR ${num(s.participation_ratio)}, mean corr ${num(s.mean_correlation)}`;
    default:
      return '';
  }
}

function renderList(root, params, ctx) {
  const ctl = childController(ctx && ctx.signal);
  const signal = ctl.signal;
  const query = params.query || new URLSearchParams();
  const kindSel = h('select', { 'data-testid': 'analyses-kind' }, h('option', { value: '' }, 'every kind'), ...KINDS.map((k) => h('option', { value: k }, k)));
  const statusSel = h('select', { 'data-testid': 'analyses-status' }, h('option', { value: '' }, 'every status'), ...STATUSES.map((k) => h('option', { value: k }, k)));
  kindSel.value = KINDS.includes(query.get('kind')) ? query.get('kind') : '';
  statusSel.value = STATUSES.includes(query.get('status')) ? query.get('status') : '';
  const modelFilter = query.get('model_id') || '';
  const listBox = h('div', { class: 'list-box' });
  const more = h('button', { type: 'button', class: 'more', hidden: true }, 'More');
  let shown = PAGE;
  clear(root);
  root.append(
    h(
      'section',
      { class: 'view analyses-view', 'data-testid': 'analyses-view' },
      h('h2', {}, 'Analyses'),
      h('div', { class: 'controls' }, h('label', {}, 'kind ', kindSel), ' ', h('label', {}, 'status ', statusSel), modelFilter ? ` · model ${modelFilter}` : ''),
      listBox,
      more,
      jsonPostForm({
        testid: 'analysis-create',
        title: 'New analysis',
        hint: 'kind spectrum, fixed_points, lyapunov or activity and its options (docs/ANALYSIS.md).',
        path: '/v1/analyses',
        route: '/analyses',
        button: 'Submit analysis',
        signal,
        example: async () => ({ kind: 'spectrum', model_id: /^m_[0-9a-f]+$/.test(modelFilter) ? modelFilter : await newestModelId(signal), of: 'W' }),
      }),
    ),
  );

  async function load() {
    const q = new URLSearchParams();
    if (kindSel.value) q.set('kind', kindSel.value);
    if (statusSel.value) q.set('status', statusSel.value);
    if (/^m_[0-9a-f]+$/.test(modelFilter)) q.set('model_id', modelFilter);
    const items = [];
    let cursor = null;
    do {
      q.set('limit', String(Math.min(PAGE, shown - items.length)));
      if (cursor) q.set('cursor', cursor);
      const page = await api.get(`/v1/analyses?${q}`, { signal });
      items.push(...page.items);
      cursor = page.next_cursor;
    } while (cursor && items.length < shown);
    const t = table('analyses-table', ['id', 'kind', 'model', 'status', 'progress', 'created', 'summary'], []);
    const body = t.querySelector('tbody');
    for (const a of items) {
      body.append(
        h(
          'tr',
          { 'data-testid': 'analysis-row', 'data-analysis-id': a.id, 'data-status': a.status, 'data-kind': a.analysis },
          h('td', {}, link(`#/analyses/${a.id}`, a.id, { class: 'mono' })),
          h('td', {}, String(a.analysis)),
          h('td', {}, a.model_id ? link(`#/models/${a.model_id}`, a.model_id, { class: 'mono' }) : 'inline'),
          h('td', {}, h('span', { class: `status-badge status-${a.status}` }, String(a.status))),
          h('td', {}, progressBar(a.progress, 'analysis-progress')),
          h('td', {}, when(a.created_at)),
          h('td', {}, summaryLine(a)),
        ),
      );
    }
    clear(listBox);
    listBox.append(t);
    if (!items.length) listBox.append(h('p', { class: 'empty' }, 'No analysis matches.'));
    more.hidden = !cursor;
  }
  const reload = listReloader(listBox, load);
  kindSel.addEventListener('change', reload);
  statusSel.addEventListener('change', reload);
  more.addEventListener('click', () => {
    shown += PAGE;
    reload();
  });
  reload().then(() => followChanges(signal, reload));
  return () => ctl.abort();
}

// ---------------------------------------------------------------------------------------------

function summaryTable(s) {
  const rows = [];
  for (const [k, v] of Object.entries(s || {})) {
    if (k === 'points') continue;
    let text;
    if (v === null) text = '—';
    else if (typeof v === 'object') {
      text = Array.isArray(v) && v.every((x) => typeof x === 'number' || x === null) ? v.map((x) => num(x, 6)).join(', ') : JSON.stringify(v);
    } else text = typeof v === 'number' ? num(v, 8) : String(v);
    rows.push([k, text]);
  }
  return table('analysis-summary', ['', ''], rows);
}

async function modelInfo(doc, signal) {
  // {NE, NI, leak} of the analysed model: a stored model's document and G_b, or the inline one.
  // The leak from the document when it is written out (a number or N numbers), else G_b.
  let mdoc = doc.request && doc.request.model;
  let leak = null;
  if (doc.model_id) {
    try {
      const m = await api.get(`/v1/models/${doc.model_id}`, { signal });
      mdoc = m.model;
      leak = leakFromDocument(mdoc);
      if (!leak && m.state === 'ready') leak = await leakRange(doc.model_id, signal);
    } catch (err) {
      if (isAbort(err)) throw err;
    }
  }
  if (!leak) leak = leakFromDocument(mdoc);
  const p = (mdoc && mdoc.populations) || {};
  return { NE: p.E || 0, NI: p.I || 0, leak };
}

function renderAnalysis(root, id, ctx) {
  const ctl = childController(ctx && ctx.signal);
  const signal = ctl.signal;
  const t0 = performance.now();
  const title = h('h2', {}, 'Analysis ', h('span', { class: 'mono' }, id));
  const meta = h('div', { class: 'meta-line' });
  const progress = h('progress', { max: '1', 'data-testid': 'analysis-progress' });
  const progressText = h('span', { class: 'hint', 'data-testid': 'analysis-status' });
  const message = h('div', { class: 'view-message' });
  const plotBox = h('div', { class: 'plot', 'data-testid': 'analysis-plot' });
  const summaryBox = h('div', { class: 'panel' }, h('h3', {}, 'Summary'));
  const resultsBox = h('div', { class: 'panel' }, h('h3', {}, 'Results'));
  const requestPre = h('pre', { class: 'doc', 'data-testid': 'analysis-request' });
  const view = h(
    'section',
    { class: 'view analysis-view', 'data-testid': 'analysis-view', 'data-analysis-id': id },
    title,
    meta,
    h('div', { class: 'progress-line' }, progress, ' ', progressText),
    message,
    h('div', { class: 'panel' }, h('h3', {}, 'Plots'), plotBox),
    summaryBox,
    resultsBox,
    h('div', { class: 'panel' }, h('h3', {}, 'Request'), requestPre),
  );
  clear(root);
  root.append(view);
  const plots = [];

  function markPlotted() {
    if (view.dataset.plotted !== '1') {
      view.dataset.plotted = '1';
      view.dataset.plotMs = String(Math.round(performance.now() - t0));
    }
  }

  function drawHeader(doc) {
    view.dataset.status = doc.status;
    view.dataset.kind = doc.analysis;
    clear(title);
    title.append(`Analysis ${doc.analysis} `, h('span', { class: 'mono id' }, doc.id));
    setProgress(progress, doc.progress);
    const p = doc.progress || {};
    progressText.textContent = `${doc.status} · ${p.done}/${p.total}`;
    clear(meta);
    if (doc.model_id) meta.append('model ', link(`#/models/${doc.model_id}`, doc.model_id, { class: 'mono' }), ' · ');
    else meta.append('inline model · ');
    const req = doc.request || {};
    if (req.run_id) meta.append('run ', link(`#/runs/${req.run_id}`, req.run_id, { class: 'mono' }), ' · ');
    meta.append(`created ${when(doc.created_at)}`);
    if (doc.started_at) meta.append(` · started ${when(doc.started_at)}`);
    if (doc.finished_at) meta.append(` · finished ${when(doc.finished_at)}`);
    if (!ENDED.has(doc.status)) {
      const b = h('button', { type: 'button', class: 'danger', 'data-testid': 'analysis-cancel' }, 'Cancel');
      b.addEventListener('click', () => api.post(`/v1/analyses/${id}/cancel`, {}, { signal }).catch((err) => isAbort(err) || message.append(errorBox(err))));
      meta.append(' ', b);
    }
    if (doc.request) requestPre.textContent = prettyJson(doc.request);
    clear(message);
    if (doc.error) message.append(errorBox({ problem: doc.error }));
  }

  function drawResultsList(doc) {
    clear(resultsBox);
    resultsBox.append(h('h3', {}, 'Results'));
    const entries = Object.entries(doc.results || {});
    if (!entries.length) {
      resultsBox.append(h('p', { class: 'note' }, ENDED.has(doc.status) ? 'No result.' : 'Once it has ended.'));
      return;
    }
    const rows = entries.map(([name, r]) => {
      const dl = h('span', { class: 'downloads' });
      for (const fmtName of ['npy', 'json', 'csv']) {
        const b = h('button', { type: 'button', class: 'small', 'data-var': name, 'data-format': fmtName }, fmtName);
        b.addEventListener('click', () => api.download(`${r.url}?format=${fmtName}`, `${id}_${name}.${fmtName}`).catch((err) => resultsBox.append(errorBox(err))));
        dl.append(b, ' ');
      }
      return [h('code', {}, name), String(r.dtype), `[${(r.shape || []).join(', ')}]`, dl];
    });
    resultsBox.append(table('analysis-results', ['name', 'dtype', 'shape', 'download'], rows));
  }

  // ---- plots by kind ----
  async function plotSpectrum(doc) {
    const s = doc.summary || {};
    const of = s.of || 'jacobian';
    const ev = await api.npy(`/v1/analyses/${id}/results/eigenvalues`, { signal });
    const info = await modelInfo(doc, signal);
    const lk = of === 'jacobian' && Number.isFinite(s.min_leak) ? { min: s.min_leak, max: s.max_leak } : info.leak;
    const set = eigenSet(ev.data, 0, ev.shape[0], `eigenvalues of ${of === 'jacobian' ? 'J' : of}`, '#1f77b4');
    const box = h('div', { class: 'plot-cell' });
    plotBox.append(box);
    planePlot(box, { sets: [set], vlines: spectrumLines(of, lk), circle: true, equal: true, xlabel: 'Re λ', ylabel: 'Im λ', width: 460, testid: 'eig-canvas' });
    if (doc.results && doc.results.jacobian) {
      const n = doc.results.jacobian.shape[0];
      if (n <= 1000) {
        const J = await api.npy(`/v1/analyses/${id}/results/jacobian`, { signal });
        let amax = 0;
        for (let i = 0; i < J.data.length; i++) amax = Math.max(amax, Math.abs(J.data[i]));
        if (!(amax > 0)) amax = 1;
        const S = n >= 360 ? 360 : n * Math.max(1, Math.floor(360 / n));
        const canvas = h('canvas', { class: 'heatmap', 'data-testid': 'jacobian-heatmap' });
        canvas.width = S;
        canvas.height = S;
        canvas.style.width = `${S}px`;
        canvas.style.height = `${S}px`;
        const legend = h('canvas', { class: 'legend-bar' });
        legend.width = 200;
        legend.height = 12;
        plotBox.append(h('div', { class: 'plot-cell' }, h('h4', {}, 'Jacobian J (row i: ∂F_i/∂V_j)'), canvas, h('div', { class: 'legend' }, legend)));
        await drawHeatmap(canvas, { rows: n, cols: n, values: J.data, vmin: -amax, vmax: amax, colormap: diverging, signal });
        drawLegend(legend, { vmin: -amax, vmax: amax, colormap: diverging });
      }
    }
  }

  async function plotFixedPoints(doc) {
    const s = doc.summary || {};
    const points = s.points || [];
    const info = await modelInfo(doc, signal);
    const N = info.NE + info.NI;
    const ev = points.length ? await api.npy(`/v1/analyses/${id}/results/eigenvalues`, { signal }) : null;
    const r = points.length && doc.results.r && doc.results.r.shape[0] * doc.results.r.shape[1] <= 4e6 ? await api.npy(`/v1/analyses/${id}/results/r`, { signal }) : null;
    const meanRate = (k, from, to) => {
      if (!r || to <= from) return NaN;
      const n = r.shape[1];
      let sum = 0;
      for (let i = from; i < to; i++) sum += r.data[k * n + i];
      return sum / (to - from);
    };
    const eigBox = h('div', { class: 'plot-cell' });
    const sel = h('select', { 'data-testid': 'fixed-point-select' });
    points.forEach((p) => sel.append(h('option', { value: String(p.index) }, `point ${p.index}: ${p.slow ? 'slow' : p.stable ? 'stable' : 'unstable'}`)));
    const drawEig = () => {
      clear(eigBox);
      if (!ev) return;
      const k = Number(sel.value);
      const n = ev.shape[1];
      eigBox.append(h('h4', {}, `Jacobian eigenvalues at point ${k}`));
      planePlot(eigBox, {
        sets: [eigenSet(ev.data, k * n, n, `eigenvalues of J at point ${k}`, '#1f77b4')],
        vlines: spectrumLines('jacobian', info.leak),
        circle: true,
        equal: true,
        xlabel: 'Re λ',
        ylabel: 'Im λ',
        width: 420,
        testid: 'eig-canvas',
      });
    };
    sel.addEventListener('change', drawEig);
    const cols = ['#', 'kind', 'stable', 'unstable directions', '|F(V)|', 'hits', 'max |V|'];
    if (r && info.NE) cols.push('mean r E');
    if (r && info.NI) cols.push('mean r I');
    const rows = points.map((p) => {
      const c = [String(p.index), p.slow ? 'slow point' : 'fixed point', p.stable ? 'stable' : 'unstable', String(p.n_unstable), num(p.residual, 3), String(p.hits), num(p.max_abs_V)];
      if (r && info.NE) c.push(num(meanRate(p.index, 0, info.NE)));
      if (r && info.NI) c.push(num(meanRate(p.index, info.NE, N)));
      return c;
    });
    plotBox.append(
      h('div', { class: 'plot-cell wide' }, table('fixed-points', cols, rows, (i) => ({ 'data-testid': 'fixed-point-row', 'data-stable': points[i].stable ? '1' : '0', class: points[i].stable ? 'stable' : 'unstable' }))),
      h('div', { class: 'controls' }, points.length ? h('label', {}, 'eigenvalues of ', sel) : h('p', { class: 'note' }, 'No point found.')),
      eigBox,
    );
    drawEig();
    if (r && info.NE && info.NI && points.length) {
      const box = h('div', { class: 'plot-cell' }, h('h4', {}, 'Points by population rate'));
      plotBox.append(box);
      const groups = [
        ['stable', '#2ca02c', (p) => !p.slow && p.stable],
        ['unstable', '#d62728', (p) => !p.slow && !p.stable],
        ['slow points', '#999999', (p) => p.slow],
      ];
      const sets = [];
      for (const [label, color, test] of groups) {
        const g = points.filter(test);
        if (g.length) sets.push({ label, color, x: Float64Array.from(g, (p) => meanRate(p.index, 0, info.NE)), y: Float64Array.from(g, (p) => meanRate(p.index, info.NE, N)) });
      }
      planePlot(box, { sets, xlabel: 'mean r (E)', ylabel: 'mean r (I)', width: 360, height: 280, includeZero: true });
    }
  }

  async function plotLyapunov(doc) {
    const s = doc.summary || {};
    const [trace, tt] = await Promise.all([api.npy(`/v1/analyses/${id}/results/trace`, { signal }), api.npy(`/v1/analyses/${id}/results/trace_time`, { signal })]);
    const rows = trace.shape[0];
    const k = trace.shape[1];
    const series = [];
    for (let j = 0; j < k && j < 10; j++) {
      const v = new Float64Array(rows);
      for (let i = 0; i < rows; i++) v[i] = trace.data[i * k + j];
      series.push({ label: `λ${j + 1}`, values: v });
    }
    series.push({ label: '0', values: new Float64Array(rows), stroke: '#999' });
    const box = h('div', { class: 'plot-cell wide' }, h('h4', {}, 'Running estimates of the exponents'));
    plotBox.append(box);
    plots.push(linePlot(box, { x: Float64Array.from(tt.data), series, xlabel: 'time after the transient', ylabel: 'exponent (1/time)', height: 300, width: Math.min(800, plotBox.clientWidth || 800) }));
    const ex = s.exponents || [];
    plotBox.append(
      table('lyapunov-exponents', ['i', 'exponent'], ex.map((x, i) => [String(i + 1), num(x, 8)])),
      h('p', { class: 'hint' }, s.diverged ? 'The trajectory diverged: the exponents are not defined.' : `λ_max ${num(s.max_exponent, 6)}: ${s.max_exponent > 0 ? 'chaotic (positive)' : 'not chaotic (≤ 0)'}; sum ${num(s.sum, 6)}, mean tr J ${num(s.mean_trace_J, 6)}.`),
    );
  }

  async function plotActivity(doc) {
    const res = doc.results || {};
    const get = (name) => (res[name] ? api.npy(`/v1/analyses/${id}/results/${name}`, { signal }) : Promise.resolve(null));
    const [ratio, mean, variance, balance] = await Promise.all([get('pca_ratio'), get('unit_mean'), get('unit_var'), get('balance')]);
    const s = doc.summary || {};
    const w = Math.min(560, plotBox.clientWidth || 560);
    if (ratio) {
      const n = Math.min(ratio.data.length, 200);
      const x = Float64Array.from({ length: n }, (_, i) => i + 1);
      const cum = new Float64Array(n);
      let acc = 0;
      for (let i = 0; i < n; i++) {
        acc += ratio.data[i];
        cum[i] = acc;
      }
      const box = h('div', { class: 'plot-cell' }, h('h4', {}, `PCA: explained variance (participation ratio ${num(s.participation_ratio)})`));
      plotBox.append(box);
      plots.push(linePlot(box, { x, series: [{ label: 'ratio', values: ratio.data.subarray(0, n) }, { label: 'cumulative', values: cum }], xlabel: 'component', ylabel: 'fraction of variance', height: 240, width: w }));
    }
    if (mean) {
      const n = mean.data.length;
      const x = Float64Array.from({ length: n }, (_, i) => i);
      const series = [{ label: 'mean', values: mean.data }];
      if (variance) series.push({ label: 'variance', values: variance.data });
      const box = h('div', { class: 'plot-cell' }, h('h4', {}, `Per recorded unit (${s.var || 'r'})`));
      plotBox.append(box);
      plots.push(linePlot(box, { x, series, xlabel: 'recorded unit', ylabel: s.var || 'r', height: 240, width: w }));
    }
    if (balance) {
      const n = balance.data.length;
      const box = h('div', { class: 'plot-cell' }, h('h4', {}, 'E/I balance index per cell (1: net excitation, −1: net inhibition)'));
      plotBox.append(box);
      plots.push(linePlot(box, { x: Float64Array.from({ length: n }, (_, i) => i), series: [{ label: 'balance', values: balance.data }], xlabel: 'cell (E first)', ylabel: 'balance', height: 240, width: w }));
    }
    const pops = s.populations || {};
    const rows = Object.entries(pops).map(([k, v]) => [k, String(v.cells), num(v.mean, 6), num(v.var, 6)]);
    if (rows.length) plotBox.append(table('activity-populations', ['population', 'cells', 'mean', 'variance'], rows));
  }

  const PLOTTERS = { spectrum: plotSpectrum, fixed_points: plotFixedPoints, lyapunov: plotLyapunov, activity: plotActivity };

  async function drawEnded(doc) {
    clear(summaryBox);
    summaryBox.append(h('h3', {}, 'Summary'), doc.summary ? summaryTable(doc.summary) : h('p', { class: 'note' }, 'No summary (it did not succeed).'));
    drawResultsList(doc);
    clear(plotBox);
    const loading = h('p', { class: 'note' }, 'loading the results…');
    plotBox.append(loading);
    if (doc.status !== 'succeeded' || !PLOTTERS[doc.analysis]) {
      loading.remove();
      plotBox.append(h('p', { class: 'note' }, `Nothing to plot: the analysis ${doc.status}.`));
      markPlotted();
      return;
    }
    try {
      await PLOTTERS[doc.analysis](doc);
      loading.remove();
      markPlotted();
    } catch (err) {
      if (isAbort(err)) return;
      plotBox.append(errorBox(err));
    }
  }

  (async () => {
    let doc;
    try {
      doc = await api.get(`/v1/analyses/${id}`, { signal });
      drawHeader(doc);
      drawResultsList(doc);
      clear(plotBox);
      if (!ENDED.has(doc.status)) plotBox.append(h('p', { class: 'note' }, 'Plotted when it has ended.'));
      // Live progress: one long poll at a time, answered when progress.done moves or it ends.
      let useProgress = true;
      while (!ENDED.has(doc.status)) {
        try {
          doc = useProgress ? await api.waitAnalysis(id, doc.progress ? doc.progress.done : null, 30, { signal }) : await api.get(`/v1/analyses/${id}?wait=30`, { signal });
        } catch (err) {
          if (isAbort(err)) return;
          if (err.status === 400 && useProgress) {
            useProgress = false; // a daemon without ?progress=
            continue;
          }
          if (err.status === 404) throw err;
          await sleep(2000, signal);
          continue;
        }
        drawHeader(doc);
      }
      drawHeader(doc);
      await drawEnded(doc);
    } catch (err) {
      if (isAbort(err)) return;
      message.append(errorBox(err));
      return;
    }
    // A deleted analysis: say so when the change feed moves.
    followChanges(signal, async () => {
      try {
        await api.get(`/v1/analyses/${id}`, { signal });
      } catch (err) {
        if (!isAbort(err) && err.status === 404) {
          clear(message);
          message.append(errorBox(err));
        }
      }
    });
  })();

  return () => {
    ctl.abort();
    for (const p of plots) if (p && p.destroy) p.destroy();
  };
}
