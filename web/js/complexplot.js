// Points in a plane on a plain canvas (helper module of "webmodels"): eigenvalues in the complex
// plane (equal scales, the unit circle, vertical reference lines such as Re λ = G_b) and small
// scatter plots (fixed points by their population rates). The legend and the value under the
// pointer are DOM text beside the canvas.

import { h } from './dom.js';
import { num } from './viewkit.js';

const MARGIN = { left: 52, right: 12, top: 12, bottom: 36 };

function niceStep(span, target) {
  const raw = span / Math.max(1, target);
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const f = raw / mag;
  return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * mag;
}

function bounds(opts) {
  let x0 = Infinity;
  let x1 = -Infinity;
  let y0 = Infinity;
  let y1 = -Infinity;
  const take = (x, y) => {
    if (!Number.isFinite(x) || !Number.isFinite(y)) return;
    if (x < x0) x0 = x;
    if (x > x1) x1 = x;
    if (y < y0) y0 = y;
    if (y > y1) y1 = y;
  };
  for (const s of opts.sets) for (let i = 0; i < s.x.length; i++) take(s.x[i], s.y[i]);
  if (opts.circle) {
    take(-1, -1);
    take(1, 1);
  }
  for (const l of opts.vlines || []) if (Number.isFinite(l.x)) take(l.x, Number.isFinite(y0) ? y0 : 0);
  for (const l of opts.hlines || []) if (Number.isFinite(l.y)) take(Number.isFinite(x0) ? x0 : 0, l.y);
  if (x0 === Infinity) {
    x0 = -1;
    x1 = 1;
    y0 = -1;
    y1 = 1;
  }
  if (opts.includeZero) {
    take(0, 0);
    x0 = Math.min(x0, 0);
    y0 = Math.min(y0, 0);
  }
  let sx = x1 - x0;
  let sy = y1 - y0;
  if (!(sx > 0)) {
    const d = Math.abs(x0) * 0.1 || 1;
    x0 -= d;
    x1 += d;
    sx = x1 - x0;
  }
  if (!(sy > 0)) {
    const d = Math.abs(y0) * 0.1 || 1;
    y0 -= d;
    y1 += d;
    sy = y1 - y0;
  }
  x0 -= 0.06 * sx;
  x1 += 0.06 * sx;
  y0 -= 0.06 * sy;
  y1 += 0.06 * sy;
  return { x0, x1, y0, y1 };
}

// planePlot(container, {sets: [{label, x, y, color, radius}], vlines: [{x, label, color, dash}],
//   hlines: [{y, label, color, dash}], circle, equal, xlabel, ylabel, width, height, testid})
// Draws into a new canvas appended to container and returns it. Points that are not finite are
// left out (and counted in the legend).
export function planePlot(container, opts) {
  const width = opts.width || 420;
  const height = opts.height || (opts.equal ? width - MARGIN.left - MARGIN.right + MARGIN.top + MARGIN.bottom : 300);
  const canvas = h('canvas', { class: 'plane-canvas' });
  if (opts.testid) canvas.setAttribute('data-testid', opts.testid);
  const dpr = window.devicePixelRatio || 1;
  canvas.width = Math.round(width * dpr);
  canvas.height = Math.round(height * dpr);
  canvas.style.width = `${width}px`;
  canvas.style.height = `${height}px`;
  const pw = width - MARGIN.left - MARGIN.right;
  const ph = height - MARGIN.top - MARGIN.bottom;
  let b = bounds(opts);
  if (opts.equal) {
    // One unit is as long on both axes: widen the narrower span around its centre.
    const perPx = Math.max((b.x1 - b.x0) / pw, (b.y1 - b.y0) / ph);
    const cx = (b.x0 + b.x1) / 2;
    const cy = (b.y0 + b.y1) / 2;
    b = { x0: cx - (perPx * pw) / 2, x1: cx + (perPx * pw) / 2, y0: cy - (perPx * ph) / 2, y1: cy + (perPx * ph) / 2 };
  }
  const X = (x) => MARGIN.left + ((x - b.x0) / (b.x1 - b.x0)) * pw;
  const Y = (y) => MARGIN.top + (1 - (y - b.y0) / (b.y1 - b.y0)) * ph;
  const g = canvas.getContext('2d');
  g.scale(dpr, dpr);
  g.fillStyle = '#ffffff';
  g.fillRect(0, 0, width, height);
  g.font = '11px system-ui, sans-serif';
  g.lineWidth = 1;

  // Grid and tick labels.
  g.strokeStyle = '#e4e4e4';
  g.fillStyle = '#444';
  const stepX = niceStep(b.x1 - b.x0, pw / 70);
  const stepY = niceStep(b.y1 - b.y0, ph / 50);
  g.textAlign = 'center';
  g.textBaseline = 'top';
  for (let t = Math.ceil(b.x0 / stepX) * stepX; t <= b.x1; t += stepX) {
    const px = Math.round(X(t)) + 0.5;
    g.beginPath();
    g.moveTo(px, MARGIN.top);
    g.lineTo(px, MARGIN.top + ph);
    g.stroke();
    g.fillText(num(Math.abs(t) < stepX * 1e-9 ? 0 : t, 3), px, MARGIN.top + ph + 4);
  }
  g.textAlign = 'right';
  g.textBaseline = 'middle';
  for (let t = Math.ceil(b.y0 / stepY) * stepY; t <= b.y1; t += stepY) {
    const py = Math.round(Y(t)) + 0.5;
    g.beginPath();
    g.moveTo(MARGIN.left, py);
    g.lineTo(MARGIN.left + pw, py);
    g.stroke();
    g.fillText(num(Math.abs(t) < stepY * 1e-9 ? 0 : t, 3), MARGIN.left - 4, py);
  }
  g.textAlign = 'center';
  g.textBaseline = 'bottom';
  if (opts.xlabel) g.fillText(opts.xlabel, MARGIN.left + pw / 2, height - 2);
  if (opts.ylabel) {
    g.save();
    g.translate(12, MARGIN.top + ph / 2);
    g.rotate(-Math.PI / 2);
    g.textBaseline = 'middle';
    g.fillText(opts.ylabel, 0, 0);
    g.restore();
  }

  g.save();
  g.beginPath();
  g.rect(MARGIN.left, MARGIN.top, pw, ph);
  g.clip();
  // The axes through 0.
  g.strokeStyle = '#999';
  if (b.x0 < 0 && b.x1 > 0) {
    g.beginPath();
    g.moveTo(Math.round(X(0)) + 0.5, MARGIN.top);
    g.lineTo(Math.round(X(0)) + 0.5, MARGIN.top + ph);
    g.stroke();
  }
  if (b.y0 < 0 && b.y1 > 0) {
    g.beginPath();
    g.moveTo(MARGIN.left, Math.round(Y(0)) + 0.5);
    g.lineTo(MARGIN.left + pw, Math.round(Y(0)) + 0.5);
    g.stroke();
  }
  if (opts.circle) {
    g.strokeStyle = '#555';
    g.setLineDash([4, 3]);
    g.beginPath();
    g.ellipse(X(0), Y(0), X(1) - X(0), Y(0) - Y(1), 0, 0, 2 * Math.PI);
    g.stroke();
    g.setLineDash([]);
  }
  for (const l of opts.vlines || []) {
    if (!Number.isFinite(l.x)) continue;
    g.strokeStyle = l.color || '#d62728';
    g.lineWidth = 1.5;
    g.setLineDash(l.dash || []);
    g.beginPath();
    g.moveTo(X(l.x), MARGIN.top);
    g.lineTo(X(l.x), MARGIN.top + ph);
    g.stroke();
  }
  for (const l of opts.hlines || []) {
    if (!Number.isFinite(l.y)) continue;
    g.strokeStyle = l.color || '#d62728';
    g.lineWidth = 1.5;
    g.setLineDash(l.dash || []);
    g.beginPath();
    g.moveTo(MARGIN.left, Y(l.y));
    g.lineTo(MARGIN.left + pw, Y(l.y));
    g.stroke();
  }
  g.setLineDash([]);
  g.lineWidth = 1;
  const drawn = [];
  for (const s of opts.sets) {
    const n = s.x.length;
    const r = s.radius || (n > 2000 ? 1.5 : n > 200 ? 2.5 : 4);
    g.fillStyle = s.color || '#1f77b4';
    g.strokeStyle = s.stroke || 'rgba(0,0,0,0.45)';
    for (let i = 0; i < n; i++) {
      const x = s.x[i];
      const y = s.y[i];
      if (!Number.isFinite(x) || !Number.isFinite(y)) continue;
      g.beginPath();
      g.arc(X(x), Y(y), r, 0, 2 * Math.PI);
      g.fill();
      if (n <= 2000) g.stroke();
      drawn.push([X(x), Y(y), s, i]);
    }
  }
  g.restore();
  g.strokeStyle = '#888';
  g.strokeRect(MARGIN.left + 0.5, MARGIN.top + 0.5, pw - 1, ph - 1);

  // Legend and pointer readout, in the DOM.
  const legend = h('div', { class: 'plane-legend' });
  for (const s of opts.sets) {
    let bad = 0;
    for (let i = 0; i < s.x.length; i++) if (!Number.isFinite(s.x[i]) || !Number.isFinite(s.y[i])) bad++;
    const sw = h('span', { class: 'swatch' });
    sw.style.background = s.color || '#1f77b4';
    legend.append(h('span', { class: 'legend-item' }, sw, `${s.label} (${s.x.length - bad}${bad ? `, ${bad} not finite` : ''})`));
  }
  if (opts.circle) legend.append(h('span', { class: 'legend-item' }, h('span', { class: 'swatch dashed' }), 'unit circle'));
  for (const l of [...(opts.vlines || []), ...(opts.hlines || [])]) {
    if (!l.label) continue;
    const sw = h('span', { class: 'swatch line' });
    sw.style.background = l.color || '#d62728';
    legend.append(h('span', { class: 'legend-item' }, sw, l.label));
  }
  const readout = h('div', { class: 'plane-readout' }, '\u00a0');
  canvas.addEventListener('mousemove', (ev) => {
    const rect = canvas.getBoundingClientRect();
    const mx = ev.clientX - rect.left;
    const my = ev.clientY - rect.top;
    let best = null;
    let bd = 64;
    for (const p of drawn) {
      const d = (p[0] - mx) ** 2 + (p[1] - my) ** 2;
      if (d < bd) {
        bd = d;
        best = p;
      }
    }
    if (!best) {
      readout.textContent = '\u00a0';
      return;
    }
    const s = best[2];
    const i = best[3];
    readout.textContent = s.describe ? s.describe(i) : `${s.label} #${i}: (${num(s.x[i], 6)}, ${num(s.y[i], 6)})`;
  });
  container.append(canvas, legend, readout);
  return canvas;
}

// Eigenvalues (interleaved re, im as complex128 .npy data) as a set for planePlot.
export function eigenSet(data, offset, count, label, color) {
  const x = new Float64Array(count);
  const y = new Float64Array(count);
  for (let k = 0; k < count; k++) {
    x[k] = data[2 * (offset + k)];
    y[k] = data[2 * (offset + k) + 1];
  }
  return {
    label,
    x,
    y,
    color,
    describe: (i) => `λ${i} = ${num(x[i], 6)} ${y[i] < 0 ? '−' : '+'} ${num(Math.abs(y[i]), 6)}i   |λ| = ${num(Math.hypot(x[i], y[i]), 6)}`,
  };
}

// The reference lines of a spectrum, by what it is the spectrum of (docs/ANALYSIS.md):
// * of W: the linearisation at rest of a network without gate is J = -G_b + W f'(0), so with
//   unit gain an eigenvalue λ of W is unstable past Re λ = G_b: the line Re λ = leak;
// * of the Jacobian: J holds the leak already: Re λ = 0 is the stability boundary, and
//   Re λ = -G_b is where an uncoupled cell's eigenvalue sits;
// * of M (the gate, M ≥ 0): no stability line (its eigenvalues add conductance, not drive).
// leak is {min, max} of G_b (two lines when it varies between cells), or null when unknown.
export function spectrumLines(of, leak) {
  const lines = [];
  const pair = (sign, what, color) => {
    if (!leak || !Number.isFinite(leak.min)) return;
    if (leak.min === leak.max) {
      lines.push({ x: sign * leak.min, label: `Re λ = ${sign < 0 ? '−' : ''}G_b = ${num(sign * leak.min, 4)} (${what})`, color });
    } else {
      lines.push({ x: sign * leak.min, label: `Re λ = ${num(sign * leak.min, 4)} (${sign < 0 ? '−' : ''}min G_b, ${what})`, color, dash: [6, 3] });
      lines.push({ x: sign * leak.max, label: `Re λ = ${num(sign * leak.max, 4)} (${sign < 0 ? '−' : ''}max G_b, ${what})`, color, dash: [2, 2] });
    }
  };
  if (of === 'W') {
    pair(1, 'leak: unstable beyond it at unit gain', '#d62728');
  } else if (of === 'jacobian') {
    lines.push({ x: 0, label: 'Re λ = 0 (stability boundary)', color: '#d62728' });
    pair(-1, 'leak of an uncoupled cell', '#2ca02c');
  }
  return lines;
}
