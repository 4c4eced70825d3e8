// The /v1 API as the page uses it. The bearer token lives in sessionStorage['eirnn.token']
// (never in a URL or a cookie); a 401 shows the token prompt (one prompt for every concurrent
// caller) and the call is retried with the token entered.

import { parseNpy } from './npy.js';

const TOKEN_KEY = 'eirnn.token';

export class ApiError extends Error {
  // status: the HTTP status (0 for a network failure); problem: the problem+json body (or one
  // made up from the answer when the body is not problem+json).
  constructor(status, problem) {
    super(problem && (problem.detail || problem.title) ? (problem.detail || problem.title) : `HTTP ${status}`);
    this.name = 'ApiError';
    this.status = status;
    this.problem = problem || {};
  }
}

export function token() {
  try {
    return sessionStorage.getItem(TOKEN_KEY) || '';
  } catch {
    return '';
  }
}

function setToken(value) {
  try {
    sessionStorage.setItem(TOKEN_KEY, value);
  } catch {
    /* storage unavailable: the token lives only as long as the prompt's answer */
  }
}

// ---- token prompt -------------------------------------------------------------------------

let pendingPrompt = null;

function promptElements() {
  let form = document.querySelector('[data-testid=token-prompt]');
  if (!form) {
    form = document.createElement('form');
    form.setAttribute('data-testid', 'token-prompt');
    form.className = 'token-prompt';
    form.hidden = true;
    const label = document.createElement('label');
    label.textContent = 'This daemon needs a token: ';
    const input = document.createElement('input');
    input.type = 'password';
    input.setAttribute('data-testid', 'token-input');
    input.autocomplete = 'off';
    label.appendChild(input);
    const button = document.createElement('button');
    button.type = 'submit';
    button.textContent = 'Use token';
    button.setAttribute('data-testid', 'token-submit');
    const msg = document.createElement('p');
    msg.setAttribute('data-testid', 'token-error');
    msg.className = 'token-error';
    form.append(label, button, msg);
    document.body.prepend(form);
  }
  return {
    form,
    input: form.querySelector('[data-testid=token-input]'),
    message: form.querySelector('[data-testid=token-error]'),
  };
}

// askToken(message) → Promise<token>: shows the prompt (once, whoever asks meanwhile) and
// resolves with what the user entered.
export function askToken(message) {
  if (pendingPrompt) return pendingPrompt;
  const { form, input, message: msg } = promptElements();
  msg.textContent = message || '';
  msg.hidden = !message;
  form.hidden = false;
  document.body.classList.add('needs-token');
  input.value = '';
  input.focus();
  pendingPrompt = new Promise((resolve) => {
    const onSubmit = (ev) => {
      ev.preventDefault();
      const value = input.value.trim();
      if (!value) {
        msg.textContent = 'Enter the token the daemon was started with (--token or EIRNN_TOKEN).';
        msg.hidden = false;
        return;
      }
      form.removeEventListener('submit', onSubmit);
      form.hidden = true;
      document.body.classList.remove('needs-token');
      setToken(value);
      pendingPrompt = null;
      resolve(value);
    };
    form.addEventListener('submit', onSubmit);
  });
  return pendingPrompt;
}

function abortable(promise, signal) {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(new DOMException('aborted', 'AbortError'));
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(new DOMException('aborted', 'AbortError'));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then((v) => { signal.removeEventListener('abort', onAbort); resolve(v); },
      (e) => { signal.removeEventListener('abort', onAbort); reject(e); });
  });
}

// ---- requests -----------------------------------------------------------------------------

async function problemFrom(res) {
  const text = await res.text().catch(() => '');
  try {
    const body = JSON.parse(text);
    if (body && typeof body === 'object') return body;
  } catch {
    /* not JSON */
  }
  return { status: res.status, title: res.statusText || `HTTP ${res.status}`, detail: text.slice(0, 500) };
}

// request(path, {method, body, headers, signal}) → the Response (2xx or 304). Throws ApiError
// on 4xx/5xx (and status 0 on a network failure); AbortError passes through. On a 401 asks for
// the token and retries, as many times as the user keeps trying.
export async function request(path, { method = 'GET', body, headers = {}, signal } = {}) {
  let refused = '';
  for (;;) {
    const used = token();
    const h = { ...headers };
    if (used) h.Authorization = `Bearer ${used}`;
    let res;
    try {
      res = await fetch(path, { method, body, headers: h, signal, cache: 'no-store' });
    } catch (e) {
      if (e && e.name === 'AbortError') throw e;
      throw new ApiError(0, { title: 'Network error', detail: `${method} ${path}: ${e.message || e}` });
    }
    if (res.status === 401) {
      await res.body?.cancel().catch(() => {});
      if (token() !== used) continue; // someone entered a new token meanwhile
      refused = used ? 'The daemon refused that token; try again.' : '';
      await abortable(askToken(refused), signal);
      continue;
    }
    if (res.status >= 400) throw new ApiError(res.status, await problemFrom(res));
    return res;
  }
}

async function json(res) {
  if (res.status === 204) return null;
  const text = await res.text();
  return text ? JSON.parse(text) : null;
}

// get(path, {signal}) → the JSON answer.
export async function get(path, { signal } = {}) {
  return json(await request(path, { signal, headers: { Accept: 'application/json' } }));
}

// post(path, body, {signal, headers}) → the JSON answer (body: an object, sent as JSON, or a
// string sent as is).
export async function post(path, body, { signal, headers = {} } = {}) {
  const text = typeof body === 'string' ? body : JSON.stringify(body ?? {});
  return json(await request(path, {
    method: 'POST', body: text, signal,
    headers: { 'Content-Type': 'application/json', Accept: 'application/json', ...headers },
  }));
}

// del(path, {signal}) → null (204) or the JSON answer.
export async function del(path, { signal } = {}) {
  return json(await request(path, { method: 'DELETE', signal }));
}

// npy(url, {signal}) → {dtype, shape, data} (npy.js), fetched as .npy.
export async function npy(url, { signal } = {}) {
  const res = await request(url, { signal, headers: { Accept: 'application/octet-stream' } });
  return parseNpy(await readBody(res));
}

// The body as an ArrayBuffer, read chunk by chunk into one buffer of Content-Length bytes
// (so that an 80 MB result never blocks the page in one long task, nor is held twice).
async function readBody(res) {
  const length = Number(res.headers.get('Content-Length'));
  if (!res.body || !Number.isSafeInteger(length) || length <= 0) return res.arrayBuffer();
  const out = new Uint8Array(length);
  const reader = res.body.getReader();
  let at = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (at + value.length > length) throw new ApiError(res.status, { title: 'Bad answer', detail: `${res.url}: more bytes than its Content-Length (${length})` });
    out.set(value, at);
    at += value.length;
  }
  if (at !== length) throw new ApiError(res.status, { title: 'Bad answer', detail: `${res.url}: ${at} bytes of ${length}` });
  return out.buffer;
}

// changes(after, wait, {signal}) → the change counter (GET /v1/changes?after=&wait=): answered
// at once when `after` is null or differs from the daemon's counter, else when it moves or
// after `wait` seconds.
export async function changes(after, wait, { signal } = {}) {
  const q = new URLSearchParams();
  if (after !== null && after !== undefined) q.set('after', String(after));
  if (wait) q.set('wait', String(wait));
  const body = await get(`/v1/changes${q.toString() ? `?${q}` : ''}`, { signal });
  return body.seq;
}

// waitRun(id, done, wait, {signal}) → the run resource, answered when the run ends, when its
// progress.done differs from `done`, or after `wait` seconds (GET /v1/runs/{id}?wait=&progress=).
// With done null/undefined, only the end or the deadline answers.
export async function waitRun(id, done, wait, { signal } = {}) {
  return waitJob('runs', id, done, wait, { signal });
}

// waitAnalysis(id, done, wait, {signal}): the same for /v1/analyses/{id}.
export async function waitAnalysis(id, done, wait, { signal } = {}) {
  return waitJob('analyses', id, done, wait, { signal });
}

async function waitJob(kind, id, done, wait, { signal }) {
  const q = new URLSearchParams({ wait: String(wait) });
  if (done !== null && done !== undefined) q.set('progress', String(done));
  return get(`/v1/${kind}/${encodeURIComponent(id)}?${q}`, { signal });
}

// download(url, filename): saves an API resource as a file. Without a token a plain link does
// it; with one, the bearer header is needed, so the file is fetched and saved from a Blob.
export async function download(url, filename) {
  const res = await request(url);
  const blob = await res.blob();
  const href = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = href;
  a.download = filename;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(href), 10000);
}

// health() → the /healthz answer (never needs the token).
export async function health({ signal } = {}) {
  const res = await fetch('/healthz', { signal, cache: 'no-store' });
  return res.json();
}
