// Helpers for the families' output-size rules (atSize): the valid values nearest a refused one, so an error
// can say what would work instead.

/** The positive multiples of `step` nearest `v` (one below and one above, or the one when `v` is below `step`). */
export function nearestMultiples(v: number, step: number): number[] {
  const below = Math.floor(v / step) * step;
  const above = Math.ceil(v / step) * step;
  return [...new Set([below, above].filter((x) => x >= step))].sort((a, b) => a - b);
}

/** The values of the form `step`·k + `offset` (k ≥ 0) nearest `v`. */
export function nearestOffsetMultiples(v: number, step: number, offset: number): number[] {
  return [...new Set(nearestMultiples(v - offset + step, step).map((x) => x - step + offset))].filter((x) => x >= offset);
}

/** "a or b" for a message. */
export function orList(values: readonly number[]): string {
  return values.length > 1 ? `${values.slice(0, -1).join(', ')} or ${values.at(-1)}` : String(values[0]);
}
