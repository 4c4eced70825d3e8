// The page's shell: navigation, the router (URL fragment), the status bar.
// Each view module exports render(root, params, ctx) and returns a cleanup function (or a
// Promise of one); ctx.signal aborts when the view is left, so its requests stop with it.
// Views are imported lazily: a view that fails to load shows a message, the rest still works.

import { h, clear } from './dom.js';
import { health } from './api.js';
import { describe } from './problems.js';

const routes = [];

// route(pattern, load): pattern like '/runs/:id'; load() → Promise of the view module.
export function route(pattern, load) {
  const keys = [];
  const re = new RegExp(`^${pattern.replace(/\/:([A-Za-z_]+)/g, (_, k) => {
    keys.push(k);
    return '/([^/]+)';
  })}/?$`);
  routes.push({ pattern, re, keys, load });
}

// ---- routes (one block per helper: keep them apart to merge cleanly) ----------------------
// webruns: runs, run page, submit
route('/runs', () => import('./views/runs.js'));
route('/runs/:id', () => import('./views/run.js'));
route('/submit', () => import('./views/submit.js'));
// webmodels: models, sweeps, analyses
route('/models', () => import('./views/models.js'));
route('/models/:id', () => import('./views/model.js'));
route('/sweeps', () => import('./views/sweeps.js'));
route('/sweeps/:id', () => import('./views/sweeps.js'));
route('/analyses', () => import('./views/analyses.js'));
route('/analyses/:id', () => import('./views/analyses.js'));
// ---- end of routes -------------------------------------------------------------------------

let current = null; // {controller, cleanup}
let generation = 0;

function parseHash() {
  let frag = location.hash.replace(/^#/, '');
  if (!frag || frag === '/') frag = '/runs';
  const qi = frag.indexOf('?');
  const path = qi < 0 ? frag : frag.slice(0, qi);
  const query = new URLSearchParams(qi < 0 ? '' : frag.slice(qi + 1));
  return { path, query };
}

// navigate(hash): go to a fragment ('#/runs/r_…'); the router renders it.
export function navigate(hash) {
  const target = hash.startsWith('#') ? hash : `#${hash}`;
  if (location.hash === target) show();
  else location.hash = target;
}

function leave() {
  if (!current) return;
  const { controller, cleanup } = current;
  current = null;
  controller.abort();
  if (typeof cleanup === 'function') {
    try {
      cleanup();
    } catch (e) {
      console.warn('view cleanup failed', e);
    }
  }
}

function markNav(path) {
  const section = path.split('/')[1] || 'runs';
  for (const a of document.querySelectorAll('nav.main a')) {
    a.classList.toggle('active', a.dataset.section === section);
  }
}

async function show() {
  const gen = ++generation;
  leave();
  const main = document.getElementById('view');
  clear(main);
  const { path, query } = parseHash();
  markNav(path);
  let match = null;
  let r = null;
  for (const candidate of routes) {
    match = candidate.re.exec(path);
    if (match) {
      r = candidate;
      break;
    }
  }
  if (!r) {
    main.appendChild(h('div', { class: 'message error', 'data-testid': 'not-found' },
      `Nothing here: #${path}. `, h('a', { href: '#/runs' }, 'Go to the runs')));
    return;
  }
  const params = { query };
  r.keys.forEach((k, i) => { params[k] = decodeURIComponent(match[i + 1]); });
  const controller = new AbortController();
  current = { controller, cleanup: null };
  const me = current;
  let mod;
  try {
    mod = await r.load();
  } catch (e) {
    if (gen !== generation) return;
    main.appendChild(h('div', { class: 'message error', 'data-testid': 'view-load-error' },
      `The view for #${path} could not be loaded (${e.message || e}). `,
      'This build of the page may not have it yet.'));
    return;
  }
  if (gen !== generation) return;
  const root = h('section', { class: 'view' });
  main.appendChild(root);
  const ctx = { signal: controller.signal, navigate, query, path };
  try {
    const cleanup = await mod.render(root, params, ctx);
    if (current === me) me.cleanup = cleanup;
    else if (typeof cleanup === 'function') cleanup();
  } catch (e) {
    if (e && e.name === 'AbortError') return;
    if (gen !== generation) return;
    root.appendChild(h('div', { class: 'message error', 'data-testid': 'view-error' }, describe(e)));
  }
}

async function showVersion() {
  const el = document.querySelector('[data-testid=daemon-version]');
  if (!el) return;
  try {
    const hz = await health();
    el.textContent = `eirnnd ${hz.version || '?'}`;
    el.title = `status ${hz.status}, ${hz.workers} workers, queue ${hz.queue_depth}`;
  } catch (e) {
    el.textContent = 'eirnnd: no answer';
  }
}

// A request aborted because its view was left is not an error.
window.addEventListener('unhandledrejection', (ev) => {
  if (ev.reason && ev.reason.name === 'AbortError') ev.preventDefault();
});
// Once the first view is shown, the other views' modules are fetched in the background, so
// that following a link later costs no request for code (and a reload right after a click
// cannot cut one off). A view that fails to load here says so when it is opened.
function warmUp() {
  for (const r of routes) r.load().catch(() => {});
}

window.addEventListener('hashchange', show);
show().finally(() => setTimeout(warmUp, 0));
showVersion();
