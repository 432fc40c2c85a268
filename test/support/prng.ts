// Seeded uniform generators shared by the tests, so a failing case replays exactly from its seed.
// Two algorithms are kept on purpose: each test's tolerances were set on the stream it always had.

/**
 * mulberry32: uniform in [0, 1) from a 32-bit seed. Tiny, fast, and good enough to draw test data
 * and to pick fuzzing bytes and positions (io and eval tests).
 */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A 32-bit linear congruential generator (Numerical Recipes constants): uniform in [0, 1). The
 * graph op tests draw their parameters from it; their finite-difference tolerances assume this stream.
 */
export function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** An integer in [0, n) drawn from `random`. */
export function randomInt(random: () => number, n: number): number {
  return Math.floor(random() * n);
}
