// The restricted torch unpickler: real fixtures (zip and legacy) match safetensors, hand-made
// checkpoints cover views, deflate, wrappers and legacy storage views; malicious or broken files
// only ever give CheckpointError.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { crc32, deflateRawSync } from 'node:zlib';
import { after, describe, it } from 'node:test';
import { CheckpointError } from '../../src/io/errors.js';
import { ST_DTYPE_BYTES, readSafetensors, toFloat32, toInt64Numbers, type StTensor } from '../../src/io/safetensors.js';
import {
  PickleObject,
  TorchTensor,
  extractStateDict,
  loadTorchCheckpoint,
  loadTorchObject,
  parseTorchObject,
  unpickle,
  type PickleValue,
} from '../../src/io/torch-pickle.js';
import { randomInt, seededRandom } from '../support/prng.js';

const directory = mkdtempSync(join(tmpdir(), 'tcpade-torch-'));
after(() => rmSync(directory, { recursive: true, force: true }));

// ---------------------------------------------------------------------------------------------
// A tiny pickle assembler (protocol 2 opcodes, as torch.save writes them) and zip writer, so the
// hand-made checkpoints below read as what they contain.

type Ops = number[];
const bytesOfText = (text: string): Ops => [...Buffer.from(text, 'utf8')];
const u32 = (n: number): Ops => [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24];
const op = {
  proto: [0x80, 2], stop: [0x2e], mark: [0x28], tuple: [0x74], emptyTuple: [0x29], emptyDict: [0x7d], emptyList: [0x5d],
  setitems: [0x75], appends: [0x65], reduce: [0x52], build: [0x62], newobj: [0x81], binpersid: [0x51], none: [0x4e],
  newfalse: [0x89], newtrue: [0x88],
  global: (module: string, name: string): Ops => [0x63, ...bytesOfText(`${module}\n${name}\n`)],
  str: (text: string): Ops => { const b = bytesOfText(text); return [0x58, ...u32(b.length), ...b]; },
  int: (n: number): Ops => [0x4a, ...u32(n)],
};

const orderedDict = (entries: Array<[string, Ops]>): Ops => [
  ...op.global('collections', 'OrderedDict'), ...op.emptyTuple, ...op.reduce,
  ...op.mark, ...entries.flatMap(([key, value]) => [...op.str(key), ...value]), ...op.setitems,
];
const dict = (entries: Array<[string, Ops]>): Ops => [...op.emptyDict, ...op.mark, ...entries.flatMap(([k, v]) => [...op.str(k), ...v]), ...op.setitems];
const tupleOf = (items: Ops[]): Ops => [...op.mark, ...items.flat(), ...op.tuple];

interface StorageSpec {
  type: string; // torch class name, e.g. FloatStorage
  key: string;
  elementCount: number;
  /** Legacy only: [viewKey, elementOffset, elementCount] of a storage view. */
  view?: [string, number, number];
}

/** torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks), as torch.save emits it. */
function tensorOps(storage: StorageSpec, offset: number, shape: number[], strides: number[], legacy = false): Ops {
  const persistentId = tupleOf([
    op.str('storage'), op.global('torch', storage.type), op.str(storage.key), op.str('cpu'), op.int(storage.elementCount),
    ...(legacy ? [storage.view ? tupleOf([op.str(storage.view[0]), op.int(storage.view[1]), op.int(storage.view[2])]) : op.none] : []),
  ]);
  return [
    ...op.global('torch._utils', '_rebuild_tensor_v2'),
    ...tupleOf([
      [...persistentId, ...op.binpersid], op.int(offset), tupleOf(shape.map(op.int)), tupleOf(strides.map(op.int)), op.newfalse,
      [...op.global('collections', 'OrderedDict'), ...op.emptyTuple, ...op.reduce],
    ]),
    ...op.reduce,
  ];
}

const pickleOf = (body: Ops): Uint8Array => new Uint8Array([...op.proto, ...body, ...op.stop]);

interface ZipSpec {
  name: string;
  data: Uint8Array;
}

/** A zip archive (stored or deflated entries) with correct CRCs and central directory. */
function buildZip(entries: ZipSpec[], method: 'stored' | 'deflate' = 'stored'): Uint8Array {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const { name, data } of entries) {
    const nameBytes = Buffer.from(name, 'utf8');
    const stored = method === 'deflate' ? deflateRawSync(data) : Buffer.from(data);
    const fields = (header: Buffer, at: number): void => {
      header.writeUInt16LE(method === 'deflate' ? 8 : 0, at);
      header.writeUInt32LE(crc32(data), at + 6);
      header.writeUInt32LE(stored.length, at + 10);
      header.writeUInt32LE(data.length, at + 14);
      header.writeUInt16LE(nameBytes.length, at + 18);
    };
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    fields(local, 8);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    fields(central, 10);
    central.writeUInt32LE(offset, 42);
    locals.push(local, nameBytes, stored);
    centrals.push(central, nameBytes);
    offset += 30 + nameBytes.length + stored.length;
  }
  const directory = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  return new Uint8Array(Buffer.concat([...locals, directory, end]));
}

/** A torch zip checkpoint: archive/data.pkl, archive/data/<key> records, archive/version. */
function torchZip(pickle: Uint8Array, records: Record<string, Uint8Array>, method: 'stored' | 'deflate' = 'stored'): Uint8Array {
  return buildZip(
    [
      { name: 'archive/data.pkl', data: pickle },
      ...Object.entries(records).map(([key, data]) => ({ name: `archive/data/${key}`, data })),
      { name: 'archive/byteorder', data: Buffer.from('little') },
      { name: 'archive/version', data: Buffer.from('3\n') },
    ],
    method,
  );
}

/** A pre-1.6 checkpoint: magic, protocol, sys_info pickles, the object, the key list, then storages. */
function legacyFile(body: Ops, storages: Array<{ key: string; elementCount: number; data: Uint8Array }>): Uint8Array {
  const magic = [0x8a, 10, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19]; // LONG1 0x1950a86a20f9469cfc6c
  const parts: Uint8Array[] = [
    pickleOf(magic),
    pickleOf([0x4d, 0xe9, 0x03]), // BININT2 1001
    pickleOf(dict([['little_endian', op.newtrue]])),
    pickleOf(body),
    pickleOf([...op.emptyList, ...op.mark, ...storages.flatMap((s) => op.str(s.key)), ...op.appends]),
  ];
  for (const storage of storages) {
    const count = Buffer.alloc(8);
    count.writeBigInt64LE(BigInt(storage.elementCount));
    parts.push(count, storage.data);
  }
  return new Uint8Array(Buffer.concat(parts));
}

const floats = (...values: number[]): Uint8Array => new Uint8Array(new Float32Array(values).buffer);
const floatsOf = (tensor: StTensor | undefined): number[] => [...toFloat32(tensor!)];

function assertCheckpointError(pattern: RegExp): (error: unknown) => boolean {
  return (error) => {
    assert.ok(error instanceof CheckpointError, `expected CheckpointError, got ${String(error)}`);
    assert.match(error.message, pattern);
    return true;
  };
}

// ---------------------------------------------------------------------------------------------

const fixtures = fileURLToPath(new URL('../../../shared/fixtures/dit_original_tiny/', import.meta.url));
const noFixtures = existsSync(fixtures) ? false : `fixtures not found at ${fixtures}`;

describe('real DiT fixtures', { skip: noFixtures }, () => {
  for (const name of ['model.pt', 'model_legacy.pt']) {
    it(`${name} loads to exactly the tensors of model.safetensors`, async () => {
      const expected = (await readSafetensors(join(fixtures, 'model.safetensors'))).tensors;
      const actual = await loadTorchCheckpoint(join(fixtures, name));
      assert.deepEqual([...actual.keys()].sort(), [...expected.keys()].sort());
      for (const [key, tensor] of expected) {
        const loaded = actual.get(key)!;
        assert.equal(loaded.dtype, tensor.dtype, key);
        assert.deepEqual(loaded.shape, tensor.shape, key);
        assert.ok(Buffer.from(loaded.data).equals(Buffer.from(tensor.data)), `${key}: bytes differ`);
      }
    });
  }

  it('model.pt is an OrderedDict of TorchTensors in state-dict order', async () => {
    const root = await loadTorchObject(join(fixtures, 'model.pt'));
    assert.ok(root instanceof Map);
    assert.deepEqual([...root.keys()].slice(0, 2), ['pos_embed', 'x_embedder.proj.weight']);
    assert.ok([...root.values()].every((value) => value instanceof TorchTensor));
  });
});

describe('hand-made zip checkpoints', () => {
  const sixFloats: StorageSpec = { type: 'FloatStorage', key: '0', elementCount: 6 };
  const sixFloatsData = { '0': floats(0, 1, 2, 3, 4, 5) };

  it('gathers non-contiguous views and storage offsets into contiguous row-major data', async () => {
    const pickle = pickleOf(
      orderedDict([
        ['matrix', tensorOps(sixFloats, 0, [2, 3], [3, 1])],
        ['transposed', tensorOps(sixFloats, 0, [3, 2], [1, 3])],
        ['tail', tensorOps(sixFloats, 4, [2], [1])],
        ['every_other', tensorOps(sixFloats, 1, [3], [2])],
        ['cube', tensorOps({ ...sixFloats, elementCount: 8, key: '1' }, 0, [2, 2, 2], [1, 2, 4])],
        ['scalar', tensorOps(sixFloats, 5, [], [])],
        ['empty', tensorOps(sixFloats, 0, [0, 3], [3, 1])],
      ]),
    );
    const file = join(directory, 'views.pt');
    writeFileSync(file, torchZip(pickle, { ...sixFloatsData, '1': floats(0, 1, 2, 3, 4, 5, 6, 7) }));
    const tensors = await loadTorchCheckpoint(file);
    assert.deepEqual(floatsOf(tensors.get('matrix')), [0, 1, 2, 3, 4, 5]);
    assert.deepEqual(floatsOf(tensors.get('transposed')), [0, 3, 1, 4, 2, 5]);
    assert.deepEqual(floatsOf(tensors.get('tail')), [4, 5]);
    assert.deepEqual(floatsOf(tensors.get('every_other')), [1, 3, 5]);
    assert.deepEqual(floatsOf(tensors.get('cube')), [0, 4, 2, 6, 1, 5, 3, 7]);
    assert.deepEqual(tensors.get('scalar')!.shape, []);
    assert.deepEqual(floatsOf(tensors.get('scalar')), [5]);
    assert.deepEqual(tensors.get('empty')!.data.byteLength, 0);
  });

  it('reads deflated archives, int64/bf16 storages and Parameter wrappers', async () => {
    const longs: StorageSpec = { type: 'LongStorage', key: 'steps', elementCount: 2 };
    const halves: StorageSpec = { type: 'BFloat16Storage', key: 'h', elementCount: 2 };
    const parameter = [
      ...op.global('torch._utils', '_rebuild_parameter'),
      ...tupleOf([tensorOps(sixFloats, 0, [2], [1]), op.newtrue, [...op.global('collections', 'OrderedDict'), ...op.emptyTuple, ...op.reduce]]),
      ...op.reduce,
    ];
    const subclass = [
      ...op.global('torch._tensor', '_rebuild_from_type_v2'),
      ...tupleOf([
        op.global('torch._utils', '_rebuild_tensor_v2'),
        op.global('torch', 'Tensor'),
        tupleOf([[...tupleOf([op.str('storage'), op.global('torch', 'FloatStorage'), op.str('0'), op.str('cpu'), op.int(6)]), ...op.binpersid], op.int(3), tupleOf([op.int(1)]), tupleOf([op.int(1)])]),
        op.emptyDict,
      ]),
      ...op.reduce,
    ];
    const pickle = pickleOf(
      orderedDict([
        ['steps', tensorOps(longs, 0, [2], [1])],
        ['bf16', tensorOps(halves, 0, [2], [1])],
        ['weight', parameter],
        ['subclassed', subclass],
      ]),
    );
    const records = {
      ...sixFloatsData,
      steps: new Uint8Array(new BigInt64Array([-3n, 1000n]).buffer),
      h: new Uint8Array(new Uint16Array([0x3f80, 0xc020]).buffer),
    };
    const tensors = extractStateDict(await parseTorchObject(torchZip(pickle, records, 'deflate'), 'deflated.pt'), 'deflated.pt');
    assert.equal(tensors.get('steps')!.dtype, 'I64');
    assert.deepEqual(toInt64Numbers(tensors.get('steps')!), [-3, 1000]);
    assert.equal(tensors.get('bf16')!.dtype, 'BF16');
    assert.deepEqual(floatsOf(tensors.get('bf16')), [1, -2.5]);
    assert.deepEqual(floatsOf(tensors.get('weight')), [0, 1]);
    assert.deepEqual(floatsOf(tensors.get('subclassed')), [3]);
  });

  it('finds the state dict inside a training checkpoint, preferring "ema", and keeps other entries inert', async () => {
    const weights = (offset: number): Ops => orderedDict([['w', tensorOps(sixFloats, offset, [1], [1])]]);
    const namespace = [...op.global('argparse', 'Namespace'), ...op.emptyTuple, ...op.newobj, ...dict([['lr', op.int(3)]]), ...op.build];
    const pickle = pickleOf(dict([['model', weights(0)], ['ema', weights(1)], ['args', namespace], ['epoch', op.int(7)]]));
    const root = await parseTorchObject(torchZip(pickle, sixFloatsData), 'train.pt');
    assert.deepEqual(floatsOf(extractStateDict(root, 'train.pt').get('w')), [1]);
    assert.deepEqual(floatsOf(extractStateDict(root, 'train.pt', ['model']).get('w')), [0]);
    const args = (root as Map<string, PickleValue>).get('args');
    assert.ok(args instanceof PickleObject && args.className === 'argparse.Namespace');
    assert.deepEqual(args.state, new Map([['lr', 3]]));
    assert.throws(
      () => extractStateDict(root, 'train.pt', ['optimizer']),
      assertCheckpointError(/train\.pt: no state dict .* found at the top level: found a dict; its keys are "model", "ema", "args", "epoch"/),
    );
  });

  const broken: Array<[string, () => Uint8Array, RegExp]> = [
    ['a record is missing', () => torchZip(pickleOf(orderedDict([['w', tensorOps(sixFloats, 0, [6], [1])]])), {}), /storage record "archive\/data\/0" is missing/],
    [
      'a record is shorter than its storage',
      () => torchZip(pickleOf(orderedDict([['w', tensorOps(sixFloats, 0, [6], [1])]])), { '0': floats(1, 2) }),
      /storage "0" needs 24 bytes of F32 data but has 8/,
    ],
    [
      'a view reaches past its storage',
      () => torchZip(pickleOf(orderedDict([['w', tensorOps(sixFloats, 2, [2, 3], [3, 1])]])), sixFloatsData),
      /tensor \[2, 3\] at offset 2 with strides \[3, 1\] reaches past its storage of 6 elements/,
    ],
    [
      'a view repeats elements',
      () => torchZip(pickleOf(orderedDict([['w', tensorOps(sixFloats, 0, [1000], [0])]])), sixFloatsData),
      /repeats storage elements/,
    ],
    ['there is no data.pkl', () => buildZip([{ name: 'archive/other', data: new Uint8Array(3) }]), /has 0 "<name>\/data\.pkl" entries/],
    ['the archive is big-endian', () => buildZip([{ name: 'a/data.pkl', data: pickleOf(op.none) }, { name: 'a/byteorder', data: Buffer.from('big') }]), /"big" byte order/],
  ];
  for (const [name, build, message] of broken) {
    it(`rejects a checkpoint where ${name}`, async () => {
      await assert.rejects(parseTorchObject(build(), 'broken.pt'), assertCheckpointError(message));
    });
  }
});

describe('hand-made legacy checkpoints', () => {
  it('reads storages in key order and resolves legacy storage views', async () => {
    const whole: StorageSpec = { type: 'FloatStorage', key: '100', elementCount: 4 };
    const view: StorageSpec = { ...whole, view: ['100_view', 2, 2] };
    const body = orderedDict([
      ['a', tensorOps({ type: 'FloatStorage', key: '200', elementCount: 1 }, 0, [1], [1], true)],
      ['b', tensorOps(whole, 0, [4], [1], true)],
      ['c', tensorOps(view, 1, [1], [1], true)],
    ]);
    const file = join(directory, 'legacy.pt');
    writeFileSync(file, legacyFile(body, [
      { key: '100', elementCount: 4, data: floats(10, 11, 12, 13) },
      { key: '200', elementCount: 1, data: floats(99) },
    ]));
    const tensors = await loadTorchCheckpoint(file);
    assert.deepEqual(floatsOf(tensors.get('a')), [99]);
    assert.deepEqual(floatsOf(tensors.get('b')), [10, 11, 12, 13]);
    assert.deepEqual(floatsOf(tensors.get('c')), [13]); // view starts at element 2, tensor offset 1
  });

  it('rejects a storage whose on-disk element count disagrees with the pickle', async () => {
    const body = orderedDict([['a', tensorOps({ type: 'FloatStorage', key: '1', elementCount: 2 }, 0, [2], [1], true)]]);
    const bytes = legacyFile(body, [{ key: '1', elementCount: 3, data: floats(1, 2, 3) }]);
    await assert.rejects(parseTorchObject(bytes, 'old.pt'), assertCheckpointError(/storage "1" has 3 elements on disk, expected 2/));
  });
});

describe('unpickle', () => {
  const richHex = (hex: string): Uint8Array => Buffer.from(hex.replace('<X256>', '78'.repeat(256)), 'hex');
  // Python 3: pickle.dumps(rich, protocol=p) for the dict checked below ('x' * 256 abbreviated as <X256>).
  const protocol2 = richHex(
    '80027d7100285804000000696e747371015d7102284b004b014affffffff4bff4d00014dffff4a000001004a000000804affffff7f8a0500000080008a0800000000000000808a09000000000000000040655805000000666c6f617471035d710428473fe000000000000047fe37e43c8800759c477ff000000000000065580300000073747271055d71062858000000007107580a00000068c3a96c6c6f20e29c9371085800010000<X256>71096558050000006279746573710a635f636f646563730a656e636f64650a710b580300000000c3bf710c58060000006c6174696e31710d86710e52710f58050000007475706c6571104b014b024b038671112987711258040000006e6f6e6571134e580100000074711488580100000066711589580600000073686172656471165d7117284b014b026568178671184b075807000000696e74206b6579711958020000006f64711a63636f6c6c656374696f6e730a4f726465726564446963740a711b2952711c28580100000061711d4b01580100000062711e5d711f284b014b026575752e',
  );
  const protocol4 = richHex(
    '80049520020000000000007d94288c04696e7473945d94284b004b014affffffff4bff4d00014dffff4a000001004a000000804affffff7f8a0500000080008a0800000000000000808a09000000000000000040658c05666c6f6174945d9428473fe000000000000047fe37e43c8800759c477ff0000000000000658c03737472945d94288c00948c0a68c3a96c6c6f20e29c93945800010000<X256>94658c05627974657394430200ff948c057475706c65944b014b024b0386942987948c046e6f6e65944e8c017494888c016694898c06736861726564945d94284b014b0265681386944b078c07696e74206b6579948c026f64948c0b636f6c6c656374696f6e73948c0b4f72646572656444696374949394295294288c0161944b018c0162945d94284b014b026575752e',
  );

  for (const [name, bytes] of [['protocol 2', protocol2], ['protocol 4', protocol4]] as const) {
    it(`decodes Python's own ${name} output of every basic type`, () => {
      const value = unpickle(bytes, { fileLabel: name });
      assert.ok(value instanceof Map);
      assert.deepEqual(value.get('ints'), [0, 1, -1, 255, 256, 65535, 65536, -(2 ** 31), 2 ** 31 - 1, 2 ** 31, -(2n ** 63n), 2n ** 70n]);
      assert.deepEqual(value.get('float'), [0.5, -1e300, Infinity]);
      assert.deepEqual(value.get('str'), ['', 'héllo ✓', 'x'.repeat(256)]);
      assert.deepEqual(value.get('bytes'), new Uint8Array([0, 255]));
      assert.deepEqual(value.get('tuple'), [1, [2, 3], []]);
      assert.deepEqual([value.get('none'), value.get('t'), value.get('f'), value.get(7)], [null, true, false, 'int key']);
      const shared = value.get('shared') as PickleValue[];
      assert.equal(shared[0], shared[1], 'memoized objects stay shared');
      assert.deepEqual(value.get('od'), new Map<string, PickleValue>([['a', 1], ['b', [1, 2]]]));
    });
  }

  // Python 3: pickle.dumps(obj, protocol, fix_imports=False) where obj.__reduce__ returns (function, args).
  // (On Linux os.system pickles as posix.system.)
  const malicious: Array<[string, string, string]> = [
    ['posix.system', 'protocol 0', '63706f7369780a73797374656d0a70300a28566563686f2070776e65640a70310a7470320a5270330a2e'],
    ['builtins.eval', 'protocol 4', '8004951f000000000000008c086275696c74696e73948c046576616c9493948c03312b3194859452942e'],
    ['subprocess.Popen', 'protocol 2', '80026373756270726f636573730a506f70656e0a71005d71015804000000747275657102618571035271042e'],
  ];
  for (const [global, protocol, hex] of malicious) {
    it(`refuses ${global} (${protocol})`, () => {
      assert.throws(
        () => unpickle(Buffer.from(hex, 'hex'), { fileLabel: 'evil.pkl' }),
        assertCheckpointError(new RegExp(`^evil\\.pkl: refusing to load global ${global.replace('.', '\\.')}: checkpoints may only contain tensors`)),
      );
    });
  }

  it('refuses a malicious global inside a zip checkpoint, before touching any storage', async () => {
    const body = orderedDict([['w', [...op.global('os', 'system'), ...tupleOf([op.str('echo pwned')]), ...op.reduce]]]);
    const file = join(directory, 'evil.pt');
    writeFileSync(file, torchZip(pickleOf(body), {}));
    await assert.rejects(loadTorchCheckpoint(file), assertCheckpointError(/evil\.pt: refusing to load global os\.system: checkpoints may only contain tensors/));
  });

  const malformed: Array<[string, Uint8Array, RegExp]> = [
    ['an empty pickle', new Uint8Array(0), /pickle ends early/],
    ['a pickle without STOP', new Uint8Array([0x80, 2, 0x4b, 1]), /pickle ends early/],
    ['a string longer than the pickle', new Uint8Array([0x80, 2, 0x58, 0xff, 0xff, 0xff, 0x7f, 0x61]), /pickle ends early: 2147483647 bytes needed, 1 left/],
    ['a text opcode (protocol 0 INT)', new Uint8Array([0x49, 0x31, 0x0a, 0x2e]), /unsupported pickle opcode 0x49 \("I"\)/],
    ['STOP on an empty stack', new Uint8Array([0x80, 2, 0x2e]), /stack underflow/],
    ['APPENDS without MARK', new Uint8Array([0x5d, 0x65, 0x2e]), /no MARK to pop to/],
    ['a missing memo entry', new Uint8Array([0x68, 5, 0x2e]), /memo entry 5 is missing/],
    ['a list as dict key', new Uint8Array([0x7d, 0x5d, 0x4b, 1, 0x73, 0x2e]), /unsupported dict key: a list of 0/],
    ['a persistent id without a loader', new Uint8Array([0x4e, 0x51, 0x2e]), /persistent id but no persistent loader/],
    ['invalid UTF-8', new Uint8Array([0x8c, 1, 0xff, 0x2e]), /string is not valid UTF-8/],
    ['a future protocol', new Uint8Array([0x80, 9, 0x2e]), /pickle protocol 9 is newer/],
    ['calling a storage class', pickleOf([...op.global('torch', 'FloatStorage'), ...op.emptyTuple, ...op.reduce]), /torch\.FloatStorage cannot be called/],
  ];
  for (const [name, bytes, message] of malformed) {
    it(`rejects ${name}`, () => {
      assert.throws(() => unpickle(bytes, { fileLabel: 'bad.pkl' }), assertCheckpointError(message));
    });
  }
});

describe('broken and hostile files give CheckpointError, never a crash or hang', { skip: noFixtures }, () => {
  const zipBytes = (): Uint8Array => readFileSync(join(fixtures, 'model.pt'));
  const legacyBytes = (): Uint8Array => readFileSync(join(fixtures, 'model_legacy.pt'));

  /** Loads fully (every tensor's data gathered) or returns the CheckpointError; anything else fails the test. */
  async function outcome(bytes: Uint8Array, label: string): Promise<'parsed' | 'rejected'> {
    try {
      const tensors = extractStateDict(await parseTorchObject(bytes, label), label);
      for (const [name, tensor] of tensors) {
        const expectedBytes = tensor.shape.reduce((a, b) => a * b, 1) * ST_DTYPE_BYTES[tensor.dtype];
        assert.equal(tensor.data.byteLength, expectedBytes, `${label}: ${name} has the bytes its shape needs`);
      }
      return 'parsed';
    } catch (error) {
      assert.ok(error instanceof CheckpointError, `${label}: expected CheckpointError, got ${(error as Error)?.stack ?? String(error)}`);
      return 'rejected';
    }
  }

  it('every truncation of model.pt and model_legacy.pt is rejected', async () => {
    for (const [name, bytes] of [['model.pt', zipBytes()], ['model_legacy.pt', legacyBytes()]] as const) {
      for (let length = 0; length < bytes.length; length += 97) {
        assert.equal(await outcome(bytes.subarray(0, length), `${name}[:${length}]`), 'rejected', `${name} cut at ${length}`);
      }
    }
  });

  it('garbage, empty and lookalike files are rejected', async () => {
    const random = seededRandom(7);
    const garbage = new Uint8Array(4096).map(() => randomInt(random, 256));
    for (const [label, bytes] of [
      ['empty', new Uint8Array(0)],
      ['garbage', garbage],
      ['zip magic then garbage', new Uint8Array([0x50, 0x4b, 0x03, 0x04, ...garbage])],
      ['pickle magic then garbage', new Uint8Array([0x80, 0x02, ...garbage])],
      ['a safetensors file', new Uint8Array(readFileSync(join(fixtures, 'model.safetensors')))],
    ] as const) {
      assert.equal(await outcome(bytes, label), 'rejected', label);
    }
    await assert.rejects(parseTorchObject(garbage, 'g.pt'), assertCheckpointError(/g\.pt: not a PyTorch checkpoint/));
  });

  it('1,500 random mutations of the zip and legacy fixtures only ever give CheckpointError', async () => {
    const random = seededRandom(1234);
    const sources = [
      { name: 'model.pt', bytes: zipBytes(), hotEnd: 3100 }, // data.pkl lies in the first ~3 KB
      { name: 'model_legacy.pt', bytes: legacyBytes(), hotEnd: 3720 }, // the pickles lie in the first ~3.7 KB
    ];
    const counts = { parsed: 0, rejected: 0 };
    for (let iteration = 0; iteration < 1500; iteration++) {
      const source = sources[iteration % 2]!;
      const bytes = new Uint8Array(source.bytes);
      for (let n = 1 + randomInt(random, 3); n > 0; n--) {
        // Mostly hit the pickle; sometimes anywhere (zip directory, storage data, length fields).
        const at = random() < 0.8 ? randomInt(random, source.hotEnd) : randomInt(random, bytes.length);
        bytes[at] = random() < 0.5 ? randomInt(random, 256) : bytes[at]! ^ (1 << randomInt(random, 8));
      }
      counts[await outcome(bytes, `${source.name} mutation ${iteration}`)]++;
    }
    assert.ok(counts.parsed > 100 && counts.rejected > 300, JSON.stringify(counts));
  });
});
