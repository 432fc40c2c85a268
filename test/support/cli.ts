// Runs the `tcpade` CLI from source (through tsx) in a child process and captures its result, and
// makes a tiny random-weights model folder for command tests.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { namedConfig } from '../../src/models/dit/dit-config.js';
import { randomDiTWeights } from '../../src/models/dit/random-weights.js';
import { exportModel } from '../../src/train/trainer.js';

const run = promisify(execFile);
export const repoRoot = path.join(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export async function tcpade(...args: string[]): Promise<CliResult> {
  try {
    const r = await run(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'src/cli/main.ts'), ...args], { cwd: repoRoot });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const x = e as CliResult;
    return { code: x.code, stdout: x.stdout, stderr: x.stderr };
  }
}

/** A `mnist-dit-tiny` model folder with seeded random weights and the given objective. */
export function writeTinyModel(dir: string, seed: number, objective: 'eps' | 'flow' = 'eps'): string {
  const c = namedConfig('mnist-dit-tiny');
  exportModel(dir, c, randomDiTWeights(c, seed), { objective });
  return dir;
}
