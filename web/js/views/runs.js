// #/runs: the runs, newest first, with their status and progress, kept current through the
// change feed (GET /v1/changes long polls: one request held at a time, the list reloaded when
// the counter moves, at most every 0.5 s). Filters (status, label) and the page's cursor are
// kept in the fragment (#/runs?status=running&label=k:v).

import { h, clear, fmt, fmtTime } from '../dom.js';
import { get, post, changes, ApiError } from '../api.js';
import { describe } from '../problems.js';

const STATUSES = ['queued', 'running', 'succeeded', 'failed', 'diverged', 'cancelled'];
const ACTIVE = new Set(['queued', 'running']);
const PAGE = 50;

export function statusBadge(status, testid) {
  return h('span', { class: `status-badge status-${status}`, 'data-testid': testid }, status);
}

export function progressBar(run, testid = 'run-progress') {
  const p = run.progress || {};
  const total = Number(p.total) || 0;
  const done = Number(p.done) || 0;
  const bar = h('progress', { 'data-testid': testid, max: String(Math.max(total, 1)), value: String(done) });
  bar.title = total ? `${done} of ${total} steps` : 'not started';
  return bar;
}

export function render(root, params, ctx) {
  const query = params.query || new URLSearchParams();
  const state = {
    status: query.get('status') || '',
    label: query.get('label') || '',
    cursors: [], // cursors of the pages before this one (for "newer")
    cursor: query.get('cursor') || '',
    next: null,
  };
  let lastLoad = 0;
  let loading = null;

  const statusSel = h('select', { 'data-testid': 'runs-status-filter', 'aria-label': 'status' },
    h('option', { value: '' }, 'any status'),
    STATUSES.map((s) => h('option', { value: s, selected: s === state.status }, s)));
  const labelIn = h('input', {
    type: 'text', placeholder: 'label key:value', 'data-testid': 'runs-label-filter',
    'aria-label': 'label filter', value: state.label, size: '18',
  });
  const filterForm = h('form', { class: 'toolbar', 'data-testid': 'runs-filters' },
    h('label', null, 'Status ', statusSel),
    h('label', null, 'Label ', labelIn),
    h('button', { type: 'submit' }, 'Filter'),
    h('a', { href: '#/submit', class: 'button-link' }, 'Submit a run'));
  const message = h('div', { class: 'runs-message' });
  const tbody = h('tbody');
  const table = h('table', { class: 'list', 'data-testid': 'runs-table' },
    h('thead', null, h('tr', null,
      ['run', 'status', 'progress', 'model', 'labels', 'sweep', 'created', 'took', ''].map((t) => h('th', null, t)))),
    tbody);
  const newer = h('button', { type: 'button', 'data-testid': 'runs-newer', disabled: true }, '← newer');
  const older = h('button', { type: 'button', 'data-testid': 'runs-older', disabled: true }, 'older →');
  const pageInfo = h('span', { class: 'muted' });
  const live = h('span', { class: 'muted', 'data-testid': 'runs-live' });
  root.append(h('h1', null, 'Runs'), filterForm, message, table, h('div', { class: 'pager' }, newer, older, pageInfo, live));

  function keepInFragment() {
    const q = new URLSearchParams();
    if (state.status) q.set('status', state.status);
    if (state.label) q.set('label', state.label);
    if (state.cursor) q.set('cursor', state.cursor);
    const frag = `#/runs${q.toString() ? `?${q}` : ''}`;
    if (location.hash !== frag) history.replaceState(null, '', frag);
  }

  filterForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    state.status = statusSel.value;
    state.label = labelIn.value.trim();
    state.cursor = '';
    state.cursors = [];
    keepInFragment();
    load();
  });
  statusSel.addEventListener('change', () => filterForm.requestSubmit());
  newer.addEventListener('click', () => {
    state.cursor = state.cursors.pop() || '';
    keepInFragment();
    load();
  });
  older.addEventListener('click', () => {
    if (!state.next) return;
    state.cursors.push(state.cursor);
    state.cursor = state.next;
    keepInFragment();
    load();
  });

  function row(run) {
    const took = run.started_at && run.finished_at
      ? `${fmt((Date.parse(run.finished_at) - Date.parse(run.started_at)) / 1000, 3)} s` : '';
    const labels = Object.entries(run.labels || {}).map(([k, v]) => `${k}:${v}`).join(' ');
    const actions = [];
    if (ACTIVE.has(run.status) && !run.cancel_requested) {
      actions.push(h('button', {
        type: 'button', class: 'small', 'data-testid': 'run-cancel',
        onclick: async (ev) => {
          ev.currentTarget.disabled = true;
          try {
            await post(`/v1/runs/${encodeURIComponent(run.id)}/cancel`, {});
          } catch (e) {
            message.replaceChildren(h('div', { class: 'message error' }, describe(e)));
          }
          load();
        },
      }, 'cancel'));
    }
    const p = run.progress || {};
    return h('tr', { 'data-testid': 'run-row', 'data-run-id': run.id, 'data-status': run.status },
      h('td', null, h('a', { href: `#/runs/${encodeURIComponent(run.id)}`, 'data-testid': 'run-link' }, h('code', null, run.id))),
      h('td', null, statusBadge(run.status), run.cancel_requested && ACTIVE.has(run.status) ? ' (cancelling)' : ''),
      h('td', null, progressBar(run), ' ', h('span', { class: 'muted' }, p.total ? `${fmt(100 * (p.fraction || 0), 3)} %` : '')),
      h('td', null, run.model_id
        ? h('a', { href: `#/models/${encodeURIComponent(run.model_id)}` }, h('code', null, run.model_id))
        : h('span', { class: 'muted' }, 'inline')),
      h('td', null, labels),
      h('td', null, run.sweep ? h('a', { href: `#/sweeps/${encodeURIComponent(run.sweep.id)}` }, `${run.sweep.id} #${run.sweep.index}`) : ''),
      h('td', null, fmtTime(run.created_at)),
      h('td', null, took),
      h('td', null, actions));
  }

  let again = false;
  async function load() {
    if (loading) {
      again = true; // asked again while loading: load once more after this one
      return loading;
    }
    loading = (async () => {
      const q = new URLSearchParams({ limit: String(PAGE) });
      if (state.status) q.set('status', state.status);
      if (state.label) q.set('label', state.label);
      if (state.cursor) q.set('cursor', state.cursor);
      try {
        const page = await get(`/v1/runs?${q}`, { signal: ctx.signal });
        lastLoad = performance.now();
        state.next = page.next_cursor || null;
        clear(message);
        clear(tbody);
        for (const run of page.items) tbody.appendChild(row(run));
        if (!page.items.length) {
          tbody.appendChild(h('tr', { class: 'empty' }, h('td', { colspan: '9', class: 'muted' },
            state.status || state.label || state.cursor ? 'No run matches.' : 'No runs yet: submit one.')));
        }
        newer.disabled = !state.cursor;
        older.disabled = !state.next;
        pageInfo.textContent = `${page.items.length} run${page.items.length === 1 ? '' : 's'} on this page`;
        table.dataset.loaded = '1';
      } catch (e) {
        if (e.name === 'AbortError') throw e;
        message.replaceChildren(h('div', { class: 'message error', 'data-testid': 'runs-error' }, describe(e)));
      } finally {
        loading = null;
      }
      if (again) {
        again = false;
        await load();
      }
    })();
    return loading;
  }

  // The change feed: one long poll at a time; reload when the counter moves (at most every
  // 0.5 s). A daemon without /v1/changes gets a reload every 5 s instead.
  async function follow(seq0) {
    let seq = seq0;
    for (;;) {
      let next;
      try {
        next = await changes(seq, 30, { signal: ctx.signal });
        live.textContent = 'live';
      } catch (e) {
        if (e.name === 'AbortError') return;
        const missing = e instanceof ApiError && (e.status === 404 || e.status === 400);
        live.textContent = missing ? 'reloading every 5 s (this daemon has no change feed)' : `updates paused: ${describe(e)}`;
        await sleep(5000, ctx.signal);
        if (missing) await load();
        continue;
      }
      if (seq !== null && next !== seq) {
        const wait = 500 - (performance.now() - lastLoad);
        if (wait > 0) await sleep(wait, ctx.signal);
        await load();
      }
      seq = next;
    }
  }

  // The counter is read before the first load, so that no change between the two is missed.
  changes(null, 0, { signal: ctx.signal }).catch((e) => {
    if (e.name === 'AbortError') throw e;
    return null;
  }).then(async (seq) => {
    await load();
    await follow(seq);
  }).catch((e) => {
    if (e.name !== 'AbortError') message.replaceChildren(h('div', { class: 'message error' }, describe(e)));
  });
  return () => {};
}

export function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    if (signal && signal.aborted) {
      reject(new DOMException('aborted', 'AbortError'));
      return;
    }
    const t = setTimeout(resolve, ms);
    if (signal) {
      signal.addEventListener('abort', () => {
        clearTimeout(t);
        reject(new DOMException('aborted', 'AbortError'));
      }, { once: true });
    }
  });
}
