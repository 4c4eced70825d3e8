// NumPy .npy reader (format versions 1.0, 2.0 and 3.0, little-endian, C order).

const DTYPES = {
  '<f8': { dtype: 'float64', size: 8, make: (b, o, n) => new Float64Array(b, o, n) },
  '<f4': { dtype: 'float32', size: 4, make: (b, o, n) => new Float32Array(b, o, n) },
  '<i4': { dtype: 'int32', size: 4, make: (b, o, n) => new Int32Array(b, o, n) },
  '<i8': { dtype: 'int64', size: 8, make: (b, o, n) => new BigInt64Array(b, o, n) },
  // complex128: two doubles per value, returned as a Float64Array of interleaved re, im.
  '<c16': { dtype: 'complex128', size: 16, make: (b, o, n) => new Float64Array(b, o, 2 * n) },
};

// parseNpy(ArrayBuffer) → {dtype, shape, data}. Throws an Error naming what it could not read:
// no magic, an unknown version, a malformed header, Fortran order, a dtype other than
// <f8 <f4 <i4 <i8 <c16, or fewer data bytes than the shape needs.
export function parseNpy(buffer) {
  if (!(buffer instanceof ArrayBuffer)) throw new Error('npy: expected an ArrayBuffer');
  const bytes = new Uint8Array(buffer);
  const magic = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];
  if (bytes.length < 10 || magic.some((m, i) => bytes[i] !== m)) {
    throw new Error('npy: not a .npy file (no \\x93NUMPY magic)');
  }
  const major = bytes[6];
  const view = new DataView(buffer);
  let headerLen;
  let start;
  if (major === 1) {
    headerLen = view.getUint16(8, true);
    start = 10;
  } else if (major === 2 || major === 3) {
    if (bytes.length < 12) throw new Error('npy: truncated header');
    headerLen = view.getUint32(8, true);
    start = 12;
  } else {
    throw new Error(`npy: unsupported format version ${major}.${bytes[7]}`);
  }
  if (start + headerLen > bytes.length) throw new Error('npy: truncated header');
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(
    bytes.subarray(start, start + headerLen));
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header);
  const order = /'fortran_order'\s*:\s*(True|False)/.exec(header);
  const shapeM = /'shape'\s*:\s*\(([^)]*)\)/.exec(header);
  if (!descr || !order || !shapeM) throw new Error(`npy: malformed header ${header.trim()}`);
  if (order[1] === 'True') throw new Error('npy: Fortran order is not supported');
  const kind = DTYPES[descr[1]];
  if (!kind) throw new Error(`npy: unsupported dtype '${descr[1]}'`);
  const shape = shapeM[1].split(',').map((s) => s.trim()).filter((s) => s.length).map((s) => {
    if (!/^\d+$/.test(s)) throw new Error(`npy: bad shape entry '${s}'`);
    return Number(s);
  });
  const count = shape.reduce((a, b) => a * b, 1);
  const offset = start + headerLen;
  const need = count * kind.size;
  if (buffer.byteLength - offset < need) {
    throw new Error(`npy: ${buffer.byteLength - offset} data bytes, shape [${shape}] needs ${need}`);
  }
  const align = kind.size === 16 ? 8 : kind.size;
  let data;
  if (offset % align === 0) data = kind.make(buffer, offset, count);
  else data = kind.make(buffer.slice(offset, offset + need), 0, count);
  return { dtype: kind.dtype, shape, data };
}
