// The tensor type of the public, family-neutral model API (loadDenoiser, loadVAE): a flat row-major
// array with its shape, as diffusers' tensors are passed in and out.
export interface Tensor {
  data: Float32Array | BigInt64Array;
  shape: number[];
}

/** Elements a shape holds. */
export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}
