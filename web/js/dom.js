// Small DOM helpers shared by every view. User strings only ever become text nodes.

// h(tag, attrs, ...children): attrs: `class`, `data-*`, `on<event>` (functions, attached with
// addEventListener), booleans (true: present, false/null/undefined: absent), anything else via
// setAttribute. `style` is refused (the CSP forbids inline styles). Children: nodes, strings
// or numbers (text nodes), arrays of those (flattened), null/undefined/false (skipped).
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [name, value] of Object.entries(attrs)) {
      if (value === undefined || value === null || value === false) continue;
      if (name === 'style') throw new Error('h(): inline style is not allowed (CSP)');
      if (name.startsWith('on') && typeof value === 'function') {
        el.addEventListener(name.slice(2).toLowerCase(), value);
      } else if (name === 'class') {
        el.className = Array.isArray(value) ? value.filter(Boolean).join(' ') : String(value);
      } else if (value === true) {
        el.setAttribute(name, '');
      } else {
        el.setAttribute(name, String(value));
      }
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else if (child instanceof Node) el.appendChild(child);
    else el.appendChild(document.createTextNode(String(child)));
  }
}

// clear(el): removes every child of el; returns el.
export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

// fmt(x, digits = 4): a number for display: integers as they are, others to `digits`
// significant digits (exponent form when very large or small); null/undefined → "—",
// NaN → "NaN", ±Infinity → "∞"/"-∞". Non-numbers are returned as strings.
export function fmt(x, digits = 4) {
  if (x === null || x === undefined) return '—';
  if (typeof x === 'bigint') return x.toString();
  if (typeof x !== 'number') return String(x);
  if (Number.isNaN(x)) return 'NaN';
  if (!Number.isFinite(x)) return x > 0 ? '∞' : '-∞';
  if (Number.isInteger(x) && Math.abs(x) < 1e15) return String(x);
  const a = Math.abs(x);
  if (a !== 0 && (a < 1e-3 || a >= 1e6)) return x.toExponential(Math.max(0, digits - 1));
  return String(Number(x.toPrecision(digits)));
}

// Time for display: "2026-11-28T11:41:13.227Z" → "2026-11-28 11:41:13" (UTC).
export function fmtTime(iso) {
  if (!iso) return '—';
  return String(iso).replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}
