// Numbers as the page shows them.

export function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return '–';
  return ms < 1000 ? `${ms.toFixed(0)} ms` : `${(ms / 1000).toFixed(2)} s`;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

export function formatPercent(x: number): string {
  return `${(100 * x).toFixed(1)} %`;
}

/** PSNR in dB; identical images are ∞. */
export function formatDb(x: number): string {
  return Number.isFinite(x) ? `${x.toFixed(1)} dB` : '∞ dB';
}

export function formatSignal(x: number): string {
  return Math.abs(x) >= 100 || (Math.abs(x) < 1e-3 && x !== 0) ? x.toExponential(2) : x.toFixed(4);
}
