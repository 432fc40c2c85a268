// A look at each step's input x_t without touching the pipeline: the model is wrapped so that the step's
// first session call on every row — `embed` (block-level caching and full compute) or `forward` (output-level
// caching on a step every row computes) — hands its input to `onInput` first. Steps that call neither (every
// row forecast by a history-only method, or an output-level method predicting some rows) are not seen; the
// page then keeps the last picture. Nothing the model returns is changed.
import type { Denoiser } from '../../../src/models/denoiser.js';

/** `onInput(x, rows)`: x is [rows, …latentShape], rows = the batch's CFG branches × samples when every row is fed. */
export function tapStepInputs(model: Denoiser, onInput: (x: Float32Array, rows: number) => void): Denoiser {
  return new Proxy(model, {
    get(target, prop) {
      if (prop === 'embed' || prop === 'forward') {
        const f = Reflect.get(target, prop, target) as (x: Float32Array, shape: readonly number[], ...rest: unknown[]) => Promise<unknown>;
        return (x: Float32Array, shape: readonly number[], ...rest: unknown[]) => {
          onInput(x, shape[0]);
          return f.call(target, x, shape, ...rest);
        };
      }
      // getters (compileMs) read the model itself; methods stay bound to it
      const v = Reflect.get(target, prop, target);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}
