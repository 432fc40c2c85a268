// safetensors reading/writing: round trips, float conversions, every malformed-header case, a fuzz
// loop that must only ever produce CheckpointError, atomic overwrite, and the shared fixtures.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { CheckpointError } from '../../src/io/errors.js';
import {
  ST_DTYPE_BYTES,
  encodeSafetensors,
  parseSafetensors,
  readSafetensors,
  readSafetensorsSync,
  toBigInt64Array,
  toFloat32,
  toInt64Numbers,
  writeSafetensors,
  writeSafetensorsSync,
  type StDType,
  type StTensor,
  type StWritableTensor,
} from '../../src/io/safetensors.js';
import { randomInt, seededRandom } from '../support/prng.js';

const directory = mkdtempSync(join(tmpdir(), 'tcpade-safetensors-'));
after(() => rmSync(directory, { recursive: true, force: true }));

/** One tensor of every dtype, with values at the edges of each type's range. */
const EVERY_DTYPE: Record<string, StWritableTensor> = {
  f64: { dtype: 'F64', shape: [3], data: new Float64Array([1.5, -1e300, Number.MIN_VALUE]) },
  f32: { dtype: 'F32', shape: [2, 2], data: new Float32Array([1, -2.5, 3.25, Infinity]) },
  f16: { dtype: 'F16', shape: [3], data: new Uint16Array([0x3c00, 0xc100, 0x7bff]) },
  bf16: { dtype: 'BF16', shape: [1, 2], data: new Uint16Array([0x3f80, 0xc020]) },
  i64: { dtype: 'I64', shape: [3], data: new BigInt64Array([-(2n ** 63n), -1n, 2n ** 63n - 1n]) },
  u64: { dtype: 'U64', shape: [1], data: new BigUint64Array([2n ** 64n - 1n]) },
  i32: { dtype: 'I32', shape: [2], data: new Int32Array([-(2 ** 31), 2 ** 31 - 1]) },
  u32: { dtype: 'U32', shape: [1], data: new Uint32Array([2 ** 32 - 1]) },
  i16: { dtype: 'I16', shape: [2], data: new Int16Array([-32768, 32767]) },
  u16: { dtype: 'U16', shape: [1], data: new Uint16Array([65535]) },
  i8: { dtype: 'I8', shape: [2], data: new Int8Array([-128, 127]) },
  u8: { dtype: 'U8', shape: [2], data: new Uint8Array([0, 255]) },
  bool: { dtype: 'BOOL', shape: [3], data: new Uint8Array([1, 0, 1]) },
  scalar: { dtype: 'F32', shape: [], data: new Float32Array([42]) },
  empty: { dtype: 'F32', shape: [0, 4], data: new Float32Array(0) },
};

function bytesOf(data: StWritableTensor['data']): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

function assertSameTensors(actual: Map<string, StTensor>, expected: Record<string, StWritableTensor>): void {
  assert.deepEqual([...actual.keys()].sort(), Object.keys(expected).sort());
  for (const [name, tensor] of Object.entries(expected)) {
    const read = actual.get(name)!;
    assert.equal(read.dtype, tensor.dtype, `${name} dtype`);
    assert.deepEqual(read.shape, tensor.shape, `${name} shape`);
    assert.deepEqual(read.data, bytesOf(tensor.data), `${name} bytes`);
  }
}

describe('safetensors round trip', () => {
  const metadata = { format: 'pt', note: 'ünïcode ✓' };

  it('every dtype survives writeSafetensors → readSafetensors, readSafetensorsSync and parseSafetensors', async () => {
    const path = join(directory, 'every-dtype.safetensors');
    await writeSafetensors(path, EVERY_DTYPE, metadata);
    for (const file of [await readSafetensors(path), readSafetensorsSync(path), parseSafetensors(readFileSync(path), path)]) {
      assertSameTensors(file.tensors, EVERY_DTYPE);
      assert.deepEqual(file.metadata, metadata);
    }
  });

  it('writeSafetensorsSync writes the same bytes as writeSafetensors and encodeSafetensors', async () => {
    const asyncPath = join(directory, 'async.safetensors');
    const syncPath = join(directory, 'sync.safetensors');
    await writeSafetensors(asyncPath, EVERY_DTYPE, metadata);
    writeSafetensorsSync(syncPath, EVERY_DTYPE, metadata);
    assert.deepEqual(readFileSync(syncPath), readFileSync(asyncPath));
    assert.deepEqual(Buffer.from(encodeSafetensors(EVERY_DTYPE, metadata)), readFileSync(asyncPath));
  });

  it('pads the header with spaces to 8 bytes and aligns every tensor to its element size', () => {
    const bytes = encodeSafetensors(EVERY_DTYPE, metadata);
    const headerBytes = Number(Buffer.from(bytes).readBigUInt64LE(0));
    assert.equal(headerBytes % 8, 0);
    const text = Buffer.from(bytes.subarray(8, 8 + headerBytes)).toString('utf8');
    assert.match(text, /^\{.*\} {0,7}$/, 'JSON followed by at most 7 padding spaces');
    const header = JSON.parse(text) as Record<string, { dtype: StDType; data_offsets: [number, number] }>;
    for (const [name, entry] of Object.entries(header)) {
      if (name === '__metadata__') continue;
      assert.equal(entry.data_offsets[0] % ST_DTYPE_BYTES[entry.dtype], 0, `${name} starts aligned`);
    }
  });

  it('accepts raw little-endian bytes for any dtype and omits __metadata__ when there is none', () => {
    const raw = new Uint8Array(new Float32Array([0.5, -0.25]).buffer);
    const file = parseSafetensors(encodeSafetensors({ w: { dtype: 'F32', shape: [2], data: raw } }), 'raw');
    assert.deepEqual([...toFloat32(file.tensors.get('w')!)], [0.5, -0.25]);
    assert.deepEqual(file.metadata, {});
  });

  it('rejects bad tensors before writing anything', async () => {
    const cases: Array<[Record<string, StWritableTensor>, RegExp]> = [
      [{ w: { dtype: 'F32', shape: [3], data: new Float32Array(2) } }, /has 8 data bytes but F32 shape \[3\] needs 12/],
      [{ w: { dtype: 'F32', shape: [2], data: new Int32Array(2) } }, /is F32 but its data is a Int32Array/],
      [{ w: { dtype: 'F32', shape: [-1], data: new Float32Array(0) } }, /shape \[-1\]/],
      [{ w: { dtype: 'Q4' as StDType, shape: [1], data: new Uint8Array(1) } }, /unsupported dtype "Q4"/],
      [{ __metadata__: { dtype: 'U8', shape: [1], data: new Uint8Array(1) } }, /is reserved/],
    ];
    for (const [tensors, message] of cases) {
      assert.throws(() => encodeSafetensors(tensors), (error: unknown) => error instanceof CheckpointError && message.test(error.message));
    }
  });
});

describe('safetensors overwrite is atomic', () => {
  it('a failing write leaves the old file byte-identical and no temp file behind', async () => {
    const path = join(directory, 'keep.safetensors');
    await writeSafetensors(path, { good: { dtype: 'F32', shape: [2], data: new Float32Array([1, 2]) } });
    const before = readFileSync(path);
    const bad = {
      a: { dtype: 'F32' as const, shape: [1], data: new Float32Array([3]) },
      b: { dtype: 'F32' as const, shape: [5], data: new Float32Array(4) },
    };
    await assert.rejects(writeSafetensors(path, bad), CheckpointError);
    assert.throws(() => writeSafetensorsSync(path, bad), CheckpointError);
    assert.deepEqual(readFileSync(path), before);
    assert.deepEqual(readdirSync(directory).filter((name) => name.includes('.tmp-')), []);
  });
});

describe('toFloat32 and the integer conversions', () => {
  const f16 = (bits: number[]): StTensor => ({ dtype: 'F16', shape: [bits.length], data: bytesOf(new Uint16Array(bits)) });
  const bf16 = (bits: number[]): StTensor => ({ dtype: 'BF16', shape: [bits.length], data: bytesOf(new Uint16Array(bits)) });

  it('decodes F16: 1, -2.5, 65504, -0, subnormals, ±inf and NaN', () => {
    const values = toFloat32(f16([0x3c00, 0xc100, 0x7bff, 0x8000, 0x0001, 0x03ff, 0x7c00, 0xfc00, 0x7e00]));
    assert.deepEqual([...values.subarray(0, 8)], [1, -2.5, 65504, -0, 2 ** -24, 1023 * 2 ** -24, Infinity, -Infinity]);
    assert.ok(Object.is(values[3], -0));
    assert.ok(Number.isNaN(values[8]));
    const odd = new Uint8Array(5);
    odd.set(bytesOf(new Uint16Array([0x3c00, 0xc100])), 1); // a view starting at an odd byte
    assert.deepEqual([...toFloat32({ dtype: 'F16', shape: [2], data: odd.subarray(1) })], [1, -2.5]);
  });

  it('decodes BF16: 1, -2.5, 65280, the smallest subnormal, ±inf and NaN', () => {
    const values = toFloat32(bf16([0x3f80, 0xc020, 0x477f, 0x0001, 0x7f80, 0xff80, 0x7fc0]));
    assert.deepEqual([...values.subarray(0, 6)], [1, -2.5, 65280, 2 ** -133, Infinity, -Infinity]);
    assert.ok(Number.isNaN(values[6]));
  });

  it('converts F64 and copies F32 from unaligned views into a fresh aligned array', () => {
    assert.deepEqual([...toFloat32({ dtype: 'F64', shape: [3], data: bytesOf(new Float64Array([0.5, -3, 1e300])) })], [0.5, -3, Infinity]);
    const backing = new Uint8Array(9);
    backing.set(bytesOf(new Float32Array([7.5, -1])), 1); // starts at byte 1: not 4-byte aligned
    const source: StTensor = { dtype: 'F32', shape: [2], data: backing.subarray(1) };
    const values = toFloat32(source);
    assert.deepEqual([...values], [7.5, -1]);
    assert.equal(values.byteOffset, 0);
    values[0] = 0;
    assert.equal(toFloat32(source)[0], 7.5, 'the result is a copy, not a view');
  });

  it('refuses integer tensors in toFloat32 and float tensors in the integer conversions, naming the key', () => {
    const ints: StTensor = { dtype: 'I64', shape: [1], data: bytesOf(new BigInt64Array([1n])) };
    assert.throws(() => toFloat32(ints, 'm.safetensors', 'y'), /m\.safetensors: tensor "y" has dtype I64, expected a floating-point dtype/);
    assert.throws(() => toInt64Numbers(f16([0]), 'm.safetensors', 'w'), /tensor "w" has dtype F16, expected an integer dtype/);
  });

  it('rejects a tensor whose data length does not match its shape', () => {
    assert.throws(() => toFloat32({ dtype: 'F32', shape: [3], data: new Uint8Array(8) }, 'f', 'w'), /has 8 data bytes but F32 shape \[3\] needs 12/);
  });

  it('reads every integer dtype as numbers and bigints', () => {
    const i64: StTensor = { dtype: 'I64', shape: [3], data: bytesOf(new BigInt64Array([-5n, 2n ** 53n - 1n, 0n])) };
    assert.deepEqual(toInt64Numbers(i64), [-5, 2 ** 53 - 1, 0]);
    assert.deepEqual([...toBigInt64Array(i64)], [-5n, 2n ** 53n - 1n, 0n]);
    assert.deepEqual(toInt64Numbers({ dtype: 'I32', shape: [2], data: bytesOf(new Int32Array([-7, 9])) }), [-7, 9]);
    assert.deepEqual(toInt64Numbers({ dtype: 'U8', shape: [2], data: new Uint8Array([200, 3]) }), [200, 3]);
    assert.deepEqual(toInt64Numbers({ dtype: 'BOOL', shape: [2], data: new Uint8Array([0, 5]) }), [0, 1]);
    assert.deepEqual([...toBigInt64Array({ dtype: 'I8', shape: [1], data: bytesOf(new Int8Array([-3])) })], [-3n]);
  });

  it('refuses integers that a number or an int64 cannot hold', () => {
    const big: StTensor = { dtype: 'I64', shape: [1], data: bytesOf(new BigInt64Array([2n ** 53n + 1n])) };
    assert.throws(() => toInt64Numbers(big, 'f', 'steps'), /tensor "steps" holds 9007199254740993, which is not exactly representable/);
    const huge: StTensor = { dtype: 'U64', shape: [1], data: bytesOf(new BigUint64Array([2n ** 63n])) };
    assert.throws(() => toBigInt64Array(huge, 'f', 'u'), /holds 9223372036854775808, which does not fit in int64/);
  });
});

/** A file from a header (object, literal text or raw bytes) followed by `dataBytes` zero bytes. */
function fileWithHeader(header: object | string | Uint8Array, dataBytes: number): Uint8Array {
  const json =
    header instanceof Uint8Array ? Buffer.from(header) : Buffer.from(typeof header === 'string' ? header : JSON.stringify(header), 'utf8');
  const out = Buffer.alloc(8 + json.length + dataBytes);
  out.writeBigUInt64LE(BigInt(json.length), 0);
  json.copy(out, 8);
  return out;
}

function withLengthPrefix(headerBytes: bigint, totalBytes: number): Uint8Array {
  const out = Buffer.alloc(totalBytes, 0x20);
  out.writeBigUInt64LE(headerBytes, 0);
  return out;
}

describe('parseSafetensors rejects malformed files with a CheckpointError naming the problem', () => {
  const f32 = (shape: unknown, offsets: unknown, dtype: unknown = 'F32') => ({ dtype, shape, data_offsets: offsets });
  const cases: Array<[string, Uint8Array, RegExp]> = [
    ['file shorter than 8 bytes', new Uint8Array(5), /file is 5 bytes, shorter than the 8-byte header length/],
    ['header length beyond the file', withLengthPrefix(100n, 50), /header length 100 bytes exceeds the 42 bytes that follow/],
    ['header length over 100 MB', withLengthPrefix(200_000_000n, 64), /header length 200000000 bytes exceeds the 100000000-byte limit/],
    ['header length near 2^64', withLengthPrefix(2n ** 64n - 1n, 64), /exceeds the 100000000-byte limit/],
    ['header not UTF-8', fileWithHeader(Buffer.concat([Buffer.from('{"a":"'), Buffer.from([0xff]), Buffer.from('"}')]), 0), /header is not valid UTF-8/],
    ['header not JSON', fileWithHeader('{"w": {', 0), /header is not valid JSON/],
    ['header an array', fileWithHeader([1, 2], 0), /header JSON is an array, expected an object of tensors/],
    ['header null', fileWithHeader('null', 0), /header JSON is null/],
    ['entry not an object', fileWithHeader({ w: 3 }, 0), /tensor "w" is a number, expected an object/],
    ['unknown dtype', fileWithHeader({ w: f32([1], [0, 4], 'F8_E4M3') }, 4), /tensor "w" has unsupported dtype "F8_E4M3"/],
    ['missing dtype', fileWithHeader({ w: { shape: [1], data_offsets: [0, 4] } }, 4), /tensor "w" has unsupported dtype undefined/],
    ['negative dim', fileWithHeader({ w: f32([-1], [0, 4]) }, 4), /tensor "w" has shape \[-1\], expected an array of non-negative integers/],
    ['fractional dim', fileWithHeader({ w: f32([1.5], [0, 4]) }, 4), /has shape \[1.5\]/],
    ['shape not an array', fileWithHeader({ w: f32('4', [0, 4]) }, 4), /has shape "4"/],
    ['huge shape', fileWithHeader({ w: f32([2 ** 40, 2 ** 40], [0, 4]) }, 4), /too many elements/],
    ['offsets not a pair', fileWithHeader({ w: f32([1], [0]) }, 4), /has data_offsets \[0\], expected \[begin, end\] integers/],
    ['offsets not integers', fileWithHeader({ w: f32([1], [0, '4']) }, 4), /expected \[begin, end\] integers/],
    ['begin after end', fileWithHeader({ w: f32([1], [8, 4]) }, 8), /data_offsets \[8, 4\] with begin > end/],
    ['end beyond data', fileWithHeader({ w: f32([2], [0, 8]) }, 4), /tensor "w" ends at byte 8, beyond the 4-byte data buffer/],
    ['byte count mismatch', fileWithHeader({ w: f32([3], [0, 8]) }, 8), /tensor "w" has 8 data bytes but F32 shape \[3\] needs 12/],
    [
      'overlapping tensors',
      fileWithHeader({ a: f32([2], [0, 8]), b: f32([2], [4, 12]) }, 12),
      /tensors "a" \[0, 8\) and "b" \[4, 12\) overlap/,
    ],
    ['metadata not an object', fileWithHeader({ __metadata__: ['x'] }, 0), /"__metadata__" is an array, expected an object of strings/],
    ['metadata value not a string', fileWithHeader({ __metadata__: { epoch: 3 } }, 0), /"__metadata__" entry "epoch" is a number, expected a string/],
  ];
  for (const [name, bytes, message] of cases) {
    it(name, () => {
      assert.throws(
        () => parseSafetensors(bytes, 'bad.safetensors'),
        (error: unknown) => {
          assert.ok(error instanceof CheckpointError, `expected CheckpointError, got ${String(error)}`);
          assert.equal(error.file, 'bad.safetensors');
          assert.match(error.message, /^bad\.safetensors: /);
          assert.match(error.message, message);
          return true;
        },
      );
    });
  }

  it('the file readers report the same problems as the in-memory parser', async () => {
    const path = join(directory, 'overlap.safetensors');
    writeFileSync(path, cases.find(([name]) => name === 'overlapping tensors')![1]);
    await assert.rejects(readSafetensors(path), /overlap\.safetensors: tensors "a" \[0, 8\) and "b" \[4, 12\) overlap/);
    assert.throws(() => readSafetensorsSync(path), /overlap/);
    const tiny = join(directory, 'tiny.safetensors');
    writeFileSync(tiny, new Uint8Array(3));
    await assert.rejects(readSafetensors(tiny), /file is 3 bytes/);
  });

  it('accepts zero-byte tensors sharing an offset, gaps between tensors, and a "__proto__" metadata key', () => {
    const header = { a: f32([0], [4, 4]), b: f32([1], [4, 8]), c: f32([0, 3], [4, 4]), __metadata__: JSON.parse('{"__proto__":"x"}') };
    const file = parseSafetensors(fileWithHeader(header, 8), 'ok');
    assert.deepEqual(file.tensors.get('c')!.shape, [0, 3]);
    assert.equal(Object.getPrototypeOf(file.metadata), Object.prototype);
    assert.equal(Object.getOwnPropertyDescriptor(file.metadata, '__proto__')?.value, 'x');
  });
});

describe('safetensors fuzz', () => {
  it('2,000 mutated files each parse or throw CheckpointError, never anything else', () => {
    const base = encodeSafetensors(
      {
        'blocks.0.weight': { dtype: 'F32', shape: [4, 3], data: new Float32Array(12).map((_, i) => i) },
        'blocks.0.bias': { dtype: 'BF16', shape: [3], data: new Uint16Array([1, 2, 3]) },
        steps: { dtype: 'I64', shape: [2], data: new BigInt64Array([5n, 6n]) },
      },
      { format: 'pt' },
    );
    const headerBytes = Number(Buffer.from(base).readBigUInt64LE(0));
    const random = seededRandom(20240611);
    const outcomes = { parsed: 0, rejected: 0 };
    for (let iteration = 0; iteration < 2000; iteration++) {
      const bytes = mutate(base, headerBytes, random);
      try {
        const file = parseSafetensors(bytes, 'fuzz');
        for (const tensor of file.tensors.values()) {
          assert.equal(tensor.data.byteLength, tensor.shape.reduce((a, b) => a * b, 1) * ST_DTYPE_BYTES[tensor.dtype]);
        }
        outcomes.parsed++;
      } catch (error) {
        assert.ok(error instanceof CheckpointError, `iteration ${iteration}: ${String(error)}`);
        outcomes.rejected++;
      }
    }
    // Both outcomes must occur, or the mutations are not exercising the parser.
    assert.ok(outcomes.parsed > 50 && outcomes.rejected > 500, JSON.stringify(outcomes));
  });
});

/** One random corruption: a header byte, the length prefix, an offset/shape number, or truncation. */
function mutate(base: Uint8Array, headerBytes: number, random: () => number): Uint8Array {
  const bytes = new Uint8Array(base);
  const view = new DataView(bytes.buffer);
  switch (randomInt(random, 5)) {
    case 0: {
      for (let n = 1 + randomInt(random, 3); n > 0; n--) bytes[8 + randomInt(random, headerBytes)] = randomInt(random, 256);
      return bytes;
    }
    case 1: {
      const choices = [0n, 1n, BigInt(headerBytes - 1), BigInt(headerBytes + 1), BigInt(bytes.length), 2n ** 32n, 2n ** 63n, BigInt(randomInt(random, 2 ** 31))];
      view.setBigUint64(0, choices[randomInt(random, choices.length)]!, true);
      return bytes;
    }
    case 2: {
      // Rewrite one number in the JSON (a shape dim or an offset), keeping the header length valid.
      const text = Buffer.from(bytes.subarray(8, 8 + headerBytes)).toString('latin1');
      const numbers = [...text.matchAll(/\d+/g)];
      const target = numbers[randomInt(random, numbers.length)]!;
      const replacement = String([0, 1, 7, 24, 48, 99, 2 ** 31, -1][randomInt(random, 8)]).slice(0, target[0].length);
      const edited = text.slice(0, target.index) + replacement.padEnd(target[0].length, ' ') + text.slice(target.index! + target[0].length);
      bytes.set(Buffer.from(edited, 'latin1'), 8);
      return bytes;
    }
    case 3:
      return bytes.subarray(0, randomInt(random, bytes.length));
    default: {
      const at = 8 + headerBytes + randomInt(random, bytes.length - 8 - headerBytes);
      bytes[at] = randomInt(random, 256); // data bytes: any value must parse
      return bytes;
    }
  }
}

const fixtures = fileURLToPath(new URL('../../../shared/fixtures/', import.meta.url));
const noFixtures = existsSync(fixtures) ? false : `fixtures not found at ${fixtures}`;

describe('shared fixtures', { skip: noFixtures }, () => {
  it('dit_original_tiny/model.safetensors: 22 F32 tensors, readers agree', async () => {
    const path = join(fixtures, 'dit_original_tiny/model.safetensors');
    const file = await readSafetensors(path);
    assert.equal(file.tensors.size, 22);
    assert.deepEqual(file.tensors.get('pos_embed')!.shape, [1, 16, 8]);
    assert.ok([...file.tensors.values()].every((t) => t.dtype === 'F32'));
    const inMemory = parseSafetensors(readFileSync(path), path);
    for (const [name, tensor] of file.tensors) assert.deepEqual(inMemory.tensors.get(name), tensor, name);
  });

  it('dit_original_tiny/golden.safetensors: inputs t = (10, 500), y = (3, 8) and out [2, 8, 8, 8]', async () => {
    const { tensors } = await readSafetensors(join(fixtures, 'dit_original_tiny/golden.safetensors'));
    assert.deepEqual(tensors.get('x')!.shape, [2, 4, 8, 8]);
    assert.deepEqual([...toFloat32(tensors.get('t')!)], [10, 500]);
    assert.deepEqual(toInt64Numbers(tensors.get('y')!), [3, 8]);
    assert.deepEqual(tensors.get('out')!.shape, [2, 8, 8, 8]);
    assert.ok(toFloat32(tensors.get('out')!).every(Number.isFinite));
  });

  it('flux_diffusers_tiny (BF16): 62 tensors, 68,484 finite parameters', async () => {
    const { tensors } = await readSafetensors(join(fixtures, 'flux_diffusers_tiny/transformer/diffusion_pytorch_model.safetensors'));
    assert.equal(tensors.size, 62);
    let parameters = 0;
    for (const [name, tensor] of tensors) {
      assert.equal(tensor.dtype, 'BF16', name);
      const values = toFloat32(tensor, 'flux', name);
      assert.ok(values.every(Number.isFinite), name);
      parameters += values.length;
    }
    assert.equal(parameters, 68_484);
    assert.deepEqual(tensors.get('proj_out.weight')!.shape, [4, 32]);
  });

  it('dit_diffusers_tiny and wan_diffusers_tiny parse', () => {
    const dit = readSafetensorsSync(join(fixtures, 'dit_diffusers_tiny/transformer/diffusion_pytorch_model.safetensors'));
    assert.equal(dit.tensors.size, 25);
    const wan = readSafetensorsSync(join(fixtures, 'wan_diffusers_tiny/transformer/diffusion_pytorch_model.safetensors'));
    assert.deepEqual(wan.tensors.get('patch_embedding.weight')!.shape, [24, 4, 1, 2, 2]);
  });
});
