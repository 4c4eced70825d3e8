// #/models/<id>: one model: its document, its populations, a heat map of W (diverging colours
// symmetric about 0, the E/I blocks marked by overlay lines outside the canvas), the eigenvalues
// of its spectrum analyses against the unit circle and the line Re λ = leak, and the fixed points
// of its fixed_points analyses with their stability.

import { h, clear } from '../dom.js';
import * as api from '../api.js';
import { showProblem, clearProblems } from '../problems.js';
import { diverging } from '../colormaps.js';
import { drawHeatmap, drawLegend } from '../heatmap.js';
import { planePlot, eigenSet, spectrumLines } from '../complexplot.js';
import {
  childController,
  followChanges,
  isAbort,
  errorBox,
  problemText,
  link,
  when,
  num,
  table,
  npyRetry,
  finiteRange,
  prettyJson,
} from '../viewkit.js';

const ENDED = new Set(['succeeded', 'failed', 'cancelled', 'diverged']);
// W is loaded by itself up to this N (8 N² bytes: 32 MB); past it a button asks first.
const AUTO_W_MAX_N = 2000;
const W_CANVAS_MAX = 480;

function populationsOf(model) {
  const p = (model.model && model.model.populations) || {};
  const NE = Number.isInteger(p.E) ? p.E : 0;
  const NI = Number.isInteger(p.I) ? p.I : 0;
  return { NE, NI, N: NE + NI };
}

function rangeText(data, from, to) {
  if (!data || to <= from) return '—';
  const r = finiteRange(data.subarray(from, to));
  return r.min === r.max ? num(r.min) : `${num(r.min)} … ${num(r.max)}`;
}

// Mean of W over each (postsynaptic, presynaptic) population block, and its fraction of nonzeros.
function blockStats(W, N, NE) {
  const blocks = [];
  const pops = [
    ['E', 0, NE],
    ['I', NE, N],
  ];
  for (const [post, i0, i1] of pops) {
    for (const [pre, j0, j1] of pops) {
      if (i1 <= i0 || j1 <= j0) continue;
      let sum = 0;
      let nz = 0;
      let mn = Infinity;
      let mx = -Infinity;
      for (let i = i0; i < i1; i++) {
        for (let j = j0; j < j1; j++) {
          const v = W[i * N + j];
          sum += v;
          if (v !== 0) nz++;
          if (v < mn) mn = v;
          if (v > mx) mx = v;
        }
      }
      const cells = (i1 - i0) * (j1 - j0);
      blocks.push([`${pre} → ${post}`, num(sum / cells), num(mn), num(mx), num(nz / cells, 3)]);
    }
  }
  return blocks;
}

export function render(root, params, ctx) {
  const ctl = childController(ctx && ctx.signal);
  const signal = ctl.signal;
  const id = params.id;
  const t0 = performance.now();

  const title = h('h2', {}, 'Model ', h('span', { class: 'mono' }, id));
  const meta = h('div', { class: 'meta-line' });
  const message = h('div', { class: 'view-message' });
  const popBox = h('div', { class: 'panel' }, h('h3', {}, 'Populations'));
  const wBox = h('div', { class: 'panel' }, h('h3', {}, 'Recurrent weights W'));
  const eigBox = h('div', { class: 'panel' }, h('h3', {}, 'Eigenvalues'));
  const fpBox = h('div', { class: 'panel' }, h('h3', {}, 'Fixed points'));
  const docPre = h('pre', { 'data-testid': 'model-doc', class: 'doc' });
  const docBox = h('div', { class: 'panel' }, h('h3', {}, 'Document'), docPre);
  const view = h(
    'section',
    { class: 'view model-view', 'data-testid': 'model-view', 'data-model-id': id },
    title,
    meta,
    message,
    h('div', { class: 'model-grid' }, popBox, wBox, eigBox, fpBox),
    docBox,
  );
  clear(root);
  root.append(view);

  let model = null;
  let gb = null; // G_b npy
  let bias = null;
  let leak = null; // {min, max} of G_b
  let spectra = []; // succeeded spectrum analyses (list items), newest first
  let fixedList = []; // succeeded fixed_points analyses
  let pendingJobs = 0;
  const pending = { W: true, eig: true, fp: true };

  function markDrawn(what) {
    pending[what] = false;
    if (!pending.W && !pending.eig && !pending.fp && view.dataset.plotted !== '1') {
      view.dataset.plotted = '1';
      view.dataset.plotMs = String(Math.round(performance.now() - t0));
    }
  }

  // ---------- header, document, populations ----------
  function drawHeader() {
    const m = model;
    const { NE, NI, N } = populationsOf(m);
    clear(title);
    title.append('Model ', m.name ? `${m.name} ` : '', h('span', { class: 'mono id' }, m.id));
    clear(meta);
    const del = h('button', { type: 'button', 'data-testid': 'model-delete', class: 'danger' }, 'Delete');
    del.addEventListener('click', async () => {
      if (!window.confirm(`Delete model ${m.id}?`)) return;
      try {
        await api.del(`/v1/models/${m.id}`);
        window.location.hash = '#/models';
      } catch (err) {
        if (!isAbort(err)) {
          clear(message);
          message.append(errorBox(err));
        }
      }
    });
    meta.append(
      h('span', { class: `status-badge state-${m.state}`, 'data-testid': 'model-state' }, String(m.state)),
      ` N = ${N} (E ${NE}, I ${NI}) · class ${(m.model && m.model.class) || 'gated'} · created ${when(m.created_at)}`,
      m.build_s !== null && m.build_s !== undefined ? ` · built in ${num(m.build_s, 3)} s` : '',
      m.hash ? h('span', { class: 'mono hash', title: m.hash }, ` · hash ${m.hash.slice(0, 16)}…`) : '',
      ' · ',
      link(`#/submit?model_id=${m.id}`, 'Submit a run with this model', { 'data-testid': 'model-submit-link' }),
      ' · ',
      link(`#/analyses?model_id=${m.id}`, 'its analyses', { 'data-testid': 'model-analyses-link' }),
      ' ',
      del,
    );
    docPre.textContent = prettyJson(m.model);
    clear(message);
    if (m.state === 'pending') message.append(h('p', { class: 'note' }, 'A worker is building this model; the page follows it.'));
    if (m.state === 'failed' && m.error) message.append(errorBox({ problem: m.error }));
  }

  function drawPopulations() {
    const { NE, NI, N } = populationsOf(model);
    const rows = [];
    if (NE > 0) rows.push(['E (excitatory)', String(NE), `0 … ${NE - 1}`, rangeText(gb && gb.data, 0, NE), rangeText(bias && bias.data, 0, NE)]);
    if (NI > 0) rows.push(['I (inhibitory)', String(NI), `${NE} … ${N - 1}`, rangeText(gb && gb.data, NE, N), rangeText(bias && bias.data, NE, N)]);
    const t = table('model-populations', ['population', 'cells', 'indices', 'leak G_b', 'bias'], rows, (i) => ({
      'data-population': rows[i][0][0],
    }));
    clear(popBox);
    popBox.append(h('h3', {}, 'Populations'), t);
    const act = model.model && model.model.activation;
    if (act) popBox.append(h('p', { class: 'hint' }, `activation ${act.name || 'relu'}${act.r_max ? `, r_max ${act.r_max}` : ''}; n_inputs ${model.model.n_inputs || 0}`));
  }

  // ---------- W ----------
  async function drawW(force) {
    const { NE, N } = populationsOf(model);
    clear(wBox);
    wBox.append(h('h3', {}, 'Recurrent weights W'));
    if (model.state !== 'ready') {
      wBox.append(h('p', { class: 'note' }, model.state === 'pending' ? 'Shown once the model is built.' : 'The model failed to build.'));
      markDrawn('W');
      return;
    }
    if (N > AUTO_W_MAX_N && !force) {
      const b = h('button', { type: 'button', 'data-testid': 'w-load' }, `Load W (${N} × ${N}, ${num((8 * N * N) / 1e6, 3)} MB)`);
      b.addEventListener('click', () => drawW(true));
      wBox.append(b);
      markDrawn('W');
      return;
    }
    const status = h('p', { class: 'note' }, 'loading W…');
    wBox.append(status);
    let W;
    try {
      W = await npyRetry(`/v1/models/${id}/matrices/W`, signal);
    } catch (err) {
      if (isAbort(err)) return;
      status.replaceWith(errorBox(err));
      markDrawn('W');
      return;
    }
    const n = W.shape[0];
    const data = W.data;
    let amax = 0;
    for (let i = 0; i < data.length; i++) {
      const a = Math.abs(data[i]);
      if (a > amax) amax = a;
    }
    if (!(amax > 0)) amax = 1;
    const S = n >= W_CANVAS_MAX ? W_CANVAS_MAX : n * Math.max(1, Math.floor(W_CANVAS_MAX / n));
    const canvas = h('canvas', {
      'data-testid': 'w-heatmap',
      'data-rows': String(n),
      'data-cols': String(n),
      'data-vmin': String(-amax),
      'data-vmax': String(amax),
      class: 'heatmap',
    });
    canvas.width = S;
    canvas.height = S;
    canvas.style.width = `${S}px`;
    canvas.style.height = `${S}px`;
    const wrap = h('div', { class: 'wmap' }, canvas);
    // E/I boundaries: DOM lines over (and past the edges of) the canvas, never drawn in it.
    const topLabels = h('div', { class: 'wmap-top' });
    const leftLabels = h('div', { class: 'wmap-left' });
    if (NE > 0 && NE < n) {
      const px = Math.floor((NE * S) / n);
      const v = h('div', { class: 'block-line vertical', 'data-testid': 'w-boundary-v' });
      v.style.left = `${px}px`;
      const hl = h('div', { class: 'block-line horizontal', 'data-testid': 'w-boundary-h' });
      hl.style.top = `${px}px`;
      wrap.append(v, hl);
      const e1 = h('span', {}, `E (${NE})`);
      e1.style.width = `${px}px`;
      const i1 = h('span', {}, `I (${n - NE})`);
      i1.style.width = `${S - px}px`;
      topLabels.append(e1, i1);
      const e2 = h('span', {}, 'E');
      e2.style.height = `${px}px`;
      const i2 = h('span', {}, 'I');
      i2.style.height = `${S - px}px`;
      leftLabels.append(e2, i2);
    }
    topLabels.style.width = `${S}px`;
    leftLabels.style.height = `${S}px`;
    const readout = h('div', { class: 'plane-readout', 'data-testid': 'w-readout' }, '\u00a0');
    canvas.addEventListener('mousemove', (ev) => {
      const r = canvas.getBoundingClientRect();
      const j = Math.min(n - 1, Math.max(0, Math.floor(((ev.clientX - r.left) * n) / r.width)));
      const i = Math.min(n - 1, Math.max(0, Math.floor(((ev.clientY - r.top) * n) / r.height)));
      const pop = (k) => (k < NE ? `E${k}` : `I${k - NE}`);
      readout.textContent = `W[${i}][${j}] = ${num(data[i * n + j], 6)}   (to ${pop(i)} from ${pop(j)})`;
    });
    const legend = h('canvas', { 'data-testid': 'w-legend', class: 'legend-bar' });
    legend.width = 240;
    legend.height = 12;
    const legendBox = h('div', { class: 'legend' });
    status.replaceWith(
      h('div', { class: 'wmap-axes' }, h('div', { class: 'wmap-caption' }, 'from (presynaptic j) →'), topLabels),
      h('div', { class: 'wmap-row' }, h('div', { class: 'wmap-caption vertical' }, 'to (postsynaptic i) →'), leftLabels, wrap),
      readout,
      legendBox,
    );
    legendBox.append(legend);
    await drawHeatmap(canvas, { rows: n, cols: n, values: data, vmin: -amax, vmax: amax, colormap: diverging });
    await drawLegend(legend, { vmin: -amax, vmax: amax, colormap: diverging });
    legendBox.append(h('span', { class: 'hint' }, ' red: excitatory (W > 0), blue: inhibitory (W < 0), white: 0; symmetric about 0'));
    if (NE > 0 || n - NE > 0) {
      wBox.append(
        h('h4', {}, 'By block'),
        table('w-blocks', ['pre → post', 'mean', 'min', 'max', 'nonzero'], blockStats(data, n, NE)),
      );
    }
    markDrawn('W');
  }

  // ---------- eigenvalues ----------
  const eigSelect = h('select', { 'data-testid': 'spectrum-select' });
  const eigPlot = h('div', { 'data-testid': 'eig-plot', class: 'plot' });
  const eigSummary = h('p', { class: 'hint', 'data-testid': 'eig-summary' });
  const ofSelect = h('select', { 'data-testid': 'spectrum-of', name: 'of', 'data-pointer': '/of' });
  const computeBtn = h('button', { type: 'submit', 'data-testid': 'spectrum-compute' }, 'Compute spectrum');
  const computeStatus = h('span', { class: 'form-status', 'data-testid': 'spectrum-status' });
  const computeForm = h('form', { class: 'inline-form', 'data-testid': 'spectrum-form' }, 'of ', ofSelect, ' ', computeBtn, ' ', computeStatus);
  let shownSpectrum = null; // the analysis id or 'fp:<aid>:<k>' drawn
  const postedRequests = new Map(); // analysis id → request body, for those posted here

  function fillOfSelect() {
    const cls = (model.model && model.model.class) || 'gated';
    const keep = ofSelect.value;
    clear(ofSelect);
    ofSelect.append(h('option', { value: 'W' }, 'W'));
    if (cls === 'gated') ofSelect.append(h('option', { value: 'M' }, model.model.recurrent && model.model.recurrent.K ? 'K (gate)' : 'M (gate)'));
    for (const fa of fixedList.slice(0, 1)) {
      const pts = (fa.summary && fa.summary.points) || [];
      for (const p of pts.slice(0, 10)) {
        ofSelect.append(h('option', { value: `fp:${fa.id}:${p.index}` }, `Jacobian at fixed point ${p.index}${p.slow ? ' (slow)' : ''}`));
      }
    }
    if ([...ofSelect.options].some((o) => o.value === keep)) ofSelect.value = keep;
  }

  computeForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearProblems(computeForm);
    const v = ofSelect.value;
    const body = { kind: 'spectrum', model_id: id };
    if (v.startsWith('fp:')) {
      const [, aid, idx] = v.split(':');
      body.at = { analysis_id: aid, index: Number(idx) };
    } else body.of = v;
    computeBtn.disabled = true;
    computeStatus.textContent = 'queued…';
    try {
      let job = await api.post('/v1/analyses', body, { signal });
      postedRequests.set(job.id, body);
      while (!ENDED.has(job.status)) {
        computeStatus.textContent = `${job.status}…`;
        job = await api.get(`/v1/analyses/${job.id}?wait=30`, { signal });
      }
      if (job.status !== 'succeeded') {
        computeStatus.textContent = `${job.status}: ${problemText({ problem: job.error })}`;
      } else {
        computeStatus.textContent = '';
        shownSpectrum = job.id;
        await loadAnalyses();
      }
    } catch (err) {
      if (isAbort(err)) return;
      computeStatus.textContent = '';
      showProblem(computeForm, err.problem || { detail: String(err.message || err), field: '' });
    } finally {
      computeBtn.disabled = false;
    }
  });

  eigSelect.addEventListener('change', () => {
    shownSpectrum = eigSelect.value;
    drawSpectrum().catch(() => {});
  });

  function spectrumLabel(a) {
    const s = a.summary || {};
    // List items have no request: the page remembers those it posted itself.
    const req = a.request || postedRequests.get(a.id) || {};
    let of = s.of || req.of || 'jacobian';
    if (of === 'jacobian' && req.at) {
      if (req.at.analysis_id) of = `Jacobian at fixed point ${req.at.index}`;
      else if (req.at.run_id) of = `Jacobian at run ${req.at.run_id} step ${req.at.step}`;
      else of = 'Jacobian at a given V';
    } else if (of === 'jacobian') of = 'Jacobian at a state';
    return `${of} · ${when(a.created_at)} · ${a.id}`;
  }

  function fillEigSelect() {
    clear(eigSelect);
    for (const a of spectra) eigSelect.append(h('option', { value: a.id }, spectrumLabel(a)));
    if (shownSpectrum && shownSpectrum.startsWith('fp:')) {
      const [, aid, k] = shownSpectrum.split(':');
      eigSelect.append(h('option', { value: shownSpectrum }, `Jacobian at fixed point ${k} (from ${aid})`));
    }
    if (shownSpectrum && [...eigSelect.options].some((o) => o.value === shownSpectrum)) eigSelect.value = shownSpectrum;
    else if (spectra.length) shownSpectrum = spectra[0].id;
    eigSelect.hidden = eigSelect.options.length === 0;
  }

  async function drawSpectrum() {
    clear(eigPlot);
    eigSummary.textContent = '';
    if (!shownSpectrum) {
      eigPlot.append(h('p', { class: 'note' }, 'No spectrum analysis of this model yet: compute one.'));
      markDrawn('eig');
      return;
    }
    const which = shownSpectrum;
    let set;
    let lines;
    let summaryText;
    try {
      if (which.startsWith('fp:')) {
        const [, aid, k] = which.split(':');
        const ev = await api.npy(`/v1/analyses/${aid}/results/eigenvalues`, { signal });
        const n = ev.shape[1];
        set = eigenSet(ev.data, Number(k) * n, n, `Jacobian at fixed point ${k}`, '#1f77b4');
        lines = spectrumLines('jacobian', leak);
        let mx = -Infinity;
        for (let i = 0; i < n; i++) mx = Math.max(mx, set.x[i]);
        summaryText = `max Re λ = ${num(mx, 6)}: ${mx < 0 ? 'stable' : 'not stable'}`;
      } else {
        const a = spectra.find((x) => x.id === which);
        const s = (a && a.summary) || {};
        const ev = await api.npy(`/v1/analyses/${which}/results/eigenvalues`, { signal });
        const n = ev.shape[0];
        const of = s.of || 'jacobian';
        set = eigenSet(ev.data, 0, n, `eigenvalues of ${of === 'jacobian' ? 'J' : of}`, '#1f77b4');
        const lk = of === 'jacobian' && Number.isFinite(s.min_leak) ? { min: s.min_leak, max: s.max_leak } : leak;
        lines = spectrumLines(of, lk);
        summaryText = `spectral radius ${num(s.spectral_radius, 6)} · spectral abscissa (max Re λ) ${num(s.spectral_abscissa, 6)} · ${s.n_positive_real} with Re λ > 0`;
      }
    } catch (err) {
      if (isAbort(err)) return;
      eigPlot.append(errorBox(err));
      markDrawn('eig');
      return;
    }
    if (which !== shownSpectrum) return;
    clear(eigPlot);
    planePlot(eigPlot, { sets: [set], vlines: lines, circle: true, equal: true, xlabel: 'Re λ', ylabel: 'Im λ', width: 420 });
    eigSummary.textContent = summaryText;
    markDrawn('eig');
  }

  // ---------- fixed points ----------
  const fpSelect = h('select', { 'data-testid': 'fixed-points-select' });
  const fpTable = h('div', { class: 'fp-table' });
  const fpPlot = h('div', { class: 'plot-holder', 'data-testid': 'fixed-points-plot' });
  const fpBtn = h('button', { type: 'button', 'data-testid': 'fixed-points-compute' }, 'Find fixed points (100 random starts)');
  const fpStatus = h('span', { class: 'form-status' });
  let shownFixed = null;
  fpSelect.addEventListener('change', () => {
    shownFixed = fpSelect.value;
    drawFixed().catch(() => {});
  });
  fpBtn.addEventListener('click', async () => {
    fpBtn.disabled = true;
    fpStatus.textContent = 'queued…';
    try {
      let job = await api.post('/v1/analyses', { kind: 'fixed_points', model_id: id }, { signal });
      while (!ENDED.has(job.status)) {
        const p = job.progress || {};
        fpStatus.textContent = `${job.status} ${p.done || 0}/${p.total || '?'}…`;
        job = await api.get(`/v1/analyses/${job.id}?wait=30`, { signal });
      }
      fpStatus.textContent = job.status === 'succeeded' ? '' : `${job.status}: ${problemText({ problem: job.error })}`;
      if (job.status === 'succeeded') {
        shownFixed = job.id;
        await loadAnalyses();
      }
    } catch (err) {
      if (!isAbort(err)) fpStatus.textContent = problemText(err);
    } finally {
      fpBtn.disabled = false;
    }
  });

  async function drawFixed() {
    clear(fpTable);
    clear(fpPlot);
    const a = fixedList.find((x) => x.id === shownFixed);
    if (!a) {
      fpTable.append(
        table('fixed-points', ['#', 'kind', 'stable', 'unstable directions', '|F(V)|', 'hits', 'max |V|'], []),
        h('p', { class: 'note' }, 'No fixed_points analysis of this model yet.'),
      );
      markDrawn('fp');
      return;
    }
    const s = a.summary || {};
    const { NE, N } = populationsOf(model);
    let r = null;
    try {
      const meta = await api.get(`/v1/analyses/${a.id}/results`, { signal });
      const item = (meta.items || []).find((x) => x.name === 'r');
      if (item && item.shape[0] * item.shape[1] <= 4e6) r = await api.npy(`/v1/analyses/${a.id}/results/r`, { signal });
    } catch (err) {
      if (isAbort(err)) return;
    }
    if (a.id !== shownFixed) return;
    const points = s.points || [];
    const meanRate = (k, from, to) => {
      if (!r || to <= from) return NaN;
      const n = r.shape[1];
      let sum = 0;
      for (let i = from; i < to; i++) sum += r.data[k * n + i];
      return sum / (to - from);
    };
    const cols = ['#', 'kind', 'stable', 'unstable directions', '|F(V)|', 'hits', 'max |V|'];
    if (NE > 0) cols.push('mean r E');
    if (N - NE > 0) cols.push('mean r I');
    cols.push('');
    const rows = points.map((p) => {
      const cells = [String(p.index), p.slow ? 'slow point' : 'fixed point', p.stable ? 'stable' : 'unstable', String(p.n_unstable), num(p.residual, 3), String(p.hits), num(p.max_abs_V)];
      if (NE > 0) cells.push(num(meanRate(p.index, 0, NE)));
      if (N - NE > 0) cells.push(num(meanRate(p.index, NE, N)));
      const b = h('button', { type: 'button', class: 'small' }, 'eigenvalues');
      b.addEventListener('click', () => {
        shownSpectrum = `fp:${a.id}:${p.index}`;
        fillEigSelect();
        drawSpectrum().catch(() => {});
        eigBox.scrollIntoView({ block: 'nearest' });
      });
      cells.push(b);
      return cells;
    });
    fpTable.append(
      h(
        'p',
        { class: 'hint' },
        `${s.fixed_points} fixed point(s), ${s.stable} stable; ${s.slow_points} slow point(s); ${s.converged} of ${s.starts} starts converged, ${s.failed} failed.` +
          (s.count > points.length ? ` The table shows the first ${points.length} of ${s.count}.` : ''),
      ),
      table('fixed-points', cols, rows, (i) => ({
        'data-testid': 'fixed-point-row',
        'data-index': String(points[i].index),
        'data-stable': points[i].stable ? '1' : '0',
        class: points[i].stable ? 'stable' : 'unstable',
      })),
    );
    // In the (mean r_E, mean r_I) plane when the network has both populations.
    if (r && NE > 0 && N - NE > 0 && points.length) {
      const groups = [
        ['stable', '#2ca02c', (p) => !p.slow && p.stable],
        ['unstable', '#d62728', (p) => !p.slow && !p.stable],
        ['slow points', '#999999', (p) => p.slow],
      ];
      const sets = [];
      for (const [label, color, test] of groups) {
        const sel = points.filter(test);
        if (!sel.length) continue;
        sets.push({
          label,
          color,
          x: Float64Array.from(sel, (p) => meanRate(p.index, 0, NE)),
          y: Float64Array.from(sel, (p) => meanRate(p.index, NE, N)),
          describe: (i) => `point ${sel[i].index} (${label}): mean r E ${num(meanRate(sel[i].index, 0, NE), 6)}, mean r I ${num(meanRate(sel[i].index, NE, N), 6)}`,
        });
      }
      planePlot(fpPlot, { sets, xlabel: 'mean r (E)', ylabel: 'mean r (I)', width: 360, height: 280, includeZero: true });
    }
    markDrawn('fp');
  }

  function fillFixedSelect() {
    clear(fpSelect);
    for (const a of fixedList) {
      const s = a.summary || {};
      fpSelect.append(h('option', { value: a.id }, `${s.fixed_points} fixed, ${s.slow_points} slow · ${when(a.created_at)} · ${a.id}`));
    }
    if (!fixedList.some((a) => a.id === shownFixed)) shownFixed = fixedList.length ? fixedList[0].id : null;
    if (shownFixed) fpSelect.value = shownFixed;
    fpSelect.hidden = fixedList.length === 0;
  }

  // ---------- analyses of this model (reloaded on the change feed) ----------
  let listedKey = '';
  async function loadAnalyses() {
    const [sp, fp] = await Promise.all([
      api.get(`/v1/analyses?model_id=${id}&kind=spectrum&limit=100`, { signal }),
      api.get(`/v1/analyses?model_id=${id}&kind=fixed_points&limit=100`, { signal }),
    ]);
    const all = [...sp.items, ...fp.items];
    pendingJobs = all.filter((a) => !ENDED.has(a.status)).length;
    const newSpectra = sp.items.filter((a) => a.status === 'succeeded');
    const newFixed = fp.items.filter((a) => a.status === 'succeeded');
    const key = [...newSpectra, ...newFixed].map((a) => a.id).join(',') + `|${shownSpectrum}|${shownFixed}`;
    eigSummary.dataset.pending = String(pendingJobs);
    if (key === listedKey) return;
    listedKey = key;
    spectra = newSpectra;
    fixedList = newFixed;
    fillFixedSelect();
    fillOfSelect();
    fillEigSelect();
    await Promise.all([drawSpectrum(), drawFixed()]);
  }

  function buildPanels() {
    clear(eigBox);
    eigBox.append(
      h('h3', {}, 'Eigenvalues'),
      h('div', { class: 'controls' }, eigSelect),
      eigPlot,
      eigSummary,
      computeForm,
    );
    clear(fpBox);
    fpBox.append(h('h3', {}, 'Fixed points'), h('div', { class: 'controls' }, fpSelect), fpTable, fpPlot, h('div', { class: 'controls' }, fpBtn, ' ', fpStatus));
  }

  async function loadModel() {
    const m = await api.get(`/v1/models/${id}`, { signal });
    const changed = !model || model.state !== m.state;
    model = m;
    if (!changed) return;
    view.dataset.state = m.state;
    drawHeader();
    if (m.state === 'ready') {
      try {
        [gb, bias] = await Promise.all([npyRetry(`/v1/models/${id}/matrices/G_b`, signal), npyRetry(`/v1/models/${id}/matrices/bias`, signal)]);
        leak = finiteRange(gb.data);
      } catch (err) {
        if (isAbort(err)) throw err;
      }
    }
    drawPopulations();
    buildPanels();
    listedKey = '';
    await Promise.all([drawW(false), loadAnalyses()]);
  }

  (async () => {
    try {
      await loadModel();
    } catch (err) {
      if (isAbort(err)) return;
      clear(message);
      message.append(errorBox(err));
      if (err.status === 404) return;
    }
    followChanges(signal, async () => {
      try {
        if (!model || model.state === 'pending') await loadModel();
        else await loadAnalyses();
      } catch (err) {
        if (isAbort(err)) return;
      }
    }, 1000);
  })();

  return () => ctl.abort();
}
