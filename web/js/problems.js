// Server errors (application/problem+json) shown in forms, next to the field they name.

import { h } from './dom.js';
import { pointerSpan } from './jsonspan.js';

// A field pointer p "prefixes" f when f is p or starts with p + '/' ("" prefixes every pointer).
function prefixes(p, f) {
  return p === '' || f === p || f.startsWith(`${p}/`);
}

// problemOf(errOrProblem) → the problem object of an ApiError, or the object itself, or a
// problem made from a plain Error.
export function problemOf(x) {
  if (x && x.problem) return x.problem;
  if (x instanceof Error) return { title: x.name, detail: x.message };
  return x || {};
}

// describe(errOrProblem) → one line for a user: "title: detail (field /x)".
export function describe(x) {
  const p = problemOf(x);
  const parts = [];
  if (p.status) parts.push(String(p.status));
  if (p.title) parts.push(p.title);
  let s = parts.join(' ');
  if (p.detail) s = s ? `${s}: ${p.detail}` : p.detail;
  if (p.field !== undefined && p.field !== null) s += ` (at ${p.field === '' ? 'the document' : p.field})`;
  if (p.parameter) s += ` (parameter ${p.parameter})`;
  return s || 'unknown error';
}

// showProblem(form, errOrProblem): puts the problem's detail in a
// div[data-testid=field-error][data-field=<the problem's field>] right after the element of the
// form whose data-pointer is the longest prefix of the problem's `field` (the pointer is shown
// with the detail); when none matches, or the problem has no field, at the top of the form
// with data-field="". Marks the input aria-invalid and returns the error element.
export function showProblem(form, x) {
  const p = problemOf(x);
  const field = typeof p.field === 'string' ? p.field : null;
  let target = null;
  if (field !== null) {
    let best = -1;
    for (const el of form.querySelectorAll('[data-pointer]')) {
      const ptr = el.getAttribute('data-pointer');
      if (prefixes(ptr, field) && ptr.length > best) {
        best = ptr.length;
        target = el;
      }
    }
  }
  const text = p.detail || p.title || 'error';
  const err = h('div', {
    class: 'field-error',
    role: 'alert',
    'data-testid': 'field-error',
    'data-field': target ? field : '',
  },
  field !== null ? h('code', { class: 'pointer' }, field === '' ? '(document)' : field) : null,
  field !== null ? ' ' : null,
  text,
  !target && p.title && p.detail ? h('span', { class: 'problem-title' }, ` (${p.title})`) : null);
  if (target) {
    target.setAttribute('aria-invalid', 'true');
    target.insertAdjacentElement('afterend', err);
    if (target.tagName === 'TEXTAREA') pointInDocument(target, field, err);
  } else {
    form.insertAdjacentElement('afterbegin', err);
  }
  return err;
}

// A pasted document (a textarea whose data-pointer prefixes the field): select the member the
// field names in the text, scroll it into view and say its line in the error (data-line).
// Nothing happens when the text is not JSON as far as the field goes.
function pointInDocument(area, field, err) {
  const base = area.getAttribute('data-pointer');
  const span = pointerSpan(area.value, field.slice(base.length));
  if (!span) return;
  err.setAttribute('data-line', String(span.line));
  err.append(h('span', { class: 'problem-line' },
    span.exact ? ` (line ${span.line} of the document, selected)`
      : ` (not in the document; the nearest part that is: line ${span.line}, selected)`));
  area.focus({ preventScroll: true });
  area.setSelectionRange(span.start, span.end);
  const style = getComputedStyle(area);
  const lineHeight = parseFloat(style.lineHeight) || 1.2 * parseFloat(style.fontSize) || 16;
  area.scrollTop = Math.max(0, (span.line - 3) * lineHeight);
}

// clearProblems(form): removes every field-error of the form and the aria-invalid marks.
export function clearProblems(form) {
  for (const el of form.querySelectorAll('[data-testid=field-error]')) el.remove();
  for (const el of form.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
}
