// #/submit (optionally #/submit?model_id=m_…): a run from a stored model or a pasted one, with
// dt, steps, trials, seed, the recorded variables and a piecewise-constant input by segments
// (described inputs, FORMAT.md 4.6). Validation is the server's: its problem is shown next to
// the input whose data-pointer is the longest prefix of the problem's `field` (problems.js).
// On 202 the page goes to the run (#/runs/<id>).

import { h } from '../dom.js';
import { get, post } from '../api.js';
import { showProblem, clearProblems, describe } from '../problems.js';

const VARS = ['V', 'r', 'z', 'y'];

export function render(root, params, ctx) {
  const query = params.query || new URLSearchParams();
  const wanted = query.get('model_id') || '';
  const { signal } = ctx;

  const modelSel = h('select', { 'data-testid': 'submit-model-select', 'data-pointer': '/model_id', name: 'model_id' },
    h('option', { value: '' }, 'paste a model'));
  if (wanted) modelSel.append(h('option', { value: wanted, selected: true }, wanted));
  const modelJson = h('textarea', {
    'data-testid': 'submit-model-json', 'data-pointer': '/model', name: 'model', spellcheck: 'false',
    placeholder: '{"populations": {"E": 8, "I": 2}, "recurrent": {...}, ...} (a model document, FORMAT.md 3)',
  });
  const modelInfo = h('p', { class: 'muted', 'data-testid': 'submit-model-info' });
  const pasteBox = h('label', { class: 'paste' }, 'Model document (JSON)', modelJson);
  const num = (testid, pointer, value, attrs = {}) => h('input', {
    type: 'number', 'data-testid': testid, 'data-pointer': pointer, value, step: 'any', ...attrs,
  });
  const dt = num('submit-dt', '/dt', '0.1', { min: '0' });
  const steps = num('submit-steps', '/inputs/steps', '1000', { min: '1', step: '1' });
  const trials = num('submit-trials', '/inputs/trials', '1', { min: '1', step: '1' });
  const seed = num('submit-seed', '/seed', '', { min: '0', step: '1', placeholder: 'none' });
  const every = num('submit-every', '/record/every', '1', { min: '1', step: '1' });
  const integrator = h('select', { 'data-testid': 'submit-integrator', 'data-pointer': '/integrator' },
    ['exp_euler', 'euler', 'rk4'].map((v) => h('option', { value: v }, v)));
  const precision = h('select', { 'data-testid': 'submit-precision', 'data-pointer': '/precision' },
    ['float64', 'float32'].map((v) => h('option', { value: v }, v)));
  const labels = h('input', {
    type: 'text', 'data-testid': 'submit-labels', 'data-pointer': '/labels', size: '30',
    placeholder: 'key:value, key2:value2',
  });
  const checks = VARS.map((v) => h('input', {
    type: 'checkbox', 'data-testid': 'submit-record', value: v, checked: v === 'V' || v === 'r',
  }));
  const recordSet = h('fieldset', { 'data-pointer': '/record', class: 'record' },
    h('legend', null, 'Record'),
    checks.map((c) => h('label', { class: 'check' }, c, c.value)),
    h('label', { class: 'check' }, 'every ', every, ' steps'));
  const segments = h('div', { 'data-testid': 'segments', 'data-pointer': '/inputs/segments', class: 'segments' });
  const addSeg = h('button', { type: 'button', 'data-testid': 'segment-add' }, 'Add a segment');
  const inputsSet = h('fieldset', { 'data-pointer': '/inputs' },
    h('legend', null, 'Input'),
    h('div', { class: 'row' }, h('label', null, 'steps T', steps), h('label', null, 'trials B', trials)),
    h('p', { class: 'muted' },
      'Piecewise-constant input: each segment holds its value over steps from ≤ k < to (overlapping segments add up). ',
      'A value is one number for every channel, a comma list of n_inputs numbers, or rows per trial separated by “;”.'),
    segments, addSeg);
  const button = h('button', { type: 'submit', 'data-testid': 'submit-button' }, 'Submit the run');
  const status = h('span', { class: 'muted', 'data-testid': 'submit-status' });
  const form = h('form', { class: 'submit', 'data-testid': 'submit-form', novalidate: true },
    h('label', null, 'Model', modelSel), modelInfo, pasteBox,
    h('div', { class: 'row' }, h('label', null, 'dt', dt), h('label', null, 'integrator', integrator),
      h('label', null, 'precision', precision), h('label', null, 'seed', seed)),
    h('label', null, 'labels', labels),
    recordSet, inputsSet,
    h('div', { class: 'row' }, button, status));
  root.append(h('h1', null, 'Submit a run'), form);

  function renumber() {
    [...segments.querySelectorAll('[data-testid=segment-row]')].forEach((row, k) => {
      row.setAttribute('data-pointer', `/inputs/segments/${k}`);
      row.querySelector('[data-testid=seg-from]').setAttribute('data-pointer', `/inputs/segments/${k}/from`);
      row.querySelector('[data-testid=seg-to]').setAttribute('data-pointer', `/inputs/segments/${k}/to`);
      row.querySelector('[data-testid=seg-value]').setAttribute('data-pointer', `/inputs/segments/${k}/value`);
    });
  }
  function addSegment(from = '', to = '', value = '') {
    const row = h('div', { class: 'segment-row', 'data-testid': 'segment-row' },
      h('label', null, 'from ', h('input', { type: 'number', step: '1', min: '0', 'data-testid': 'seg-from', value: String(from) })),
      h('label', null, 'to ', h('input', { type: 'number', step: '1', min: '1', 'data-testid': 'seg-to', value: String(to) })),
      h('label', null, 'value ', h('input', { type: 'text', class: 'seg-value', 'data-testid': 'seg-value', value: String(value), placeholder: '1  or  1, 0  or  1,0; 2,0' })));
    row.append(h('button', {
      type: 'button', 'data-testid': 'segment-remove', 'aria-label': 'remove this segment',
      onclick: () => { row.remove(); renumber(); },
    }, '×'));
    segments.append(row);
    renumber();
    return row;
  }
  addSeg.addEventListener('click', () => {
    const rows = segments.querySelectorAll('[data-testid=segment-row]');
    const last = rows[rows.length - 1];
    const from = last ? last.querySelector('[data-testid=seg-to]').value : '0';
    addSegment(from, steps.value || '', '');
  });

  function syncModelMode() {
    const paste = modelSel.value === '';
    pasteBox.hidden = !paste;
    modelInfo.textContent = paste ? '' : modelInfo.dataset.text || '';
  }
  modelSel.addEventListener('change', () => {
    const opt = modelSel.selectedOptions[0];
    modelInfo.dataset.text = opt ? opt.dataset.info || '' : '';
    syncModelMode();
  });
  syncModelMode();

  // stored models, newest first (the first 1,000)
  get('/v1/models?limit=1000', { signal }).then((page) => {
    for (const m of page.items) {
      let opt = [...modelSel.options].find((o) => o.value === m.id);
      if (!opt) {
        opt = h('option', { value: m.id });
        modelSel.append(opt);
      }
      opt.textContent = `${m.name || '(no name)'} — ${m.id} (N = ${m.n}${m.state !== 'ready' ? `, ${m.state}` : ''})`;
      opt.dataset.info = `${m.name || 'model'}: N = ${m.n}, ${m.state}, created ${m.created_at}`;
      if (m.id === wanted) opt.selected = true;
    }
    const opt = modelSel.selectedOptions[0];
    modelInfo.dataset.text = opt ? opt.dataset.info || '' : '';
    syncModelMode();
    form.dataset.modelsLoaded = '1';
  }).catch((e) => {
    if (e.name === 'AbortError') return;
    form.dataset.modelsLoaded = '1';
    modelInfo.textContent = `The stored models could not be listed: ${describe(e)}`;
  });

  let idempotencyKey = null;
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearProblems(form);
    status.textContent = '';
    const built = buildRequest();
    if (built.problem) {
      showProblem(form, built.problem);
      return;
    }
    let body = JSON.stringify(built.doc);
    // a seed is an integer up to 2^63-1: sent as typed (a JS number would lose its last digits)
    const seedText = seed.value.trim();
    if (/^\d+$/.test(seedText)) body = `${body.slice(0, -1)},"seed":${seedText}}`;
    if (!idempotencyKey || idempotencyKey.body !== body) {
      idempotencyKey = { body, key: `web-${randomKey()}` };
    }
    button.disabled = true;
    status.textContent = 'submitting…';
    try {
      const run = await post('/v1/runs', body, { signal, headers: { 'Idempotency-Key': idempotencyKey.key } });
      status.textContent = `queued as ${run.id}`;
      ctx.navigate(`#/runs/${encodeURIComponent(run.id)}`);
    } catch (e) {
      if (e.name === 'AbortError') return;
      status.textContent = '';
      showProblem(form, e);
    } finally {
      button.disabled = false;
    }
  });

  // The run document from the form, or {problem} for what cannot even be sent (a pasted model
  // that is not JSON, a segment value that is not numbers). Empty fields are left out so that
  // the server names what is missing.
  function buildRequest() {
    const doc = {};
    if (modelSel.value) {
      doc.model_id = modelSel.value;
    } else {
      const text = modelJson.value.trim();
      if (!text) return { problem: { field: '/model', detail: 'Paste a model document (JSON), or pick a stored model.' } };
      try {
        doc.model = JSON.parse(text);
      } catch (e) {
        return { problem: { field: '/model', detail: `not JSON: ${e.message}` } };
      }
    }
    const number = (input) => (input.value.trim() === '' ? undefined : Number(input.value));
    if (number(dt) !== undefined) doc.dt = number(dt);
    const inputs = {};
    if (number(steps) !== undefined) inputs.steps = number(steps);
    if (number(trials) !== undefined) inputs.trials = number(trials);
    const segs = [];
    const rows = [...segments.querySelectorAll('[data-testid=segment-row]')];
    for (let k = 0; k < rows.length; k++) {
      const row = rows[k];
      const seg = {};
      const from = number(row.querySelector('[data-testid=seg-from]'));
      const to = number(row.querySelector('[data-testid=seg-to]'));
      if (from !== undefined) seg.from = from;
      if (to !== undefined) seg.to = to;
      const value = parseValue(row.querySelector('[data-testid=seg-value]').value);
      if (value.error) return { problem: { field: `/inputs/segments/${k}/value`, detail: value.error } };
      seg.value = value.value;
      segs.push(seg);
    }
    if (segs.length) inputs.segments = segs;
    doc.inputs = inputs;
    if (integrator.value !== 'exp_euler') doc.integrator = integrator.value;
    if (precision.value !== 'float64') doc.precision = precision.value;
    const labelText = labels.value.trim();
    if (labelText) {
      doc.labels = {};
      for (const pair of labelText.split(',').map((x) => x.trim()).filter(Boolean)) {
        const at = pair.indexOf(':');
        if (at <= 0) return { problem: { field: '/labels', detail: `${pair}: write labels as key:value, separated by commas` } };
        doc.labels[pair.slice(0, at).trim()] = pair.slice(at + 1).trim();
      }
    }
    doc.record = { vars: checks.filter((c) => c.checked).map((c) => c.value) };
    if (number(every) !== undefined) doc.record.every = number(every);
    const seedText = seed.value.trim();
    if (seedText !== '' && !/^\d+$/.test(seedText)) doc.seed = Number(seedText); // the server says why not
    return { doc };
  }
  return () => {};
}

// "1" → 1; "1, 0" → [1, 0]; "1,0; 2,0" → [[1, 0], [2, 0]]; else {error}.
export function parseValue(text) {
  const t = text.trim();
  if (!t) return { error: 'give a value: a number, a comma list (one per input channel) or rows per trial separated by ;' };
  const nums = (s) => s.split(',').map((x) => x.trim()).map((x) => (x === '' ? NaN : Number(x)));
  if (t.includes(';')) {
    const rows = t.split(';').map((r) => r.trim()).filter(Boolean).map(nums);
    if (rows.some((r) => r.some((x) => !Number.isFinite(x)))) return { error: `not numbers: ${t}` };
    return { value: rows };
  }
  const list = nums(t);
  if (list.some((x) => !Number.isFinite(x))) return { error: `not numbers: ${t}` };
  return { value: list.length === 1 && !t.includes(',') ? list[0] : list };
}

function randomKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}
