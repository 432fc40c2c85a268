// Where a benchmark ran: CPU model, cores, memory, Node/ORT versions and the git commit of the tree,
// recorded with every result file so timings are never compared across machines by accident.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface MachineInfo {
  readonly cpuModel: string;
  /** Logical cores the OS reports. */
  readonly cores: number;
  /** Cores this process may use (cgroup/affinity aware). */
  readonly availableParallelism: number;
  readonly memoryBytes: number;
  readonly platform: string;
  readonly node: string;
  readonly onnxruntime: string | null;
  readonly hostname: string;
}

function packageVersion(root: string, name: string): string | null {
  try {
    const j = JSON.parse(fs.readFileSync(path.join(root, 'node_modules', name, 'package.json'), 'utf8')) as { version?: string };
    return j.version ?? null;
  } catch {
    return null;
  }
}

export function machineInfo(packageRoot: string): MachineInfo {
  const cpus = os.cpus();
  return {
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    availableParallelism: os.availableParallelism(),
    memoryBytes: os.totalmem(),
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    node: process.version,
    onnxruntime: packageVersion(packageRoot, 'onnxruntime-node'),
    hostname: os.hostname(),
  };
}

export interface GitInfo {
  /** HEAD commit, or null outside a git checkout / without git. */
  readonly commit: string | null;
  /** Whether tracked files differ from HEAD (results may not match the commit exactly). */
  readonly dirty: boolean | null;
}

export function gitInfo(dir: string): GitInfo {
  const git = (args: string[]): string => execFileSync('git', args, { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 10_000 });
  try {
    const commit = git(['rev-parse', 'HEAD']).trim();
    let dirty: boolean | null = null;
    try {
      dirty = git(['status', '--porcelain', '--untracked-files=no']).trim().length > 0;
    } catch {
      dirty = null;
    }
    return { commit, dirty };
  } catch {
    return { commit: null, dirty: null };
  }
}

/** One line for reports: "AMD EPYC (2 cores), 8 GiB, linux …". */
export function machineLine(m: MachineInfo): string {
  return `${m.cpuModel} (${m.cores} cores, ${m.availableParallelism} available), ${(m.memoryBytes / 2 ** 30).toFixed(1)} GiB, ${m.platform}, Node ${m.node}, onnxruntime-node ${m.onnxruntime ?? '?'}`;
}
