// A bounded newest-first history of per-step vectors (residuals or raw outputs) of one section of one
// sample, with the step index and trajectory coordinate of each; buffers are recycled, never shared.

import { CacheUsageError } from './contract.js';
import { kernels } from './simd/kernels.js';
import { subInto } from './vec.js';

export interface HistoryEntry {
  readonly stepIndex: number;
  /** Trajectory coordinate (tau) of the step this value belongs to. */
  readonly tau: number;
  readonly data: Float32Array;
}

interface MutableEntry {
  stepIndex: number;
  tau: number;
  data: Float32Array;
}

export class ValueHistory {
  private readonly entries: MutableEntry[] = []; // newest first

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new CacheUsageError(`ValueHistory: capacity must be a positive integer, got ${capacity}`);
    }
  }

  get length(): number {
    return this.entries.length;
  }

  /** k = 0 is the newest entry. */
  at(k: number): HistoryEntry {
    const e = this.entries[k];
    if (e === undefined) throw new CacheUsageError(`ValueHistory: entry ${k} requested, only ${this.entries.length} held`);
    return e;
  }

  /**
   * Push a new newest entry of `length` elements filled by `fill(buffer)`; the oldest entry beyond
   * capacity is dropped and its buffer reused.
   */
  push(stepIndex: number, tau: number, length: number, fill: (buffer: Float32Array) => void): HistoryEntry {
    if (this.entries.length > 0 && this.entries[0].data.length !== length) {
      throw new CacheUsageError(
        `ValueHistory: element count changed from ${this.entries[0].data.length} to ${length} within one sample`,
      );
    }
    let buffer: Float32Array;
    if (this.entries.length >= this.capacity) buffer = this.entries.pop()!.data;
    else buffer = new Float32Array(length);
    fill(buffer);
    const entry: MutableEntry = { stepIndex, tau, data: buffer };
    this.entries.unshift(entry);
    return entry;
  }

  /**
   * Take `buffer` itself as the newest entry (no copy) and hand back a buffer of the same length the
   * caller may overwrite: the dropped oldest entry's, or a new one while below capacity.
   */
  pushAdopt(stepIndex: number, tau: number, buffer: Float32Array): Float32Array {
    let spare: Float32Array | null = null;
    const entry = this.push(stepIndex, tau, buffer.length, (b) => (spare = b)) as MutableEntry;
    entry.data = buffer;
    return spare!;
  }

  /** Copy `src` in as the newest entry. */
  pushCopy(stepIndex: number, tau: number, src: Float32Array): HistoryEntry {
    return this.push(stepIndex, tau, src.length, (b) => b.set(src));
  }

  /** pushCopy, returning whether the stored copy is finite. */
  pushCopyChecked(stepIndex: number, tau: number, src: Float32Array): boolean {
    return kernels.allFinite(this.pushCopy(stepIndex, tau, src).data);
  }

  /** Store `output − input` as the newest entry (a section's residual). */
  pushResidual(stepIndex: number, tau: number, input: Float32Array, output: Float32Array): HistoryEntry {
    return this.pushDifference(stepIndex, tau, input, output, (b) => subInto(b, output, input));
  }

  /** pushResidual, returning whether the stored residual is finite (checked as it is made, no extra read). */
  pushResidualChecked(stepIndex: number, tau: number, input: Float32Array, output: Float32Array): boolean {
    let finite = false;
    this.pushDifference(stepIndex, tau, input, output, (b) => (finite = kernels.subCheckedInto(b, output, input)));
    return finite;
  }

  private pushDifference(stepIndex: number, tau: number, input: Float32Array, output: Float32Array, fill: (b: Float32Array) => void): HistoryEntry {
    if (input.length !== output.length) {
      throw new CacheUsageError(`residual: input has ${input.length} elements, output ${output.length}; a residual needs equal shapes`);
    }
    return this.push(stepIndex, tau, input.length, fill);
  }

  bytesHeld(): number {
    let bytes = 0;
    for (const e of this.entries) bytes += e.data.byteLength;
    return bytes;
  }
}
