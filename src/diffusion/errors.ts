// Typed errors for the diffusion module: bad sampler/schedule settings and arrays of the wrong size.
// Callers (pipeline, CLI) can tell a configuration mistake from a shape mismatch by class.

/** A schedule, spacing, plan or sampler option is out of range or inconsistent. */
export class DiffusionConfigError extends Error {
  override name = 'DiffusionConfigError';
}

/** A tensor handed to a sampler or guidance helper has the wrong length or shape. */
export class DiffusionShapeError extends Error {
  override name = 'DiffusionShapeError';
}

export function checkSameLength(what: string, expected: number, actual: number): void {
  if (expected !== actual) {
    throw new DiffusionShapeError(`${what}: expected ${expected} values (same size as x), got ${actual}`);
  }
}

export function checkStepIndex(what: string, stepIndex: number, steps: number): void {
  if (!Number.isInteger(stepIndex) || stepIndex < 0 || stepIndex >= steps) {
    throw new DiffusionConfigError(`${what}: stepIndex must be an integer in [0, ${steps - 1}], got ${stepIndex}`);
  }
}
