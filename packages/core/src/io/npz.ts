import { endianness } from 'node:os';
import { crc32, deflateRawSync, inflateRawSync } from 'node:zlib';

/**
 * NumPy `.npz` archives (what `np.savez` / `np.savez_compressed` write: a zip of `<key>.npy` files),
 * read and written with node's zlib only. Zip: entries found through the central directory (zip64
 * sizes and offsets included, as Python's zipfile writes them with force_zip64), stored (method 0) or
 * deflated (8), CRC-checked. `.npy`: format 1.0-3.0, little-endian float32/float64 in C order (float64
 * becomes float32, the precision the suite trains in). Errors name the file and the entry.
 */

export interface NpyArray {
  shape: number[];
  data: Float32Array;
  /** The dtype stored in the file ('<f4' or '<f8'). */
  descr: string;
}

const EOCD = 0x06054b50;
const ZIP64_EOCD = 0x06064b50;
const ZIP64_LOCATOR = 0x07064b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;
const U32_MAX = 0xffffffff;

/** Every array of the `.npz` whose bytes are `bytes` (read from `file`, named in errors), by key (the entry name without `.npy`). */
export function readNpz(bytes: Buffer, file: string): Map<string, NpyArray> {
  const out = new Map<string, NpyArray>();
  for (const entry of zipEntries(bytes, file)) {
    if (!entry.name.endsWith('.npy')) continue;
    const key = entry.name.slice(0, -'.npy'.length);
    out.set(key, parseNpy(entryData(bytes, entry, file), `${file}: ${entry.name}`));
  }
  if (out.size === 0) throw new Error(`${file}: the archive holds no .npy arrays`);
  return out;
}

interface ZipEntry {
  name: string;
  method: number;
  crc: number;
  compressedSize: number;
  size: number;
  localOffset: number;
}

function zipEntries(b: Buffer, file: string): ZipEntry[] {
  // End of central directory: the last EOCD signature within the final 64 KiB + 22 bytes (comment).
  let eocd = -1;
  for (let i = b.length - 22; i >= Math.max(0, b.length - 22 - 0xffff); i--) {
    if (b.readUInt32LE(i) === EOCD) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new Error(`${file}: not a zip archive (.npz): no end-of-central-directory record`);
  let count = b.readUInt16LE(eocd + 10);
  let cdOffset = b.readUInt32LE(eocd + 16);
  if ((count === 0xffff || cdOffset === U32_MAX) && eocd >= 20 && b.readUInt32LE(eocd - 20) === ZIP64_LOCATOR) {
    const z = Number(b.readBigUInt64LE(eocd - 20 + 8));
    if (b.readUInt32LE(z) !== ZIP64_EOCD) throw new Error(`${file}: broken zip64 end-of-central-directory record`);
    count = Number(b.readBigUInt64LE(z + 32));
    cdOffset = Number(b.readBigUInt64LE(z + 48));
  }
  const entries: ZipEntry[] = [];
  let p = cdOffset;
  for (let i = 0; i < count; i++) {
    if (p + 46 > b.length || b.readUInt32LE(p) !== CENTRAL) throw new Error(`${file}: central directory entry ${i} is corrupt`);
    const nameLen = b.readUInt16LE(p + 28);
    const extraLen = b.readUInt16LE(p + 30);
    const commentLen = b.readUInt16LE(p + 32);
    const e: ZipEntry = {
      name: b.toString('utf8', p + 46, p + 46 + nameLen),
      method: b.readUInt16LE(p + 10),
      crc: b.readUInt32LE(p + 16),
      compressedSize: b.readUInt32LE(p + 20),
      size: b.readUInt32LE(p + 24),
      localOffset: b.readUInt32LE(p + 42),
    };
    applyZip64Extra(b, p + 46 + nameLen, extraLen, e);
    entries.push(e);
    p += 46 + nameLen + extraLen + commentLen;
  }
  return entries;
}

/** The zip64 extra field (id 1) holds, in order, whichever of size, compressed size and offset overflowed. */
function applyZip64Extra(b: Buffer, start: number, len: number, e: ZipEntry): void {
  for (let q = start; q + 4 <= start + len; ) {
    const id = b.readUInt16LE(q);
    const size = b.readUInt16LE(q + 2);
    if (id === 1) {
      let r = q + 4;
      const next = () => {
        const v = Number(b.readBigUInt64LE(r));
        r += 8;
        return v;
      };
      if (e.size === U32_MAX) e.size = next();
      if (e.compressedSize === U32_MAX) e.compressedSize = next();
      if (e.localOffset === U32_MAX) e.localOffset = next();
    }
    q += 4 + size;
  }
}

function entryData(b: Buffer, e: ZipEntry, file: string): Buffer {
  const p = e.localOffset;
  if (b.readUInt32LE(p) !== LOCAL) throw new Error(`${file}: ${e.name}: local header missing at offset ${p}`);
  const start = p + 30 + b.readUInt16LE(p + 26) + b.readUInt16LE(p + 28);
  const raw = b.subarray(start, start + e.compressedSize);
  if (raw.length !== e.compressedSize) throw new Error(`${file}: ${e.name}: truncated (${raw.length} of ${e.compressedSize} bytes)`);
  let data: Buffer;
  if (e.method === 0) data = raw;
  else if (e.method === 8) data = inflateRawSync(raw);
  else throw new Error(`${file}: ${e.name}: zip compression method ${e.method} is not supported (stored or deflated only)`);
  if (data.length !== e.size) throw new Error(`${file}: ${e.name}: ${data.length} bytes after decompression, the directory says ${e.size}`);
  if (crc32(data) >>> 0 !== e.crc >>> 0) throw new Error(`${file}: ${e.name}: CRC mismatch (corrupt download?)`);
  return data;
}

/** One `.npy` file's bytes -> shape and float32 data. `where` names it in errors. */
export function parseNpy(b: Buffer, where: string): NpyArray {
  if (b.length < 10 || b[0] !== 0x93 || b.toString('latin1', 1, 6) !== 'NUMPY') throw new Error(`${where}: not a .npy array (bad magic)`);
  const major = b[6];
  const headerLen = major === 1 ? b.readUInt16LE(8) : b.readUInt32LE(8);
  const headerStart = major === 1 ? 10 : 12;
  const header = b.toString(major === 3 ? 'utf8' : 'latin1', headerStart, headerStart + headerLen);
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) throw new Error(`${where}: unreadable .npy header ${JSON.stringify(header)}`);
  if (fortran === 'True') throw new Error(`${where}: Fortran-order arrays are not supported`);
  const shape = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map(Number);
  const n = shape.reduce((a, d) => a * d, 1);
  const body = b.subarray(headerStart + headerLen);
  const width = descr === '<f4' ? 4 : descr === '<f8' ? 8 : 0;
  if (width === 0) throw new Error(`${where}: dtype ${descr} is not supported (little-endian float32 '<f4' or float64 '<f8')`);
  if (body.length !== n * width) throw new Error(`${where}: ${body.length} data bytes for shape (${shape.join(', ')}) of ${descr}, expected ${n * width}`);
  // A copy into aligned memory (the body need not start on a 4-byte boundary of the archive).
  const aligned = body.buffer.slice(body.byteOffset, body.byteOffset + body.length);
  const data = !LITTLE_ENDIAN ? readSlow(body, n, width) : width === 4 ? new Float32Array(aligned) : Float32Array.from(new Float64Array(aligned));
  return { shape, data, descr };
}

const LITTLE_ENDIAN = endianness() === 'LE';

function readSlow(body: Buffer, n: number, width: number): Float32Array {
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = width === 4 ? body.readFloatLE(4 * i) : body.readDoubleLE(8 * i);
  return data;
}

/** A float32 `.npy` (format 1.0, C order) holding `data` with `shape`. */
export function npyBytes(shape: number[], data: Float32Array): Buffer {
  const n = shape.reduce((a, d) => a * d, 1);
  if (n !== data.length) throw new Error(`io/npz.ts: shape (${shape.join(', ')}) holds ${n} values, got ${data.length}`);
  const dict = `{'descr': '<f4', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  // numpy pads the header with spaces and a newline so the data starts on a 64-byte boundary.
  const total = Math.ceil((10 + dict.length + 1) / 64) * 64;
  const header = Buffer.alloc(total, 0x20);
  header[0] = 0x93;
  header.write('NUMPY', 1, 'latin1');
  header[6] = 1;
  header[7] = 0;
  header.writeUInt16LE(total - 10, 8);
  header.write(dict, 10, 'latin1');
  header[total - 1] = 0x0a;
  const body = Buffer.alloc(4 * n);
  for (let i = 0; i < n; i++) body.writeFloatLE(data[i], 4 * i);
  return Buffer.concat([header, body]);
}

/**
 * A `.npz` of float32 arrays, entries stored (as `np.savez`) or deflated (as `np.savez_compressed`).
 * Plain zip (no zip64): archives under 4 GiB, which is all the suite writes (test fixtures, exports).
 */
export function npzBytes(arrays: Iterable<[string, { shape: number[]; data: Float32Array }]>, compression: 'stored' | 'deflated' = 'stored'): Buffer {
  return zipBytes([...arrays].map(([key, a]) => ({ name: `${key}.npy`, data: npyBytes(a.shape, a.data) })), compression);
}

/** A plain zip archive (no zip64, dated 1980-01-01) of `entries`, stored or deflated. */
export function zipBytes(entries: readonly { name: string; data: Buffer }[], compression: 'stored' | 'deflated' = 'stored'): Buffer {
  const DOS_DATE_1980_01_01 = 0x21;
  const locals: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const entry of entries) {
    const name = Buffer.from(entry.name, 'utf8');
    const data = entry.data;
    const stored = compression === 'stored' ? data : deflateRawSync(data);
    const method = compression === 'stored' ? 0 : 8;
    const crc = crc32(data) >>> 0;
    const local = Buffer.alloc(30);
    local.writeUInt32LE(LOCAL, 0);
    local.writeUInt16LE(20, 4); // version needed
    local.writeUInt16LE(method, 8);
    local.writeUInt16LE(DOS_DATE_1980_01_01, 12);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(stored.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(name.length, 26);
    const cd = Buffer.alloc(46);
    cd.writeUInt32LE(CENTRAL, 0);
    cd.writeUInt16LE(20, 4); // version made by
    cd.writeUInt16LE(20, 6);
    cd.writeUInt16LE(method, 10);
    cd.writeUInt16LE(DOS_DATE_1980_01_01, 14);
    cd.writeUInt32LE(crc, 16);
    cd.writeUInt32LE(stored.length, 20);
    cd.writeUInt32LE(data.length, 24);
    cd.writeUInt16LE(name.length, 28);
    cd.writeUInt32LE(offset, 42);
    locals.push(local, name, stored);
    central.push(cd, name);
    offset += 30 + name.length + stored.length;
  }
  const cdBytes = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(EOCD, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cdBytes.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cdBytes, end]);
}
