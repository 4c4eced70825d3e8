// Heat maps on a plain canvas. The canvas's backing store (canvas.width × canvas.height) is the
// plot area only: axes, labels and separators are DOM elements around it.
//
// Drawing rule (relied on by the browser tests): with N data rows and H pixel rows, row i covers
// pixel rows floor(i·H/N) … floor((i+1)·H/N) − 1 when N < H; when N ≥ H, pixel row p shows the
// MEAN of the rows i with floor(i·H/N) = p. The same holds for columns on x. A pixel is the mean
// of every value of the block of rows × columns it covers; a block holding a NaN is grey
// (#808080). Values are clamped to [vmin, vmax] and coloured by colormap((v − vmin)/(vmax − vmin)).

import { viridis, lut } from './colormaps.js';

const LUT_SIZE = 1024;
const luts = new WeakMap();
const generations = new WeakMap();

function lutFor(colormap) {
  let table = luts.get(colormap);
  if (!table) {
    table = lut(colormap, LUT_SIZE);
    luts.set(colormap, table);
  }
  return table;
}

// pixelRanges(n, px) → {lo, hi} (Int32Array of px each): pixel k shows data indices
// lo[k] … hi[k] − 1 (one index when n < px, the indices i with floor(i·px/n) = k otherwise).
export function pixelRanges(n, px) {
  const lo = new Int32Array(px).fill(-1);
  const hi = new Int32Array(px);
  for (let i = 0; i < n; i++) {
    const p0 = Math.floor((i * px) / n);
    const p1 = Math.min(px, Math.max(Math.floor(((i + 1) * px) / n), p0 + 1));
    for (let p = p0; p < p1; p++) {
      if (lo[p] < 0) lo[p] = i;
      hi[p] = i + 1;
    }
  }
  return { lo, hi };
}

// Yield to the event loop (a macrotask, without setTimeout's 4 ms clamp where possible).
export function yieldToLoop() {
  if (typeof MessageChannel === 'undefined') return new Promise((r) => setTimeout(r, 0));
  return new Promise((resolve) => {
    const ch = new MessageChannel();
    ch.port1.onmessage = () => {
      ch.port1.close();
      resolve();
    };
    ch.port2.postMessage(0);
  });
}

// reduceToPixels({rows, cols, values | get, width, height, signal, isCurrent, sliceMs})
// → Promise<{pixels: Float64Array(width·height) row-major, min, max}> where min/max are the
// finite extremes of the data (null when none is finite). Works in slices of about sliceMs
// (default 12) between which it yields; rejects with an AbortError when `signal` aborts, and
// resolves to null when isCurrent() turns false (a newer drawing replaced this one).
export async function reduceToPixels(opts) {
  const { rows, cols, values, get, width, height, signal } = opts;
  const isCurrent = opts.isCurrent || (() => true);
  const sliceMs = opts.sliceMs ?? 12;
  if (!(rows > 0 && cols > 0 && width > 0 && height > 0)) {
    throw new Error(`heatmap: empty data or canvas (${rows}×${cols} on ${width}×${height})`);
  }
  if (!values && typeof get !== 'function') throw new Error('heatmap: give values or get');
  if (values && values.length < rows * cols) {
    throw new Error(`heatmap: ${values.length} values for ${rows}×${cols}`);
  }
  const R = pixelRanges(rows, height);
  const C = pixelRanges(cols, width);
  const pixels = new Float64Array(width * height);
  const acc = new Float64Array(width);
  let min = Infinity;
  let max = -Infinity;
  let t0 = performance.now();
  for (let p = 0; p < height; p++) {
    acc.fill(0);
    const r0 = R.lo[p];
    const r1 = R.hi[p];
    for (let r = r0; r < r1; r++) {
      const base = r * cols;
      for (let q = 0; q < width; q++) {
        const c1 = C.hi[q];
        let s = 0;
        for (let c = C.lo[q]; c < c1; c++) {
          const v = values ? values[base + c] : get(r, c);
          s += v;
          if (v < min) min = v;
          if (v > max && v !== Infinity) max = v;
        }
        acc[q] += s;
      }
      if (performance.now() - t0 > sliceMs) {
        await yieldToLoop();
        if (signal && signal.aborted) throw new DOMException('aborted', 'AbortError');
        if (!isCurrent()) return null;
        t0 = performance.now();
      }
    }
    const nr = r1 - r0;
    const row = p * width;
    for (let q = 0; q < width; q++) pixels[row + q] = acc[q] / (nr * (C.hi[q] - C.lo[q]));
  }
  if (min === -Infinity) min = Infinity; // only -inf seen: not finite
  return {
    pixels,
    min: Number.isFinite(min) ? min : null,
    max: Number.isFinite(max) ? max : null,
  };
}

// paintPixels(canvas, pixels, {vmin, vmax, colormap}): colours the reduced pixels into the
// canvas (whose size they must match).
export function paintPixels(canvas, pixels, { vmin, vmax, colormap = viridis }) {
  const { width, height } = canvas;
  const ctx = canvas.getContext('2d');
  const img = ctx.createImageData(width, height);
  const out = img.data;
  const table = lutFor(colormap);
  const span = vmax > vmin ? vmax - vmin : 0;
  for (let k = 0; k < width * height; k++) {
    const v = pixels[k];
    const o = 4 * k;
    if (Number.isNaN(v)) {
      out[o] = out[o + 1] = out[o + 2] = 128;
    } else {
      let t = span > 0 ? (v - vmin) / span : 0;
      t = t < 0 ? 0 : t > 1 ? 1 : t;
      const j = 3 * Math.round(t * (LUT_SIZE - 1));
      out[o] = table[j];
      out[o + 1] = table[j + 1];
      out[o + 2] = table[j + 2];
    }
    out[o + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
}

// drawHeatmap(canvas, {get | values, rows, cols, vmin, vmax, colormap, signal})
// → Promise<{vmin, vmax, pixels} | null> (pixels: the reduced means, row-major, canvas-sized). Decimates the rows × cols data to the canvas's backing store
// by the rule above, in slices that yield to the event loop (a 1,000 × 10,000 array does not
// freeze the tab). vmin defaults to 0 when every finite value is ≥ 0, else to the minimum;
// vmax to the finite maximum. Sets data-rows, data-cols, data-vmin and data-vmax on the canvas.
// A second call on the same canvas supersedes the first (which resolves to null). Rejects on
// bad arguments, or with an AbortError when `signal` aborts.
export async function drawHeatmap(canvas, opts) {
  const gen = (generations.get(canvas) || 0) + 1;
  generations.set(canvas, gen);
  const reduced = await reduceToPixels({
    ...opts,
    width: canvas.width,
    height: canvas.height,
    isCurrent: () => generations.get(canvas) === gen,
  });
  if (!reduced) return null;
  let vmin = opts.vmin;
  let vmax = opts.vmax;
  if (vmin === undefined || vmin === null) {
    vmin = reduced.min === null ? 0 : reduced.min >= 0 ? 0 : reduced.min;
  }
  if (vmax === undefined || vmax === null) vmax = reduced.max === null ? vmin : reduced.max;
  paintPixels(canvas, reduced.pixels, { vmin, vmax, colormap: opts.colormap || viridis });
  canvas.dataset.rows = String(opts.rows);
  canvas.dataset.cols = String(opts.cols);
  canvas.dataset.vmin = String(vmin);
  canvas.dataset.vmax = String(vmax);
  return { vmin, vmax, pixels: reduced.pixels };
}

// drawLegend(canvas, {vmin, vmax, colormap, format}): a horizontal colour bar filling the
// canvas, left = vmin, right = vmax; the two labels are DOM elements beside it
// (span.legend-label.legend-min before the canvas, span.legend-label.legend-max after it),
// created on the first call and updated on the next ones. `format` (x → string) defaults to
// 4 significant digits.
export function drawLegend(canvas, { vmin, vmax, colormap = viridis, format }) {
  const { width, height } = canvas;
  const ctx = canvas.getContext('2d');
  const img = ctx.createImageData(width, height);
  const table = lutFor(colormap);
  for (let x = 0; x < width; x++) {
    const t = width > 1 ? x / (width - 1) : 0;
    const j = 3 * Math.round(t * (LUT_SIZE - 1));
    for (let y = 0; y < height; y++) {
      const o = 4 * (y * width + x);
      img.data[o] = table[j];
      img.data[o + 1] = table[j + 1];
      img.data[o + 2] = table[j + 2];
      img.data[o + 3] = 255;
    }
  }
  ctx.putImageData(img, 0, 0);
  const show = format || ((v) => (Number.isFinite(v) ? String(Number(v.toPrecision(4))) : String(v)));
  const label = (cls, where) => {
    let el = where === 'before' ? canvas.previousElementSibling : canvas.nextElementSibling;
    if (!el || !el.classList.contains(cls)) {
      el = document.createElement('span');
      el.className = `legend-label ${cls}`;
      canvas.insertAdjacentElement(where === 'before' ? 'beforebegin' : 'afterend', el);
    }
    return el;
  };
  label('legend-min', 'before').textContent = show(vmin);
  label('legend-max', 'after').textContent = show(vmax);
  canvas.dataset.vmin = String(vmin);
  canvas.dataset.vmax = String(vmax);
}
