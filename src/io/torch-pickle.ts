// Loads PyTorch `.pt` checkpoints (zip format and pre-1.6 legacy format) without executing code:
// a restricted unpickler that only knows the few globals a state dict needs and refuses all others.

import { open } from 'node:fs/promises';
import { inflateRawSync } from 'node:zlib';
import { CheckpointError } from './errors.js';
import { MAX_ARRAY_BYTES, ST_DTYPE_BYTES, readFileRange, type StDType, type StTensor } from './safetensors.js';

// ---------------------------------------------------------------------------------------------
// Values produced by the unpickler

/** Python dict keys we can represent. */
export type PickleKey = string | number | bigint | boolean | null;

/**
 * A decoded pickle. Lists and tuples both become arrays, dicts and OrderedDicts become Maps, ints
 * become numbers (bigint when beyond 2^53), bytes become Uint8Arrays.
 */
export type PickleValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | PickleValue[]
  | Map<PickleKey, PickleValue>
  | PickleGlobal
  | PickleObject
  | TorchStorage
  | TorchTensor;

type GlobalKind =
  | 'ordered-dict'
  | 'rebuild-tensor'
  | 'rebuild-parameter'
  | 'rebuild-from-type'
  | 'tensor-class'
  | 'storage-type'
  | 'dtype'
  | 'namespace'
  | 'codecs-encode';

/** An allowed Python global (class, function or dtype), by name; nothing is ever executed. */
export class PickleGlobal {
  constructor(
    readonly qualifiedName: string,
    readonly kind: GlobalKind,
    /** For storage types and dtypes: the element type. */
    readonly dtype?: StDType,
  ) {}
}

/** An inert instance of an allowed plain-data class (argparse.Namespace): its arguments and state. */
export class PickleObject {
  state: PickleValue = null;
  constructor(
    readonly className: string,
    readonly args: PickleValue[],
  ) {}
}

/** The bytes behind one storage key (a zip record or a legacy storage), attached after unpickling. */
export class StorageRecord {
  bytes: Uint8Array | undefined;
  constructor(readonly key: string) {}
}

/** A typed window onto a storage record: what torch calls a (typed) storage. */
export class TorchStorage {
  constructor(
    readonly record: StorageRecord,
    readonly dtype: StDType,
    readonly elementCount: number,
    /** Non-zero only for legacy storage views. */
    readonly elementOffset = 0,
  ) {}

  get byteEnd(): number {
    return (this.elementOffset + this.elementCount) * ST_DTYPE_BYTES[this.dtype];
  }
}

/**
 * A tensor rebuilt from (storage, offset, shape, strides). The geometry is validated against the
 * storage size when the tensor is created; `data` gathers the contiguous bytes on first use (a view
 * when the tensor is already contiguous), so it works once the storage's record has its bytes.
 */
export class TorchTensor implements StTensor {
  private contiguousBytes: Uint8Array | undefined;

  constructor(
    readonly storage: TorchStorage,
    /** In elements. */
    readonly storageOffset: number,
    readonly shape: number[],
    /** In elements. */
    readonly strides: number[],
  ) {}

  get dtype(): StDType {
    return this.storage.dtype;
  }

  get data(): Uint8Array {
    this.contiguousBytes ??= this.gather();
    return this.contiguousBytes;
  }

  private gather(): Uint8Array {
    const source = this.storage.record.bytes;
    if (!source) throw new Error(`storage "${this.storage.record.key}" has not been loaded yet`);
    const elementBytes = ST_DTYPE_BYTES[this.dtype];
    const count = this.shape.reduce((a, b) => a * b, 1);
    const start = (this.storage.elementOffset + this.storageOffset) * elementBytes;
    if (isContiguous(this.shape, this.strides)) return source.subarray(start, start + count * elementBytes);

    // Walk the output in row-major order with an odometer over all but the innermost dimension.
    const out = new Uint8Array(count * elementBytes);
    if (count === 0) return out;
    const rank = this.shape.length;
    const rowLength = this.shape[rank - 1]!;
    const innerStrideBytes = this.strides[rank - 1]! * elementBytes;
    const index = new Array<number>(rank - 1).fill(0);
    let rowStart = start;
    for (let written = 0; written < out.length; ) {
      for (let j = 0, from = rowStart; j < rowLength; j++, from += innerStrideBytes) {
        for (let b = 0; b < elementBytes; b++) out[written++] = source[from + b]!;
      }
      for (let d = rank - 2; d >= 0; d--) {
        rowStart += this.strides[d]! * elementBytes;
        if (++index[d]! < this.shape[d]!) break;
        rowStart -= this.shape[d]! * this.strides[d]! * elementBytes;
        index[d] = 0;
      }
    }
    return out;
  }
}

function isContiguous(shape: readonly number[], strides: readonly number[]): boolean {
  let expected = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    if (shape[d] !== 1 && strides[d] !== expected) return false;
    expected *= shape[d]!;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Allowed globals

const TRUST_HINT =
  'If you trust this file, load it in Python and re-save the weights with safetensors.torch.save_file, then load that.';

const STORAGE_DTYPES: Readonly<Record<string, StDType>> = {
  FloatStorage: 'F32', DoubleStorage: 'F64', HalfStorage: 'F16', BFloat16Storage: 'BF16', LongStorage: 'I64',
  IntStorage: 'I32', ShortStorage: 'I16', CharStorage: 'I8', ByteStorage: 'U8', BoolStorage: 'BOOL',
};

const TORCH_DTYPES: Readonly<Record<string, StDType>> = {
  float64: 'F64', float32: 'F32', float16: 'F16', bfloat16: 'BF16', int64: 'I64', int32: 'I32', int16: 'I16',
  int8: 'I8', uint8: 'U8', bool: 'BOOL',
};

const ALLOWED_GLOBALS: ReadonlyMap<string, PickleGlobal> = new Map(
  [
    new PickleGlobal('collections.OrderedDict', 'ordered-dict'),
    new PickleGlobal('torch._utils._rebuild_tensor', 'rebuild-tensor'),
    new PickleGlobal('torch._utils._rebuild_tensor_v2', 'rebuild-tensor'),
    new PickleGlobal('torch._utils._rebuild_parameter', 'rebuild-parameter'),
    new PickleGlobal('torch._utils._rebuild_parameter_with_state', 'rebuild-parameter'),
    new PickleGlobal('torch._tensor._rebuild_from_type_v2', 'rebuild-from-type'),
    new PickleGlobal('torch.Tensor', 'tensor-class'),
    new PickleGlobal('torch.nn.parameter.Parameter', 'tensor-class'),
    // DiT's train.py stores its argparse arguments next to the weights; a Namespace is plain data.
    new PickleGlobal('argparse.Namespace', 'namespace'),
    // Protocol 2 pickles Python 3 `bytes` as _codecs.encode(text, 'latin1').
    new PickleGlobal('_codecs.encode', 'codecs-encode'),
    new PickleGlobal('torch.UntypedStorage', 'storage-type', 'U8'),
    new PickleGlobal('torch.storage.UntypedStorage', 'storage-type', 'U8'),
    ...Object.entries(STORAGE_DTYPES).flatMap(([name, dtype]) => [
      new PickleGlobal(`torch.${name}`, 'storage-type', dtype),
      // Old CUDA checkpoints name CUDA storages; we load everything to the CPU, as map_location='cpu' does.
      new PickleGlobal(`torch.cuda.${name}`, 'storage-type', dtype),
    ]),
    ...Object.entries(TORCH_DTYPES).map(([name, dtype]) => new PickleGlobal(`torch.${name}`, 'dtype', dtype)),
  ].map((global) => [global.qualifiedName, global]),
);

// ---------------------------------------------------------------------------------------------
// The unpickler

export interface UnpickleOptions {
  /** Names the file in error messages. */
  fileLabel: string;
  /** Resolves a persistent id (PERSID/BINPERSID); without it such a pickle is rejected. */
  persistentLoad?: (pid: PickleValue) => PickleValue;
}

/** Decodes one pickle starting at byte 0. */
export function unpickle(bytes: Uint8Array, options: UnpickleOptions): PickleValue {
  return unpickleAt(bytes, 0, options).value;
}

/** Decodes one pickle starting at `offset`; `end` is the offset just past its STOP opcode. */
export function unpickleAt(bytes: Uint8Array, offset: number, options: UnpickleOptions): { value: PickleValue; end: number } {
  return new Unpickler(bytes, offset, options).run();
}

const OP = {
  MARK: 0x28, STOP: 0x2e, POP: 0x30, POP_MARK: 0x31, DUP: 0x32, BINFLOAT: 0x47, BININT: 0x4a, BININT1: 0x4b,
  BININT2: 0x4d, NONE: 0x4e, PERSID: 0x50, BINPERSID: 0x51, REDUCE: 0x52, BINSTRING: 0x54, SHORT_BINSTRING: 0x55,
  BINUNICODE: 0x58, BINBYTES: 0x42, SHORT_BINBYTES: 0x43, EMPTY_LIST: 0x5d, APPEND: 0x61, BUILD: 0x62, GLOBAL: 0x63,
  DICT: 0x64, APPENDS: 0x65, BINGET: 0x68, LONG_BINGET: 0x6a, LIST: 0x6c, BINPUT: 0x71, LONG_BINPUT: 0x72,
  SETITEM: 0x73, TUPLE: 0x74, SETITEMS: 0x75, EMPTY_DICT: 0x7d, EMPTY_TUPLE: 0x29, PROTO: 0x80, NEWOBJ: 0x81,
  TUPLE1: 0x85, TUPLE2: 0x86, TUPLE3: 0x87, NEWTRUE: 0x88, NEWFALSE: 0x89, LONG1: 0x8a, LONG4: 0x8b,
  SHORT_BINUNICODE: 0x8c, BINUNICODE8: 0x8d, BINBYTES8: 0x8e, STACK_GLOBAL: 0x93, MEMOIZE: 0x94, FRAME: 0x95,
  BYTEARRAY8: 0x96,
} as const;

const HIGHEST_PROTOCOL = 5;
/** Checkpoints hold ints up to 10 bytes (the legacy magic number); huge ones only cost time. */
const MAX_LONG_BYTES = 64;

/**
 * A stack machine over the pickle opcodes (see Python's pickletools for their meaning). Every
 * opcode consumes at least one byte and every length is checked against the bytes left, so any
 * input ends in a value or a CheckpointError, in time and memory linear in its size.
 */
class Unpickler {
  private position: number;
  private opcodeOffset = 0;
  private stack: PickleValue[] = [];
  /** Stacks saved by MARK, restored when the marked items are consumed. */
  private readonly metastack: PickleValue[][] = [];
  private readonly memo = new Map<number, PickleValue>();
  private readonly utf8 = new TextDecoder('utf-8', { fatal: true });

  constructor(
    private readonly bytes: Uint8Array,
    start: number,
    private readonly options: UnpickleOptions,
  ) {
    this.position = start;
  }

  run(): { value: PickleValue; end: number } {
    for (;;) {
      this.opcodeOffset = this.position;
      const opcode = this.readUint8();
      switch (opcode) {
        case OP.STOP:
          return { value: this.pop(), end: this.position };
        case OP.PROTO: {
          const version = this.readUint8();
          if (version > HIGHEST_PROTOCOL) this.fail(`pickle protocol ${version} is newer than the supported ${HIGHEST_PROTOCOL}`);
          break;
        }
        case OP.FRAME:
          this.readUint64(); // frames only help streaming readers; we hold all bytes already
          break;

        case OP.NONE: this.push(null); break;
        case OP.NEWTRUE: this.push(true); break;
        case OP.NEWFALSE: this.push(false); break;
        case OP.BININT: this.push(this.view(4).getInt32(0, true)); break;
        case OP.BININT1: this.push(this.readUint8()); break;
        case OP.BININT2: this.push(this.view(2).getUint16(0, true)); break;
        case OP.LONG1: this.push(this.readLong(this.readUint8())); break;
        case OP.LONG4: this.push(this.readLong(this.readUint32())); break;
        case OP.BINFLOAT: this.push(this.view(8).getFloat64(0, false)); break;

        case OP.SHORT_BINUNICODE: this.push(this.readText(this.readUint8())); break;
        case OP.BINUNICODE: this.push(this.readText(this.readUint32())); break;
        case OP.BINUNICODE8: this.push(this.readText(this.readUint64())); break;
        // Python 2 `str`; torch.load decodes these as UTF-8 by default, and so do we.
        case OP.SHORT_BINSTRING: this.push(this.readText(this.readUint8())); break;
        case OP.BINSTRING: this.push(this.readText(this.readUint32())); break;
        // Copied, so a small bytes value never pins (or aliases) the whole file buffer.
        case OP.SHORT_BINBYTES: this.push(new Uint8Array(this.take(this.readUint8()))); break;
        case OP.BINBYTES: this.push(new Uint8Array(this.take(this.readUint32()))); break;
        case OP.BINBYTES8:
        case OP.BYTEARRAY8: this.push(new Uint8Array(this.take(this.readUint64()))); break;

        case OP.MARK:
          this.metastack.push(this.stack);
          this.stack = [];
          break;
        case OP.POP:
          if (this.stack.length > 0) this.stack.pop();
          else this.popMark();
          break;
        case OP.POP_MARK: this.popMark(); break;
        case OP.DUP: this.push(this.top()); break;

        case OP.EMPTY_TUPLE: this.push([]); break;
        case OP.EMPTY_LIST: this.push([]); break;
        case OP.EMPTY_DICT: this.push(new Map()); break;
        case OP.TUPLE:
        case OP.LIST: this.push(this.popMark()); break;
        case OP.TUPLE1: this.push(this.popN(1)); break;
        case OP.TUPLE2: this.push(this.popN(2)); break;
        case OP.TUPLE3: this.push(this.popN(3)); break;
        case OP.DICT: {
          const dict = new Map<PickleKey, PickleValue>();
          this.setItems(dict, this.popMark());
          this.push(dict);
          break;
        }
        case OP.APPEND: {
          const item = this.pop();
          this.list(this.top()).push(item);
          break;
        }
        case OP.APPENDS: {
          const items = this.popMark();
          const list = this.list(this.top());
          for (const item of items) list.push(item);
          break;
        }
        case OP.SETITEM: {
          const value = this.pop();
          const key = this.pop();
          this.setItems(this.dict(this.top()), [key, value]);
          break;
        }
        case OP.SETITEMS: {
          const items = this.popMark();
          this.setItems(this.dict(this.top()), items);
          break;
        }

        case OP.BINPUT: this.memo.set(this.readUint8(), this.top()); break;
        case OP.LONG_BINPUT: this.memo.set(this.readUint32(), this.top()); break;
        case OP.MEMOIZE: this.memo.set(this.memo.size, this.top()); break;
        case OP.BINGET: this.push(this.memoGet(this.readUint8())); break;
        case OP.LONG_BINGET: this.push(this.memoGet(this.readUint32())); break;

        case OP.GLOBAL: {
          const module = this.readLine();
          this.push(this.resolveGlobal(module, this.readLine()));
          break;
        }
        case OP.STACK_GLOBAL: {
          const name = this.pop();
          const module = this.pop();
          if (typeof module !== 'string' || typeof name !== 'string') this.fail('STACK_GLOBAL needs two strings');
          this.push(this.resolveGlobal(module, name));
          break;
        }
        case OP.REDUCE: {
          const args = this.list(this.pop());
          this.push(this.call(this.pop(), args));
          break;
        }
        case OP.NEWOBJ: {
          const args = this.list(this.pop());
          this.push(this.instantiate(this.pop(), args));
          break;
        }
        case OP.BUILD: {
          const state = this.pop();
          this.build(this.top(), state);
          break;
        }
        case OP.PERSID: this.push(this.persistentLoad(this.readLine())); break;
        case OP.BINPERSID: this.push(this.persistentLoad(this.pop())); break;

        default:
          this.fail(`unsupported pickle opcode 0x${opcode.toString(16).padStart(2, '0')} (${JSON.stringify(String.fromCharCode(opcode))})`);
      }
    }
  }

  // --- torch semantics: what the allowed globals do when called ------------------------------

  private resolveGlobal(module: string, name: string): PickleGlobal {
    const qualifiedName = `${module}.${name}`;
    const allowed = ALLOWED_GLOBALS.get(qualifiedName);
    if (!allowed) {
      throw new CheckpointError(this.options.fileLabel, `refusing to load global ${qualifiedName}: checkpoints may only contain tensors`, TRUST_HINT);
    }
    return allowed;
  }

  /** REDUCE: `callable(*args)`, for the callables on the allow-list. */
  private call(callable: PickleValue, args: PickleValue[]): PickleValue {
    if (!(callable instanceof PickleGlobal)) return this.fail(`REDUCE expects a global to call, got ${describe(callable)}`);
    switch (callable.kind) {
      case 'ordered-dict':
        return this.instantiate(callable, args);
      case 'rebuild-tensor': // (storage, storage_offset, size, stride, requires_grad?, hooks?, metadata?)
        return this.rebuildTensor(args);
      case 'rebuild-parameter': { // (data, requires_grad, hooks[, state]): a Parameter is its data
        const data = args[0];
        if (!(data instanceof TorchTensor)) return this.fail(`${callable.qualifiedName} expects a tensor, got ${describe(data)}`);
        return data;
      }
      case 'rebuild-from-type': { // (func, type, args, state): tensor subclasses of plain tensors
        const [func, type, innerArgs] = args;
        if (!(type instanceof PickleGlobal) || type.kind !== 'tensor-class') {
          return this.fail(`${callable.qualifiedName} may only rebuild torch.Tensor or Parameter, got ${describe(type)}`);
        }
        // Only the tensor rebuilders may be nested, so a self-referencing argument list cannot recurse.
        if (!(func instanceof PickleGlobal) || (func.kind !== 'rebuild-tensor' && func.kind !== 'rebuild-parameter')) {
          return this.fail(`${callable.qualifiedName} expects a tensor rebuild function, got ${describe(func)}`);
        }
        return this.call(func, this.list(innerArgs ?? null));
      }
      case 'namespace':
        return this.instantiate(callable, args);
      case 'codecs-encode': {
        const [text, encoding] = args;
        if (typeof text !== 'string' || (encoding !== 'latin1' && encoding !== 'latin-1')) {
          return this.fail(`_codecs.encode is only supported for latin1 text, got (${describe(text)}, ${describe(encoding)})`);
        }
        const bytes = new Uint8Array(text.length);
        for (let i = 0; i < text.length; i++) {
          const code = text.charCodeAt(i);
          if (code > 0xff) this.fail('_codecs.encode text is not latin1');
          bytes[i] = code;
        }
        return bytes;
      }
      default:
        return this.fail(`${callable.qualifiedName} cannot be called`);
    }
  }

  /** NEWOBJ (and plain constructors): `cls.__new__(cls, *args)`. */
  private instantiate(cls: PickleValue, args: PickleValue[]): PickleValue {
    if (cls instanceof PickleGlobal && cls.kind === 'ordered-dict') {
      const dict = new Map<PickleKey, PickleValue>();
      if (args.length > 0) {
        for (const pair of this.list(args[0]!)) {
          const items = this.list(pair);
          if (items.length !== 2) this.fail(`OrderedDict expects (key, value) pairs, got ${describe(pair)}`);
          this.setItems(dict, items);
        }
      }
      return dict;
    }
    if (cls instanceof PickleGlobal && cls.kind === 'namespace') return new PickleObject(cls.qualifiedName, args);
    return this.fail(`cannot instantiate ${describe(cls)}`);
  }

  /** BUILD: apply `state` to `target`. Attributes of dicts and tensors (e.g. `_metadata`) are dropped. */
  private build(target: PickleValue, state: PickleValue): void {
    if (target instanceof PickleObject) target.state = state;
    else if (!(target instanceof Map) && !(target instanceof TorchTensor)) this.fail(`cannot BUILD ${describe(target)}`);
  }

  private rebuildTensor(args: PickleValue[]): TorchTensor {
    const [storage, storageOffset, shape, strides] = args;
    if (!(storage instanceof TorchStorage)) return this.fail(`tensor rebuild expects a storage, got ${describe(storage)}`);
    const offset = this.count(storageOffset ?? null, 'storage offset');
    const dims = this.list(shape ?? null).map((d) => this.count(d, 'tensor size'));
    const steps = this.list(strides ?? null).map((s) => this.count(s, 'tensor stride'));
    if (dims.length !== steps.length) this.fail(`tensor has ${dims.length} sizes but ${steps.length} strides`);

    let elementCount = 1;
    let lastIndex = offset;
    for (let d = 0; d < dims.length; d++) {
      elementCount *= dims[d]!;
      lastIndex += (dims[d]! - 1) * steps[d]!;
    }
    if (elementCount > 0 && !(lastIndex < storage.elementCount)) {
      this.fail(`tensor [${dims.join(', ')}] at offset ${offset} with strides [${steps.join(', ')}] reaches past its storage of ${storage.elementCount} elements`);
    }
    if (elementCount > storage.elementCount) {
      // Only possible when elements repeat (expand / stride 0); copying could blow up memory.
      this.fail(`tensor [${dims.join(', ')}] repeats storage elements (an expanded view); call .contiguous() before saving`);
    }
    return new TorchTensor(storage, offset, dims, steps);
  }

  private persistentLoad(pid: PickleValue): PickleValue {
    if (!this.options.persistentLoad) return this.fail('pickle has a persistent id but no persistent loader was given');
    return this.options.persistentLoad(pid);
  }

  // --- stack, memo and containers ------------------------------------------------------------

  private push(value: PickleValue): void {
    this.stack.push(value);
  }

  private pop(): PickleValue {
    if (this.stack.length === 0) this.fail('stack underflow');
    return this.stack.pop()!;
  }

  private top(): PickleValue {
    if (this.stack.length === 0) this.fail('stack underflow');
    return this.stack[this.stack.length - 1]!;
  }

  private popN(n: number): PickleValue[] {
    if (this.stack.length < n) this.fail('stack underflow');
    return this.stack.splice(this.stack.length - n, n);
  }

  /** Everything pushed since the last MARK; the stack before the MARK becomes current again. */
  private popMark(): PickleValue[] {
    const items = this.stack;
    const previous = this.metastack.pop();
    if (!previous) return this.fail('no MARK to pop to');
    this.stack = previous;
    return items;
  }

  private memoGet(index: number): PickleValue {
    const value = this.memo.get(index);
    if (value === undefined) this.fail(`memo entry ${index} is missing`);
    return value!;
  }

  private list(value: PickleValue): PickleValue[] {
    if (!Array.isArray(value)) return this.fail(`expected a list or tuple, got ${describe(value)}`);
    return value;
  }

  private dict(value: PickleValue): Map<PickleKey, PickleValue> {
    if (!(value instanceof Map)) return this.fail(`expected a dict, got ${describe(value)}`);
    return value;
  }

  /** Sets alternating key, value items. */
  private setItems(dict: Map<PickleKey, PickleValue>, items: PickleValue[]): void {
    if (items.length % 2 !== 0) this.fail('dict items come in an odd number');
    for (let i = 0; i < items.length; i += 2) {
      const key = items[i]!;
      const isKey = key === null || ['string', 'number', 'bigint', 'boolean'].includes(typeof key);
      if (!isKey) this.fail(`unsupported dict key: ${describe(key)}`);
      dict.set(key as PickleKey, items[i + 1]!);
    }
  }

  private count(value: PickleValue, what: string): number {
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
      return this.fail(`${what} is ${describe(value)}, expected a non-negative integer`);
    }
    return value;
  }

  // --- byte reading ---------------------------------------------------------------------------

  private take(length: number): Uint8Array {
    if (length > this.bytes.length - this.position) {
      this.fail(`pickle ends early: ${length} bytes needed, ${this.bytes.length - this.position} left`);
    }
    const slice = this.bytes.subarray(this.position, this.position + length);
    this.position += length;
    return slice;
  }

  private view(length: number): DataView {
    const slice = this.take(length);
    return new DataView(slice.buffer, slice.byteOffset, length);
  }

  private readUint8(): number {
    return this.take(1)[0]!;
  }

  /** A 4-byte length or memo index (unsigned; a negative BINSTRING length then fails in take). */
  private readUint32(): number {
    return this.view(4).getUint32(0, true);
  }

  private readUint64(): number {
    const value = this.view(8).getBigUint64(0, true);
    if (value > BigInt(this.bytes.length)) this.fail(`length ${value} exceeds the pickle size`);
    return Number(value);
  }

  /** LONG1/LONG4: little-endian two's complement of `length` bytes. */
  private readLong(length: number): number | bigint {
    if (length > MAX_LONG_BYTES) this.fail(`integer of ${length} bytes is too large for a checkpoint`);
    const bytes = this.take(length);
    if (length === 0) return 0;
    let hex = '';
    for (let i = length - 1; i >= 0; i--) hex += bytes[i]!.toString(16).padStart(2, '0');
    let value = BigInt(`0x${hex}`);
    if (bytes[length - 1]! & 0x80) value -= 1n << BigInt(8 * length);
    const asNumber = Number(value);
    return Number.isSafeInteger(asNumber) ? asNumber : value;
  }

  private readText(length: number): string {
    const bytes = this.take(length);
    try {
      return this.utf8.decode(bytes);
    } catch {
      return this.fail('string is not valid UTF-8');
    }
  }

  /** GLOBAL and PERSID arguments: text up to a newline. */
  private readLine(): string {
    const end = this.bytes.indexOf(0x0a, this.position);
    if (end < 0) this.fail('pickle ends inside a text argument');
    const line = this.readText(end - this.position);
    this.position = end + 1;
    return line;
  }

  private fail(problem: string): never {
    throw new CheckpointError(this.options.fileLabel, `${problem} (pickle opcode at byte ${this.opcodeOffset})`, CORRUPT_HINT);
  }
}

const CORRUPT_HINT = 'The file is truncated, corrupt or not a PyTorch checkpoint.';

function describe(value: PickleValue | undefined): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'None';
  if (Array.isArray(value)) return `a list of ${value.length}`;
  if (value instanceof Map) return 'a dict';
  if (value instanceof Uint8Array) return 'bytes';
  if (value instanceof PickleGlobal) return value.qualifiedName;
  if (value instanceof PickleObject) return `a ${value.className}`;
  if (value instanceof TorchStorage) return 'a storage';
  if (value instanceof TorchTensor) return 'a tensor';
  return typeof value === 'string' ? `the string ${JSON.stringify(value.slice(0, 40))}` : `${typeof value} ${String(value)}`;
}

// ---------------------------------------------------------------------------------------------
// Checkpoint files

/** Where the state dict usually lives inside a wrapping training checkpoint, most preferred first. */
export const DEFAULT_STATE_DICT_KEYS: readonly string[] = ['ema', 'model', 'state_dict'];

/** Loads a `.pt` file and returns its state dict (see {@link extractStateDict}). */
export async function loadTorchCheckpoint(path: string, preferKeys: readonly string[] = DEFAULT_STATE_DICT_KEYS): Promise<Map<string, StTensor>> {
  return extractStateDict(await loadTorchObject(path), path, preferKeys);
}

/** Loads the whole pickled object of a `.pt` file (zip or legacy format), tensors included. */
export async function loadTorchObject(path: string): Promise<PickleValue> {
  const handle = await open(path, 'r');
  try {
    const size = (await handle.stat()).size;
    return await readTorchObject({ size, read: (position, length) => readFileRange(handle, position, length, path) }, path);
  } finally {
    await handle.close();
  }
}

/** Same as {@link loadTorchObject} for a file held in memory. */
export async function parseTorchObject(bytes: Uint8Array, fileLabel: string): Promise<PickleValue> {
  const view = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return readTorchObject({ size: view.byteLength, read: async (position, length) => view.subarray(position, position + length) }, fileLabel);
}

/**
 * Finds the state dict (a dict of name → tensor) in a loaded object: the object itself, or the
 * entry under the first of `preferKeys` present (recursively, e.g. {"model": {"state_dict": …}}).
 * Returns plain StTensor records so callers can treat torch and safetensors tensors alike.
 */
export function extractStateDict(root: PickleValue, fileLabel: string, preferKeys: readonly string[] = DEFAULT_STATE_DICT_KEYS): Map<string, StTensor> {
  let current = root;
  const path: string[] = [];
  for (;;) {
    if (isStateDict(current)) {
      const tensors = new Map<string, StTensor>();
      for (const [name, tensor] of current) tensors.set(name, { dtype: tensor.dtype, shape: [...tensor.shape], data: tensor.data });
      return tensors;
    }
    // The depth bound stops a dict that contains itself.
    if (!(current instanceof Map) || path.length > preferKeys.length) break;
    const dict = current;
    const next = preferKeys.find((key) => dict.get(key) instanceof Map);
    if (next === undefined) break;
    path.push(next);
    current = dict.get(next)!;
  }
  const where = path.length > 0 ? `under ${path.map((k) => `["${k}"]`).join('')}` : 'at the top level';
  const keys = current instanceof Map ? `; its keys are ${[...current.keys()].slice(0, 20).map((k) => JSON.stringify(String(k))).join(', ')}` : '';
  throw new CheckpointError(
    fileLabel,
    `no state dict (a dict of name → tensor) found ${where}: found ${describe(current)}${keys}`,
    `Say which entry holds the weights (looked for ${preferKeys.map((k) => `"${k}"`).join(', ')}).`,
  );
}

function isStateDict(value: PickleValue): value is Map<string, TorchTensor> {
  return value instanceof Map && value.size > 0 && [...value].every(([key, item]) => typeof key === 'string' && item instanceof TorchTensor);
}

/** Random access to the checkpoint bytes, from a file or from memory. Ranges are pre-validated. */
interface ByteSource {
  size: number;
  read(position: number, length: number): Promise<Uint8Array>;
}

const ZIP_LOCAL_MAGIC = 0x04034b50;

async function readTorchObject(source: ByteSource, file: string): Promise<PickleValue> {
  if (source.size < 4) throw new CheckpointError(file, `file is only ${source.size} bytes`, CORRUPT_HINT);
  const head = await source.read(0, 4);
  const magic = new DataView(head.buffer, head.byteOffset, 4).getUint32(0, true);
  if (magic === ZIP_LOCAL_MAGIC) return readZipCheckpoint(source, file);
  if (head[0] === OP.PROTO) return readLegacyCheckpoint(source, file);
  throw new CheckpointError(file, 'not a PyTorch checkpoint (neither a zip archive nor a legacy pickle)', 'Expected a file written by torch.save.');
}

/** Builds the persistent loader shared by both formats; `records` collects every key it sees. */
function storageLoader(file: string, records: Map<string, StorageRecord>, storages: TorchStorage[]): (pid: PickleValue) => PickleValue {
  return (pid) => {
    // Zip: ('storage', type, key, location, numel). Legacy adds view metadata: (view_key, offset, size) or None.
    if (!Array.isArray(pid) || pid.length < 5) throw new CheckpointError(file, `unexpected persistent id ${describe(pid)}`, CORRUPT_HINT);
    const [kind, type, key, , elementCount, view] = pid;
    const kindName = kind instanceof Uint8Array ? new TextDecoder().decode(kind) : kind;
    if (kindName === 'module') {
      throw new CheckpointError(file, 'file holds a pickled nn.Module, not a state dict', 'Re-save it with torch.save(model.state_dict(), path).');
    }
    if (kindName !== 'storage' || !(type instanceof PickleGlobal) || type.kind !== 'storage-type' || typeof key !== 'string') {
      throw new CheckpointError(file, `unexpected persistent id (${describe(kind)}, ${describe(type)}, ${describe(key)})`, CORRUPT_HINT);
    }
    if (typeof elementCount !== 'number' || !Number.isSafeInteger(elementCount) || elementCount < 0) {
      throw new CheckpointError(file, `storage "${key}" has element count ${describe(elementCount)}`, CORRUPT_HINT);
    }
    let record = records.get(key);
    if (!record) records.set(key, (record = new StorageRecord(key)));
    const root = new TorchStorage(record, type.dtype!, elementCount);
    storages.push(root);
    if (view === undefined || view === null) return root;

    const [, viewOffset, viewSize] = Array.isArray(view) ? view : [];
    const isCount = (v: PickleValue | undefined): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
    if (!isCount(viewOffset) || !isCount(viewSize) || viewOffset + viewSize > elementCount) {
      throw new CheckpointError(file, `storage "${key}" has an invalid view ${describe(view)}`, CORRUPT_HINT);
    }
    const viewStorage = new TorchStorage(record, type.dtype!, viewSize, viewOffset);
    storages.push(viewStorage);
    return viewStorage;
  };
}

/** Checks every storage fits in its record's bytes, so tensor data can be gathered without checks. */
function checkStorageSizes(file: string, records: Map<string, StorageRecord>, storages: TorchStorage[]): void {
  for (const record of records.values()) {
    if (!record.bytes) throw new CheckpointError(file, `storage "${record.key}" is referenced but its data is missing`, CORRUPT_HINT);
  }
  for (const storage of storages) {
    const available = storage.record.bytes!.byteLength;
    if (storage.byteEnd > available) {
      throw new CheckpointError(
        file,
        `storage "${storage.record.key}" needs ${storage.byteEnd} bytes of ${storage.dtype} data but has ${available}`,
        CORRUPT_HINT,
      );
    }
  }
}

// --- zip format (torch ≥ 1.6): <archive>/data.pkl plus one record <archive>/data/<key> per storage ---

async function readZipCheckpoint(source: ByteSource, file: string): Promise<PickleValue> {
  const entries = await readZipDirectory(source, file);
  const pickleNames = [...entries.keys()].filter((name) => /^[^/]+\/data\.pkl$/.test(name));
  if (pickleNames.length !== 1) {
    throw new CheckpointError(file, `zip archive has ${pickleNames.length} "<name>/data.pkl" entries, expected 1`, 'Expected a file written by torch.save.');
  }
  const prefix = pickleNames[0]!.slice(0, -'data.pkl'.length);
  const byteOrder = entries.get(`${prefix}byteorder`);
  if (byteOrder) {
    const order = new TextDecoder().decode(await readZipEntry(source, byteOrder, file)).trim();
    if (order !== 'little') throw new CheckpointError(file, `storages are stored in "${order}" byte order; only little-endian is supported`);
  }

  const records = new Map<string, StorageRecord>();
  const storages: TorchStorage[] = [];
  const root = unpickle(await readZipEntry(source, entries.get(pickleNames[0]!)!, file), {
    fileLabel: file,
    persistentLoad: storageLoader(file, records, storages),
  });
  for (const record of records.values()) {
    const entry = entries.get(`${prefix}data/${record.key}`);
    if (!entry) throw new CheckpointError(file, `storage record "${prefix}data/${record.key}" is missing from the archive`, CORRUPT_HINT);
    record.bytes = await readZipEntry(source, entry, file);
  }
  checkStorageSizes(file, records, storages);
  return root;
}

interface ZipEntry {
  name: string;
  method: number;
  flags: number;
  compressedBytes: number;
  uncompressedBytes: number;
  localHeaderOffset: number;
}

const ZIP_END_MAGIC = 0x06054b50;
const ZIP64_LOCATOR_MAGIC = 0x07064b50;
const ZIP64_END_MAGIC = 0x06064b50;
const ZIP_CENTRAL_MAGIC = 0x02014b50;
const ZIP_END_BYTES = 22;
const ZIP_MAX_COMMENT_BYTES = 0xffff;
/** A checkpoint's directory is a few KB per thousand tensors; anything near this is corrupt. */
const ZIP_MAX_DIRECTORY_BYTES = 256 << 20;
const METHOD_STORED = 0;
const METHOD_DEFLATE = 8;

/** Reads the zip central directory (zip64 included): entry name → where and how it is stored. */
async function readZipDirectory(source: ByteSource, file: string): Promise<Map<string, ZipEntry>> {
  const fail = (problem: string): never => {
    throw new CheckpointError(file, `zip archive: ${problem}`, CORRUPT_HINT);
  };
  const tailBytes = Math.min(source.size, ZIP_END_BYTES + ZIP_MAX_COMMENT_BYTES);
  const tailStart = source.size - tailBytes;
  const tail = await source.read(tailStart, tailBytes);
  const tailView = new DataView(tail.buffer, tail.byteOffset, tail.byteLength);
  let endAt = -1;
  for (let i = tailBytes - ZIP_END_BYTES; i >= 0 && endAt < 0; i--) {
    if (tailView.getUint32(i, true) === ZIP_END_MAGIC) endAt = i;
  }
  if (endAt < 0) fail('end-of-central-directory record not found (truncated download?)');

  let entryCount = tailView.getUint16(endAt + 10, true);
  let directoryBytes = tailView.getUint32(endAt + 12, true);
  let directoryOffset = tailView.getUint32(endAt + 16, true);
  if (entryCount === 0xffff || directoryBytes === 0xffffffff || directoryOffset === 0xffffffff) {
    // Zip64: a locator just before the end record points at the zip64 end record with 64-bit fields.
    const locatorAt = tailStart + endAt - 20;
    if (locatorAt < 0) fail('zip64 locator missing');
    const locator = dataView(await source.read(locatorAt, 20));
    if (locator.getUint32(0, true) !== ZIP64_LOCATOR_MAGIC) fail('zip64 locator missing');
    const end64At = safeNumber(locator.getBigUint64(8, true));
    if (end64At + 56 > source.size) fail('zip64 end record lies outside the file');
    const end64 = dataView(await source.read(end64At, 56));
    if (end64.getUint32(0, true) !== ZIP64_END_MAGIC) fail('zip64 end record missing');
    entryCount = safeNumber(end64.getBigUint64(32, true));
    directoryBytes = safeNumber(end64.getBigUint64(40, true));
    directoryOffset = safeNumber(end64.getBigUint64(48, true));
  }
  if (directoryOffset + directoryBytes > source.size || directoryBytes > ZIP_MAX_DIRECTORY_BYTES) {
    fail(`central directory [${directoryOffset}, +${directoryBytes}) lies outside the ${source.size}-byte file`);
  }

  const directory = await source.read(directoryOffset, directoryBytes);
  const view = dataView(directory);
  const decoder = new TextDecoder();
  const entries = new Map<string, ZipEntry>();
  let at = 0;
  for (let i = 0; i < entryCount; i++) {
    if (at + 46 > directoryBytes || view.getUint32(at, true) !== ZIP_CENTRAL_MAGIC) fail(`central directory entry ${i} is damaged`);
    const nameBytes = view.getUint16(at + 28, true);
    const extraBytes = view.getUint16(at + 30, true);
    const commentBytes = view.getUint16(at + 32, true);
    const next = at + 46 + nameBytes + extraBytes + commentBytes;
    if (next > directoryBytes) fail(`central directory entry ${i} is damaged`);
    const entry: ZipEntry = {
      name: decoder.decode(directory.subarray(at + 46, at + 46 + nameBytes)),
      flags: view.getUint16(at + 8, true),
      method: view.getUint16(at + 10, true),
      compressedBytes: view.getUint32(at + 20, true),
      uncompressedBytes: view.getUint32(at + 24, true),
      localHeaderOffset: view.getUint32(at + 42, true),
    };
    applyZip64Extra(entry, directory.subarray(at + 46 + nameBytes, at + 46 + nameBytes + extraBytes));
    entries.set(entry.name, entry);
    at = next;
  }
  return entries;
}

/** Zip64 "extended information" extra field: 64-bit values for the 32-bit fields that hold 0xffffffff. */
function applyZip64Extra(entry: ZipEntry, extra: Uint8Array): void {
  const view = dataView(extra);
  for (let at = 0; at + 4 <= extra.byteLength; ) {
    const id = view.getUint16(at, true);
    const length = view.getUint16(at + 2, true);
    if (id === 0x0001) {
      let field = at + 4;
      const end = Math.min(at + 4 + length, extra.byteLength);
      const next64 = (current: number): number => {
        if (current !== 0xffffffff || field + 8 > end) return current;
        field += 8;
        return safeNumber(view.getBigUint64(field - 8, true));
      };
      entry.uncompressedBytes = next64(entry.uncompressedBytes);
      entry.compressedBytes = next64(entry.compressedBytes);
      entry.localHeaderOffset = next64(entry.localHeaderOffset);
      return;
    }
    at += 4 + length;
  }
}

async function readZipEntry(source: ByteSource, entry: ZipEntry, file: string): Promise<Uint8Array> {
  const fail = (problem: string): never => {
    throw new CheckpointError(file, `zip entry "${entry.name}": ${problem}`, CORRUPT_HINT);
  };
  if (entry.flags & 0x1) fail('is encrypted');
  if (entry.localHeaderOffset + 30 > source.size) fail('local header lies outside the file');
  const local = dataView(await source.read(entry.localHeaderOffset, 30));
  if (local.getUint32(0, true) !== ZIP_LOCAL_MAGIC) fail('local header is damaged');
  const dataStart = entry.localHeaderOffset + 30 + local.getUint16(26, true) + local.getUint16(28, true);
  if (dataStart + entry.compressedBytes > source.size) fail('data lies outside the file (truncated download?)');
  if (entry.uncompressedBytes > MAX_ARRAY_BYTES) fail(`${entry.uncompressedBytes} bytes is more than Node can hold in one array`);

  const stored = await source.read(dataStart, entry.compressedBytes);
  if (entry.method === METHOD_STORED) {
    if (entry.compressedBytes !== entry.uncompressedBytes) fail('stored entry has different compressed and uncompressed sizes');
    return stored;
  }
  if (entry.method !== METHOD_DEFLATE) fail(`compression method ${entry.method} is not supported (only stored and deflate)`);
  let inflated: Buffer;
  try {
    // The output cap makes a zip bomb fail fast instead of exhausting memory.
    inflated = inflateRawSync(stored, { maxOutputLength: Math.max(1, entry.uncompressedBytes) });
  } catch (error) {
    return fail(`cannot be inflated (${(error as Error).message})`);
  }
  if (inflated.byteLength !== entry.uncompressedBytes) fail(`inflates to ${inflated.byteLength} bytes, expected ${entry.uncompressedBytes}`);
  return new Uint8Array(inflated.buffer, inflated.byteOffset, inflated.byteLength);
}

// --- legacy format (torch < 1.6): pickles for magic, protocol, sys_info, the object and the storage
// --- keys, then each storage in key order as an 8-byte element count and its raw bytes.

const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;
const LEGACY_PROTOCOL = 1001;

async function readLegacyCheckpoint(source: ByteSource, file: string): Promise<PickleValue> {
  if (source.size > MAX_ARRAY_BYTES) {
    throw new CheckpointError(file, `legacy-format checkpoint of ${source.size} bytes is too large to load`, 'Re-save it with a current torch.save.');
  }
  const bytes = await source.read(0, source.size);
  const fileLabel = file;
  const magic = unpickleAt(bytes, 0, { fileLabel });
  if (magic.value !== LEGACY_MAGIC) throw new CheckpointError(file, 'legacy checkpoint has the wrong magic number', CORRUPT_HINT);
  const protocol = unpickleAt(bytes, magic.end, { fileLabel });
  if (protocol.value !== LEGACY_PROTOCOL) {
    throw new CheckpointError(file, `legacy checkpoint has protocol version ${describe(protocol.value)}, expected ${LEGACY_PROTOCOL}`);
  }
  const sysInfo = unpickleAt(bytes, protocol.end, { fileLabel });
  if (sysInfo.value instanceof Map && sysInfo.value.get('little_endian') === false) {
    throw new CheckpointError(file, 'legacy checkpoint was written on a big-endian machine; only little-endian is supported');
  }

  const records = new Map<string, StorageRecord>();
  const storages: TorchStorage[] = [];
  const main = unpickleAt(bytes, sysInfo.end, { fileLabel, persistentLoad: storageLoader(file, records, storages) });
  const keys = unpickleAt(bytes, main.end, { fileLabel });
  if (!Array.isArray(keys.value)) throw new CheckpointError(file, `storage key list is ${describe(keys.value)}`, CORRUPT_HINT);

  // A record's size is fixed by its root storage (the one without view metadata).
  const rootStorages = new Map(storages.filter((s) => s.elementOffset === 0).map((s) => [s.record.key, s]));
  let at = keys.end;
  for (const key of keys.value) {
    const root = typeof key === 'string' ? rootStorages.get(key) : undefined;
    if (!root) throw new CheckpointError(file, `storage key ${describe(key)} is listed but no tensor uses it`, CORRUPT_HINT);
    if (at + 8 > bytes.byteLength) throw new CheckpointError(file, `data of storage "${root.record.key}" is missing (truncated file?)`, CORRUPT_HINT);
    const elementCount = dataView(bytes.subarray(at, at + 8)).getBigInt64(0, true);
    if (elementCount !== BigInt(root.elementCount)) {
      throw new CheckpointError(file, `storage "${root.record.key}" has ${elementCount} elements on disk, expected ${root.elementCount}`, CORRUPT_HINT);
    }
    const end = at + 8 + root.elementCount * ST_DTYPE_BYTES[root.dtype];
    if (end > bytes.byteLength) throw new CheckpointError(file, `data of storage "${root.record.key}" is cut short (truncated file?)`, CORRUPT_HINT);
    root.record.bytes = bytes.subarray(at + 8, end);
    at = end;
  }
  checkStorageSizes(file, records, storages);
  return main.value;
}

function dataView(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Zip offsets beyond 2^53 cannot address a real file; treating them as huge makes range checks fail. */
function safeNumber(value: bigint): number {
  return value > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(value);
}
