// #/models: the stored models (live through the change feed, paged) and the "new model" form
// (paste a model document, POST /v1/models, the server's errors next to the field).

import { h, clear } from '../dom.js';
import * as api from '../api.js';
import { showProblem, clearProblems } from '../problems.js';
import { childController, followChanges, listReloader, isAbort, errorBox, link, when, table } from '../viewkit.js';

const EXAMPLE = {
  name: 'isn',
  class: 'gated',
  populations: { E: 1, I: 1 },
  activation: { name: 'relu' },
  leak: 1.0,
  recurrent: { W: [[2.0, -2.5], [2.5, -2.0]], A: 0.1 },
  bias: [1.0, 0.5],
};

const PAGE = 50;

function modelRow(m) {
  const labels = Object.entries(m.labels || {}).map(([k, v]) => `${k}:${v}`).join(' ');
  return h(
    'tr',
    { 'data-testid': 'model-row', 'data-model-id': m.id, 'data-state': m.state },
    h('td', {}, link(`#/models/${m.id}`, m.id, { class: 'mono' })),
    h('td', {}, m.name === null || m.name === undefined ? '—' : String(m.name)),
    h('td', {}, h('span', { class: `status-badge state-${m.state}` }, String(m.state))),
    h('td', { class: 'num' }, m.n === null || m.n === undefined ? '—' : String(m.n)),
    h('td', {}, when(m.created_at)),
    h('td', { class: 'mono' }, m.hash ? m.hash.slice(0, 12) : '—'),
    h('td', {}, labels),
  );
}

function createForm(signal) {
  const textarea = h('textarea', {
    'data-testid': 'model-json',
    'data-pointer': '',
    name: 'model',
    rows: '14',
    spellcheck: 'false',
    placeholder: '{"populations": {"E": 80, "I": 20}, "leak": 1.0, "recurrent": {...}}',
  });
  const status = h('span', { class: 'form-status' });
  const submit = h('button', { type: 'submit', 'data-testid': 'model-create-submit' }, 'Create model');
  const example = h(
    'button',
    {
      type: 'button',
      onclick: () => {
        textarea.value = JSON.stringify(EXAMPLE, null, 2);
      },
    },
    'Fill in an example',
  );
  const form = h(
    'form',
    { 'data-testid': 'model-create', class: 'panel', novalidate: '' },
    h('h3', {}, 'New model'),
    h(
      'p',
      { class: 'hint' },
      'Paste a model document (docs/FORMAT.md "Model"). It is checked by the daemon; a model with a ',
      h('code', {}, 'generate'),
      ' recipe is built by a worker after it is stored.',
    ),
    h('label', {}, 'Model document (JSON)', textarea),
    h('div', { class: 'form-actions' }, submit, example, status),
  );
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearProblems(form);
    let body;
    try {
      body = JSON.parse(textarea.value);
    } catch (err) {
      showProblem(form, {
        title: 'Not JSON',
        detail: `the model is not valid JSON: ${err.message}`,
        field: '',
        status: 400,
      });
      return;
    }
    submit.disabled = true;
    status.textContent = 'sending…';
    try {
      const m = await api.post('/v1/models', body, { signal });
      status.textContent = '';
      window.location.hash = `#/models/${m.id}`;
    } catch (err) {
      if (isAbort(err)) return;
      status.textContent = '';
      showProblem(form, err.problem || { detail: String(err.message || err), field: '' });
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

export function render(root, params, ctx) {
  const ctl = childController(ctx && ctx.signal);
  const signal = ctl.signal;
  const listBox = h('div', { class: 'list-box' });
  const more = h('button', { type: 'button', class: 'more', hidden: '' }, 'More');
  let shown = PAGE;
  let nextCursor = null;

  const view = h(
    'section',
    { class: 'view models-view', 'data-testid': 'models-view' },
    h('h2', {}, 'Models'),
    listBox,
    more,
    createForm(signal),
  );
  clear(root);
  root.append(view);

  // Loads the newest `shown` models (pages of PAGE) and replaces the table at once.
  async function load() {
    const items = [];
    let cursor = null;
    do {
      const q = `/v1/models?limit=${Math.min(PAGE, shown - items.length)}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
      const page = await api.get(q, { signal });
      items.push(...page.items);
      cursor = page.next_cursor;
    } while (cursor && items.length < shown);
    nextCursor = cursor;
    const t = table(
      'models-table',
      ['id', 'name', 'state', 'N', 'created', 'hash', 'labels'],
      [],
    );
    const body = t.querySelector('tbody');
    for (const m of items) body.append(modelRow(m));
    clear(listBox);
    listBox.append(items.length ? t : h('div', {}, t, h('p', { class: 'empty' }, 'No model stored yet: create one below.')));
    more.hidden = !nextCursor;
  }

  const reload = listReloader(listBox, load);

  more.addEventListener('click', () => {
    shown += PAGE;
    reload();
  });
  reload().then(() => followChanges(signal, reload));
  return () => ctl.abort();
}
