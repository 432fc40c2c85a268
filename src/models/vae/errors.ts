// The error for a bad call into a loaded VAE (wrong tensor shape, channel count, dtype, tile options);
// problems with files on disk are CheckpointErrors instead.

/** A VAE was called with inputs or options it cannot use; the message says expected vs actual. */
export class VAEInputError extends Error {
  override readonly name = 'VAEInputError';
}
