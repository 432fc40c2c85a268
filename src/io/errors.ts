// The one error type for unreadable or unwritable checkpoint files (safetensors, torch pickles).
// Its message always names the file and the problem, so a user can tell which download is broken.

/** A checkpoint file is malformed, unsupported or unsafe. Message: `<file>: <problem>. <hint>`. */
export class CheckpointError extends Error {
  override readonly name = 'CheckpointError';
  /** The path (or label) of the offending file. */
  readonly file: string;
  /** What is wrong, without the file name or hint. */
  readonly problem: string;
  /** What the user can do about it, if anything useful can be said. */
  readonly hint: string | undefined;

  constructor(file: string, problem: string, hint?: string) {
    const sentence = /[.!?]$/.test(problem) ? problem : `${problem}.`;
    super(hint ? `${file}: ${sentence} ${hint}` : `${file}: ${sentence}`);
    this.file = file;
    this.problem = problem;
    this.hint = hint;
  }
}
