// Tensors of the reference interpreter: float64 data for every dtype (int64 values stay exact below
// 2^53), row-major, concrete shapes. Float64 makes finite-difference gradient checks meaningful.
import { DType } from './ir.js';
import { numel } from './dims.js';

export interface RefTensor {
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly data: Float64Array;
}

export function refTensor(dtype: DType, shape: readonly number[], data?: ArrayLike<number>): RefTensor {
  const n = numel(shape);
  const buf = new Float64Array(n);
  if (data) {
    if (data.length !== n) throw new Error(`refTensor: ${data.length} values for shape [${shape.join(', ')}] (${n} expected)`);
    buf.set(data);
  }
  return { dtype, shape: [...shape], data: buf };
}

export function strides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

/** Index map for reading `src` broadcast to `outShape` (NumPy rules): out flat index → src flat index. */
export function broadcastIndex(srcShape: readonly number[], outShape: readonly number[]): Int32Array {
  const n = numel(outShape);
  const map = new Int32Array(n);
  const rank = outShape.length;
  const off = rank - srcShape.length;
  const srcStr = strides(srcShape);
  const bstr = outShape.map((_, i) => (i < off || srcShape[i - off] === 1 ? 0 : srcStr[i - off]));
  const idx = new Array<number>(rank).fill(0);
  for (let f = 0; f < n; f++) {
    let s = 0;
    for (let i = 0; i < rank; i++) s += idx[i] * bstr[i];
    map[f] = s;
    for (let i = rank - 1; i >= 0; i--) {
      if (++idx[i] < outShape[i]) break;
      idx[i] = 0;
    }
  }
  return map;
}

/** Normalises a possibly negative axis against a rank. */
export function normAxis(axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) throw new Error(`axis ${axis} out of range for rank ${rank}`);
  return a;
}
