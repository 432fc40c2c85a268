// The restricted unpickler behind torch checkpoint loading: decodes pickle opcodes without executing
// code, knows only the allow-listed globals a state dict needs (tensors, storages) and refuses all others.

import { CheckpointError } from './errors.js';
import { ST_DTYPE_BYTES, type StDType, type StTensor } from './safetensors.js';

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

/** Every pickle of protocol 2 or newer (all torch.save output) starts with this opcode. */
export const PICKLE_PROTO_OPCODE = OP.PROTO;

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
    if (!(callable instanceof PickleGlobal)) return this.fail(`REDUCE expects a global to call, got ${describeValue(callable)}`);
    switch (callable.kind) {
      case 'ordered-dict':
        return this.instantiate(callable, args);
      case 'rebuild-tensor': // (storage, storage_offset, size, stride, requires_grad?, hooks?, metadata?)
        return this.rebuildTensor(args);
      case 'rebuild-parameter': { // (data, requires_grad, hooks[, state]): a Parameter is its data
        const data = args[0];
        if (!(data instanceof TorchTensor)) return this.fail(`${callable.qualifiedName} expects a tensor, got ${describeValue(data)}`);
        return data;
      }
      case 'rebuild-from-type': { // (func, type, args, state): tensor subclasses of plain tensors
        const [func, type, innerArgs] = args;
        if (!(type instanceof PickleGlobal) || type.kind !== 'tensor-class') {
          return this.fail(`${callable.qualifiedName} may only rebuild torch.Tensor or Parameter, got ${describeValue(type)}`);
        }
        // Only the tensor rebuilders may be nested, so a self-referencing argument list cannot recurse.
        if (!(func instanceof PickleGlobal) || (func.kind !== 'rebuild-tensor' && func.kind !== 'rebuild-parameter')) {
          return this.fail(`${callable.qualifiedName} expects a tensor rebuild function, got ${describeValue(func)}`);
        }
        return this.call(func, this.list(innerArgs ?? null));
      }
      case 'namespace':
        return this.instantiate(callable, args);
      case 'codecs-encode': {
        const [text, encoding] = args;
        if (typeof text !== 'string' || (encoding !== 'latin1' && encoding !== 'latin-1')) {
          return this.fail(`_codecs.encode is only supported for latin1 text, got (${describeValue(text)}, ${describeValue(encoding)})`);
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
          if (items.length !== 2) this.fail(`OrderedDict expects (key, value) pairs, got ${describeValue(pair)}`);
          this.setItems(dict, items);
        }
      }
      return dict;
    }
    if (cls instanceof PickleGlobal && cls.kind === 'namespace') return new PickleObject(cls.qualifiedName, args);
    return this.fail(`cannot instantiate ${describeValue(cls)}`);
  }

  /** BUILD: apply `state` to `target`. Attributes of dicts and tensors (e.g. `_metadata`) are dropped. */
  private build(target: PickleValue, state: PickleValue): void {
    if (target instanceof PickleObject) target.state = state;
    else if (!(target instanceof Map) && !(target instanceof TorchTensor)) this.fail(`cannot BUILD ${describeValue(target)}`);
  }

  private rebuildTensor(args: PickleValue[]): TorchTensor {
    const [storage, storageOffset, shape, strides] = args;
    if (!(storage instanceof TorchStorage)) return this.fail(`tensor rebuild expects a storage, got ${describeValue(storage)}`);
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
    if (!Array.isArray(value)) return this.fail(`expected a list or tuple, got ${describeValue(value)}`);
    return value;
  }

  private dict(value: PickleValue): Map<PickleKey, PickleValue> {
    if (!(value instanceof Map)) return this.fail(`expected a dict, got ${describeValue(value)}`);
    return value;
  }

  /** Sets alternating key, value items. */
  private setItems(dict: Map<PickleKey, PickleValue>, items: PickleValue[]): void {
    if (items.length % 2 !== 0) this.fail('dict items come in an odd number');
    for (let i = 0; i < items.length; i += 2) {
      const key = items[i]!;
      const isKey = key === null || ['string', 'number', 'bigint', 'boolean'].includes(typeof key);
      if (!isKey) this.fail(`unsupported dict key: ${describeValue(key)}`);
      dict.set(key as PickleKey, items[i + 1]!);
    }
  }

  private count(value: PickleValue, what: string): number {
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
      return this.fail(`${what} is ${describeValue(value)}, expected a non-negative integer`);
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

/** The hint for every damaged-input error, shared by the zip and checkpoint readers. */
export const CORRUPT_HINT = 'The file is truncated, corrupt or not a PyTorch checkpoint.';

/** A short phrase naming a decoded value, for error messages. */
export function describeValue(value: PickleValue | undefined): string {
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
