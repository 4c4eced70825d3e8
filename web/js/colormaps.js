// Colour maps: t in [0, 1] → [r, g, b] with 0–255 integer channels. t outside [0, 1] is
// clamped; NaN gives grey [128, 128, 128].

// viridis sampled at t = k/9 (the usual 10-colour viridis palette), linearly interpolated.
const VIRIDIS = [
  [0x44, 0x01, 0x54], [0x48, 0x28, 0x78], [0x3e, 0x49, 0x89], [0x31, 0x68, 0x8e],
  [0x26, 0x82, 0x8e], [0x1f, 0x9e, 0x89], [0x35, 0xb7, 0x79], [0x6e, 0xce, 0x58],
  [0xb5, 0xde, 0x2b], [0xfd, 0xe7, 0x25],
];

// diverging: blue (t = 0) – white (t = 0.5) – red (t = 1).
const DIVERGING = [[0x21, 0x66, 0xac], [0xff, 0xff, 0xff], [0xb2, 0x18, 0x2b]];

function interpolate(stops, t) {
  if (Number.isNaN(t)) return [128, 128, 128];
  const u = Math.min(1, Math.max(0, t)) * (stops.length - 1);
  const k = Math.min(stops.length - 2, Math.floor(u));
  const f = u - k;
  const a = stops[k];
  const b = stops[k + 1];
  return [0, 1, 2].map((c) => Math.round(a[c] + (b[c] - a[c]) * f));
}

export function viridis(t) {
  return interpolate(VIRIDIS, t);
}

export function diverging(t) {
  return interpolate(DIVERGING, t);
}

// lut(colormap, size = 1024) → Uint8Array of size × 3: entry k is colormap(k / (size - 1)).
export function lut(colormap, size = 1024) {
  const table = new Uint8Array(size * 3);
  for (let k = 0; k < size; k++) table.set(colormap(k / (size - 1)), 3 * k);
  return table;
}

// CSS colour string for a colormap value (for legends and DOM swatches).
export function css(rgb) {
  return `rgb(${rgb[0]}, ${rgb[1]}, ${rgb[2]})`;
}
