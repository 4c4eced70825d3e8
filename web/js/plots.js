// Line plots (uPlot) and scatter plots (plain canvas). Axis labels and legends live in the DOM.

import uPlot from '../vendor/uplot/uPlot.esm.js';

export const PALETTE = ['#c0392b', '#2471a3', '#229954', '#b9770e', '#7d3c98', '#17a589',
  '#a04000', '#2e4053', '#d4ac0d', '#cb4335'];

// decimate(x, series, columns) → {x, series}: when there are more than 2·columns samples, each
// of `columns` buckets of consecutive samples becomes two points (its first and last x) holding
// each series' minimum and maximum in the order they occur, so that the envelope (every spike)
// survives. NaN/±Infinity become null (a gap). Fewer samples are returned as they are
// (non-finite values still as null).
export function decimate(x, seriesValues, columns) {
  const n = x.length;
  const clean = (v) => (Number.isFinite(v) ? v : null);
  if (n <= 2 * columns) {
    return {
      x: Array.from(x, Number),
      series: seriesValues.map((vals) => Array.from(vals, (v) => clean(Number(v)))),
    };
  }
  const xs = new Float64Array(2 * columns);
  const out = seriesValues.map(() => new Array(2 * columns));
  for (let b = 0; b < columns; b++) {
    const i0 = Math.floor((b * n) / columns);
    const i1 = Math.max(i0 + 1, Math.floor(((b + 1) * n) / columns));
    xs[2 * b] = x[i0];
    xs[2 * b + 1] = x[i1 - 1];
    seriesValues.forEach((vals, s) => {
      let lo = Infinity; let hi = -Infinity; let ilo = -1; let ihi = -1; let gap = false;
      for (let i = i0; i < i1; i++) {
        const v = Number(vals[i]);
        if (!Number.isFinite(v)) { gap = true; continue; }
        if (v < lo) { lo = v; ilo = i; }
        if (v > hi) { hi = v; ihi = i; }
      }
      if (ilo < 0) {
        out[s][2 * b] = null;
        out[s][2 * b + 1] = null;
      } else {
        const first = ilo <= ihi ? lo : hi;
        const second = ilo <= ihi ? hi : lo;
        out[s][2 * b] = first;
        out[s][2 * b + 1] = gap && i1 - i0 === 1 ? null : second;
      }
    });
  }
  return { x: Array.from(xs), series: out };
}

// linePlot(container, {x, series: [{label, values, stroke}], xlabel, ylabel, height, width})
// → the uPlot instance, appended to container (its width by default). More samples than pixel
// columns are decimated to min/max per column (decimate above). Throws when x and a series
// differ in length.
export function linePlot(container, opts) {
  const { x, series, xlabel = '', ylabel = '', height = 260 } = opts;
  for (const s of series) {
    if (s.values.length !== x.length) {
      throw new Error(`linePlot: series ${s.label} has ${s.values.length} values, x has ${x.length}`);
    }
  }
  const width = Math.max(200, opts.width || container.clientWidth || 800);
  const d = decimate(x, series.map((s) => s.values), Math.max(50, Math.floor(width)));
  const plot = new uPlot({
    width,
    height,
    scales: { x: { time: false } },
    axes: [
      { label: xlabel, stroke: '#333', grid: { stroke: '#e5e5e5' } },
      { label: ylabel, stroke: '#333', grid: { stroke: '#e5e5e5' } },
    ],
    series: [
      { label: xlabel || 'x' },
      ...series.map((s, i) => ({
        label: s.label,
        stroke: s.stroke || PALETTE[i % PALETTE.length],
        width: 1.5,
        points: { show: false },
        spanGaps: false,
      })),
    ],
    legend: { show: true },
    cursor: { drag: { x: true, y: false } },
  }, [d.x, ...d.series], container);
  return plot;
}

// scatterPlot(container, {series: [{label, x, y, color, size}], circles: [{cx, cy, r, stroke}],
// vlines: [{x, stroke, label}], hlines: [{y, stroke, label}], xlabel, ylabel, width, height,
// equal: bool (same scale on x and y), pad: fraction}) → {canvas, toPixel(x, y)}: points on a
// canvas (with axes and ticks drawn inside it), a DOM legend and axis labels beside it. The
// ranges cover every point, circle and line. `canvas.dataset.points` is the number of points.
export function scatterPlot(container, opts) {
  const width = opts.width || Math.max(240, Math.min(container.clientWidth || 480, 520));
  const height = opts.height || width;
  const series = opts.series || [];
  const circles = opts.circles || [];
  const vlines = opts.vlines || [];
  const hlines = opts.hlines || [];
  let x0 = Infinity; let x1 = -Infinity; let y0 = Infinity; let y1 = -Infinity;
  const grow = (x, y) => {
    if (Number.isFinite(x)) { x0 = Math.min(x0, x); x1 = Math.max(x1, x); }
    if (Number.isFinite(y)) { y0 = Math.min(y0, y); y1 = Math.max(y1, y); }
  };
  let npoints = 0;
  for (const s of series) for (let i = 0; i < s.x.length; i++) { grow(s.x[i], s.y[i]); npoints++; }
  for (const c of circles) { grow(c.cx - c.r, c.cy - c.r); grow(c.cx + c.r, c.cy + c.r); }
  for (const l of vlines) grow(l.x, NaN);
  for (const l of hlines) grow(NaN, l.y);
  if (!(x1 >= x0)) { x0 = -1; x1 = 1; }
  if (!(y1 >= y0)) { y0 = -1; y1 = 1; }
  if (x1 === x0) { x0 -= 1; x1 += 1; }
  if (y1 === y0) { y0 -= 1; y1 += 1; }
  const pad = opts.pad ?? 0.08;
  let dx = (x1 - x0) * pad; let dy = (y1 - y0) * pad;
  x0 -= dx; x1 += dx; y0 -= dy; y1 += dy;
  const m = { l: 52, r: 10, t: 10, b: 30 };
  const pw = width - m.l - m.r;
  const ph = height - m.t - m.b;
  if (opts.equal) {
    const sx = (x1 - x0) / pw; const sy = (y1 - y0) / ph; const s = Math.max(sx, sy);
    const cx = (x0 + x1) / 2; const cy = (y0 + y1) / 2;
    x0 = cx - (s * pw) / 2; x1 = cx + (s * pw) / 2; y0 = cy - (s * ph) / 2; y1 = cy + (s * ph) / 2;
  }
  const toPixel = (x, y) => [m.l + ((x - x0) / (x1 - x0)) * pw, m.t + (1 - (y - y0) / (y1 - y0)) * ph];
  const canvas = document.createElement('canvas');
  canvas.width = width;
  canvas.height = height;
  canvas.className = 'scatter-canvas';
  const ctx = canvas.getContext('2d');
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, width, height);
  ctx.strokeStyle = '#999';
  ctx.strokeRect(m.l, m.t, pw, ph);
  ctx.fillStyle = '#333';
  ctx.font = '11px sans-serif';
  for (const t of ticks(x0, x1, 6)) {
    const [px] = toPixel(t, y0);
    ctx.fillText(fmtTick(t), px - 10, height - m.b + 14);
    ctx.strokeStyle = '#eee';
    ctx.beginPath(); ctx.moveTo(px, m.t); ctx.lineTo(px, m.t + ph); ctx.stroke();
  }
  for (const t of ticks(y0, y1, 6)) {
    const [, py] = toPixel(x0, t);
    ctx.fillText(fmtTick(t), 4, py + 4);
    ctx.strokeStyle = '#eee';
    ctx.beginPath(); ctx.moveTo(m.l, py); ctx.lineTo(m.l + pw, py); ctx.stroke();
  }
  ctx.save();
  ctx.beginPath(); ctx.rect(m.l, m.t, pw, ph); ctx.clip();
  for (const c of circles) {
    const [cx, cy] = toPixel(c.cx, c.cy);
    const rx = (c.r / (x1 - x0)) * pw; const ry = (c.r / (y1 - y0)) * ph;
    ctx.strokeStyle = c.stroke || '#555';
    ctx.beginPath(); ctx.ellipse(cx, cy, rx, ry, 0, 0, 2 * Math.PI); ctx.stroke();
  }
  for (const l of vlines) {
    const [px] = toPixel(l.x, 0);
    ctx.strokeStyle = l.stroke || '#c0392b';
    ctx.setLineDash([5, 4]);
    ctx.beginPath(); ctx.moveTo(px, m.t); ctx.lineTo(px, m.t + ph); ctx.stroke();
    ctx.setLineDash([]);
  }
  for (const l of hlines) {
    const [, py] = toPixel(0, l.y);
    ctx.strokeStyle = l.stroke || '#c0392b';
    ctx.setLineDash([5, 4]);
    ctx.beginPath(); ctx.moveTo(m.l, py); ctx.lineTo(m.l + pw, py); ctx.stroke();
    ctx.setLineDash([]);
  }
  series.forEach((s, k) => {
    ctx.fillStyle = s.color || PALETTE[k % PALETTE.length];
    const r = s.size || 3;
    for (let i = 0; i < s.x.length; i++) {
      if (!Number.isFinite(s.x[i]) || !Number.isFinite(s.y[i])) continue;
      const [px, py] = toPixel(s.x[i], s.y[i]);
      ctx.beginPath(); ctx.arc(px, py, r, 0, 2 * Math.PI); ctx.fill();
    }
  });
  ctx.restore();
  canvas.dataset.points = String(npoints);
  const wrap = document.createElement('figure');
  wrap.className = 'scatter';
  wrap.appendChild(canvas);
  const cap = document.createElement('figcaption');
  const legendItems = [
    ...series.map((s, k) => [s.label, s.color || PALETTE[k % PALETTE.length]]),
    ...vlines.filter((l) => l.label).map((l) => [l.label, l.stroke || '#c0392b']),
    ...hlines.filter((l) => l.label).map((l) => [l.label, l.stroke || '#c0392b']),
    ...circles.filter((c) => c.label).map((c) => [c.label, c.stroke || '#555']),
  ];
  for (const [label, color] of legendItems) {
    const item = document.createElement('span');
    item.className = 'legend-item';
    const sw = document.createElement('canvas');
    sw.width = 10; sw.height = 10; sw.className = 'swatch';
    const sc = sw.getContext('2d'); sc.fillStyle = color; sc.fillRect(0, 0, 10, 10);
    item.append(sw, document.createTextNode(` ${label}`));
    cap.appendChild(item);
  }
  const axes = document.createElement('div');
  axes.className = 'axis-labels';
  axes.textContent = `x: ${opts.xlabel || ''}   y: ${opts.ylabel || ''}`;
  cap.appendChild(axes);
  wrap.appendChild(cap);
  container.appendChild(wrap);
  return { canvas, toPixel };
}

function ticks(a, b, n) {
  const step0 = (b - a) / n;
  const mag = 10 ** Math.floor(Math.log10(step0));
  const step = [1, 2, 5, 10].map((f) => f * mag).find((s) => s >= step0) || step0;
  const out = [];
  for (let t = Math.ceil(a / step) * step; t <= b + 1e-12 * step; t += step) out.push(Math.abs(t) < step * 1e-9 ? 0 : t);
  return out;
}

function fmtTick(t) {
  return String(Number(t.toPrecision(3)));
}
