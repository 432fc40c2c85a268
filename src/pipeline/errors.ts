// The pipeline's error for a request it cannot run as given (bad options, a method's block ranges).
export class GenerateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GenerateError';
  }
}
