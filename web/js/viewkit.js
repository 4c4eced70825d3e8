// Helpers shared by the models, sweeps and analyses views (helper module of "webmodels"):
// abort handling, the change feed loop, retries, compact pretty JSON, small DOM pieces.
// Nothing here holds global state: every loop is owned by the view that starts it and ends
// when that view's AbortSignal fires.

import { h, clear, fmtTime } from './dom.js';
import * as api from './api.js';
import { showProblem, clearProblems } from './problems.js';

// An AbortController that also aborts when `parent` (the router's ctx.signal) does.
export function childController(parent) {
  const ctl = new AbortController();
  if (parent) {
    if (parent.aborted) ctl.abort();
    else parent.addEventListener('abort', () => ctl.abort(), { once: true });
  }
  return ctl;
}

export function isAbort(err) {
  return err && (err.name === 'AbortError' || err.name === 'TimeoutError');
}

// Resolves after ms, or rejects with an AbortError when signal fires first.
export function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    if (signal && signal.aborted) {
      reject(new DOMException('aborted', 'AbortError'));
      return;
    }
    const t = setTimeout(resolve, ms);
    if (signal) {
      signal.addEventListener(
        'abort',
        () => {
          clearTimeout(t);
          reject(new DOMException('aborted', 'AbortError'));
        },
        { once: true },
      );
    }
  });
}

// Follows the daemon's change feed (GET /v1/changes) and calls onChange() (awaited) each time
// the sequence number moves, at most every minGapMs. Ends quietly when signal aborts; a failed
// request is retried after 2 s (the daemon may be restarting).
export async function followChanges(signal, onChange, minGapMs = 500) {
  let seq;
  let last = 0;
  while (!signal.aborted) {
    try {
      const next = await api.changes(seq, seq === undefined ? 0 : 30, { signal });
      if (seq !== undefined && next !== seq) {
        const gap = Date.now() - last;
        if (gap < minGapMs) await sleep(minGapMs - gap, signal);
        last = Date.now();
        await onChange();
      }
      seq = next;
    } catch (err) {
      if (isAbort(err) || signal.aborted) return;
      try {
        await sleep(2000, signal);
      } catch {
        return;
      }
    }
  }
}

// GETs a model's matrix as .npy, retrying the daemon's 503 (a generated model being built into
// the cache) up to `tries` times, one second apart. Throws the last error otherwise.
export async function npyRetry(url, signal, tries = 60) {
  for (let k = 0; ; k++) {
    try {
      return await api.npy(url, { signal });
    } catch (err) {
      if (!(err && err.status === 503) || k + 1 >= tries) throw err;
      await sleep(1000, signal);
    }
  }
}

// A problem object (or any error) as one line a user can act on.
export function problemText(err) {
  if (!err) return '';
  const p = err.problem || err;
  const parts = [];
  if (p.title) parts.push(p.title);
  if (p.detail) parts.push(p.detail);
  if (p.field !== undefined && p.field !== null) parts.push(`(at ${p.field === '' ? '/' : p.field})`);
  if (!parts.length) parts.push(String(err.message || err));
  return parts.join(': ');
}

export function errorBox(err) {
  return h('p', { class: 'error', 'data-testid': 'view-error' }, problemText(err));
}

// A list view's reload: runs load() (which fills listBox) and, when it fails for any reason but
// the view being left, puts the error in listBox instead. Never throws.
export function listReloader(listBox, load) {
  return async () => {
    try {
      await load();
    } catch (err) {
      if (isAbort(err)) return;
      clear(listBox);
      listBox.append(errorBox(err));
    }
  };
}

// JSON pretty-printed the way a person reads a model: objects indented, arrays of numbers on
// one line, matrices one row per line; long arrays, many rows and long strings (base64) cut
// with a note of what was left out, so that a 1000 x 1000 W does not produce a million lines.
export function prettyJson(value, opts = {}) {
  const maxItems = opts.maxItems || 24;
  const maxRows = opts.maxRows || 16;
  const maxString = opts.maxString || 120;
  const scalar = (v) => {
    if (typeof v === 'string' && v.length > maxString) {
      return JSON.stringify(v.slice(0, maxString)) + ` … (${v.length} characters)`;
    }
    return JSON.stringify(v);
  };
  const isScalar = (v) => v === null || typeof v !== 'object';
  const inlineArray = (a) => {
    const shown = a.slice(0, maxItems).map(scalar).join(', ');
    return a.length > maxItems ? `[${shown}, … (${a.length} values)]` : `[${shown}]`;
  };
  const walk = (v, ind) => {
    if (isScalar(v)) return scalar(v);
    const pad = '  '.repeat(ind + 1);
    const end = '  '.repeat(ind);
    if (Array.isArray(v)) {
      if (v.every(isScalar)) return inlineArray(v);
      if (v.every((row) => Array.isArray(row) && row.every(isScalar))) {
        const rows = v.slice(0, maxRows).map((row) => pad + inlineArray(row));
        if (v.length > maxRows) rows.push(`${pad}… (${v.length - maxRows} more rows)`);
        return `[\n${rows.join(',\n')}\n${end}]`;
      }
      const items = v.slice(0, maxRows).map((x) => pad + walk(x, ind + 1));
      if (v.length > maxRows) items.push(`${pad}… (${v.length - maxRows} more)`);
      return `[\n${items.join(',\n')}\n${end}]`;
    }
    const keys = Object.keys(v);
    if (!keys.length) return '{}';
    const items = keys.map((k) => `${pad}${JSON.stringify(k)}: ${walk(v[k], ind + 1)}`);
    return `{\n${items.join(',\n')}\n${end}}`;
  };
  return walk(value, 0);
}

// Number formatting for tables: integers as they are, others with `digits` significant digits.
export function num(x, digits = 4) {
  if (x === null || x === undefined) return '—';
  if (typeof x === 'boolean') return x ? 'true' : 'false';
  if (typeof x !== 'number') return String(x);
  if (Number.isNaN(x)) return 'NaN';
  if (Number.isInteger(x) && Math.abs(x) < 1e15) return String(x);
  const a = Math.abs(x);
  if (a !== 0 && (a < 1e-3 || a >= 1e6)) return x.toExponential(digits - 1);
  return String(Number(x.toPrecision(digits)));
}

// A time as the other views show it (UTC, to the second).
export function when(iso) {
  return fmtTime(iso);
}

export function link(href, text, attrs = {}) {
  return h('a', { href, ...attrs }, text);
}

// A <progress> for a job's {done, total} (indeterminate when total is 0 or unknown).
export function progressBar(progress, testid) {
  const attrs = { max: '1' };
  if (testid) attrs['data-testid'] = testid;
  const el = h('progress', attrs);
  setProgress(el, progress);
  return el;
}

export function setProgress(el, progress) {
  if (progress && progress.total > 0) {
    el.value = Math.min(1, progress.done / progress.total);
    el.title = `${progress.done} / ${progress.total}`;
  } else if (progress && progress.fraction !== undefined) {
    el.value = progress.fraction;
  }
}

// A table whose header is `columns` and whose body rows are arrays of nodes or strings.
export function table(testid, columns, rows, rowAttrs) {
  const head = h('thead', {}, h('tr', {}, ...columns.map((c) => h('th', {}, c))));
  const body = h(
    'tbody',
    {},
    ...rows.map((cells, i) =>
      h('tr', rowAttrs ? rowAttrs(i) : {}, ...cells.map((c) => h('td', {}, c))),
    ),
  );
  return h('table', { 'data-testid': testid, class: 'list data' }, head, body);
}

// Min and max of a typed array's finite values ({min: NaN, max: NaN} when there are none).
export function finiteRange(data) {
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (v < min) min = v;
    if (v > max) max = v;
  }
  if (min === Infinity) return { min: NaN, max: NaN };
  return { min, max };
}

// Leak range (min, max of G_b) of a stored model, or null when it cannot be read.
export async function leakRange(modelId, signal) {
  try {
    const g = await npyRetry(`/v1/models/${modelId}/matrices/G_b`, signal, 10);
    return finiteRange(g.data);
  } catch (err) {
    if (isAbort(err)) throw err;
    return null;
  }
}

// Leak range from a model document (the leak member: a number or N numbers), or null.
export function leakFromDocument(doc) {
  if (!doc || doc.leak === undefined) return null;
  if (typeof doc.leak === 'number') return { min: doc.leak, max: doc.leak };
  if (Array.isArray(doc.leak) && doc.leak.length && doc.leak.every((x) => typeof x === 'number')) {
    return { min: Math.min(...doc.leak), max: Math.max(...doc.leak) };
  }
  return null;
}

// A form that POSTs a pasted JSON document to `path` and goes to `#<route>/<id>` of the answer:
// {testid, title, hint, path, route, example: async () => object, signal}. The server's problems
// are shown next to the textarea (data-pointer "": the body is the document).
export function jsonPostForm(opts) {
  const textarea = h('textarea', { 'data-testid': `${opts.testid}-json`, 'data-pointer': '', rows: '10', spellcheck: 'false' });
  const status = h('span', { class: 'form-status' });
  const submit = h('button', { type: 'submit', 'data-testid': `${opts.testid}-submit` }, opts.button || 'Submit');
  const example = h('button', { type: 'button' }, 'Fill in an example');
  example.addEventListener('click', async () => {
    try {
      textarea.value = JSON.stringify(await opts.example(), null, 2);
    } catch (err) {
      if (!isAbort(err)) status.textContent = problemText(err);
    }
  });
  const form = h(
    'form',
    { 'data-testid': opts.testid, class: 'panel json-form', novalidate: true },
    h('h3', {}, opts.title),
    opts.hint ? h('p', { class: 'hint' }, opts.hint) : null,
    h('label', {}, 'JSON', textarea),
    h('div', { class: 'form-actions' }, submit, example, status),
  );
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearProblems(form);
    let body;
    try {
      body = JSON.parse(textarea.value);
    } catch (err) {
      showProblem(form, { title: 'Not JSON', detail: `the document is not valid JSON: ${err.message}`, field: '', status: 400 });
      return;
    }
    submit.disabled = true;
    status.textContent = 'sending…';
    try {
      const made = await api.post(opts.path, body, { signal: opts.signal });
      status.textContent = '';
      window.location.hash = `#${opts.route}/${made.id}`;
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

// The newest stored model's id, or a placeholder to replace.
export async function newestModelId(signal) {
  const page = await api.get('/v1/models?limit=1', { signal });
  return page.items.length ? page.items[0].id : 'm_…';
}
