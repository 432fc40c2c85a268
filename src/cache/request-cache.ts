// One request's cache state: a SampleCache per (branch name, sample index), all created from this
// request's schedule. Dropped with the request; nothing survives into the next one.

import { CacheUsageError, type CacheMethod, type SampleCache } from './contract.js';

export interface RequestSchedule {
  readonly totalSteps: number;
  /** Trajectory coordinate per step (DDPM: t/1000, flow: sigma), strictly monotone. */
  readonly taus: readonly number[];
  /** Sections the pipeline cuts (per-block: the block ranges, else 1). */
  readonly sections: number;
  /** Per-block: the blocks [from, to) of each section (absent: section i is block i). */
  readonly sectionBlocks?: readonly (readonly [number, number])[];
}

export interface RequestCache {
  readonly method: CacheMethod;
  readonly branches: readonly string[];
  readonly batchSize: number;
  get(branch: string, sampleIndex: number): SampleCache;
  /** Sum over every branch and sample. */
  bytesHeld(): number;
}

export function createRequestCache(
  method: CacheMethod,
  schedule: RequestSchedule,
  branches: readonly string[],
  batchSize: number,
): RequestCache {
  if (branches.length === 0) throw new CacheUsageError(`request cache (${method.name}): at least one branch name is needed (e.g. ['cond', 'uncond'])`);
  if (new Set(branches).size !== branches.length) {
    throw new CacheUsageError(`request cache (${method.name}): branch names must be distinct, got ${branches.join(', ')}`);
  }
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new CacheUsageError(`request cache (${method.name}): batchSize must be a positive integer, got ${batchSize}`);
  }
  const taus = Object.freeze([...schedule.taus]);
  const caches = new Map<string, SampleCache[]>();
  for (const branch of branches) {
    caches.set(
      branch,
      Array.from({ length: batchSize }, (_, sampleIndex) =>
        method.createSampleCache({
          totalSteps: schedule.totalSteps,
          taus,
          branch,
          sampleIndex,
          sections: schedule.sections,
          ...(schedule.sectionBlocks ? { sectionBlocks: schedule.sectionBlocks } : {}),
        }),
      ),
    );
  }
  const frozenBranches = Object.freeze([...branches]);
  return {
    method,
    branches: frozenBranches,
    batchSize,
    get(branch, sampleIndex) {
      const list = caches.get(branch);
      if (list === undefined) throw new CacheUsageError(`request cache: unknown branch '${branch}'; this request has ${frozenBranches.join(', ')}`);
      const c = list[sampleIndex];
      if (c === undefined) throw new CacheUsageError(`request cache: sample index ${sampleIndex} out of range [0, ${batchSize - 1}] for branch '${branch}'`);
      return c;
    },
    bytesHeld() {
      let bytes = 0;
      for (const list of caches.values()) for (const c of list) bytes += c.bytesHeld();
      return bytes;
    },
  };
}
