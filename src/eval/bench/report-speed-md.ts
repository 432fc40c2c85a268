// The report's sections for speed-only (synthetic, random-weight) models: why there are no quality columns,
// per step count the wall speedup against the ideal 1 / block compute and the per-step time split, the
// decoder's time per sample beside it, and whether ours reaches its share of the ideal.
import { finite, isOurs } from './compare.js';
import type { BenchFile, ModelRecord, SpeedRow, StepSplitMs } from './rows.js';

/** Share of its ideal speedup TC-Padé should reach where the blocks are nearly all of a step (DiT-XL). */
export const OURS_IDEAL_SHARE_TARGET = 0.95;

const dash = '—';
const f = (x: number | null | undefined, digits: number): string => (finite(x) ? x.toFixed(digits) : dash);
const pct = (x: number | null | undefined, digits = 1): string => (finite(x) ? `${(100 * x).toFixed(digits)} %` : dash);

const plural = (n: number, what: string): string => `${n} ${what}${n === 1 ? '' : 's'}`;

const SPLIT_KEYS: readonly (keyof StepSplitMs)[] = ['embed', 'blocks', 'head', 'signal', 'cache', 'sampler', 'other', 'total'];

const HEADER =
  '| method | block compute | ideal | wall speedup [min–max] | speedup / ideal | CPU-time speedup (÷ ideal) | embed | blocks | head | signal | cache | sampler | other | step ms | discarded runs | load start–end |\n' +
  '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|';

function methodCell(r: SpeedRow): string {
  const name = r.method === 'fewer-steps' ? `fewer-steps (${r.stepsRun} of ${r.steps})` : `${r.method}/${r.preset}`;
  return isOurs(r) ? `**${name}**` : name;
}

function speedupCell(r: SpeedRow): string {
  const s = r.timing.speedup;
  if (!finite(r.speedupWall)) return dash;
  return finite(s.min) && finite(s.max) ? `${r.speedupWall.toFixed(2)}× [${s.min.toFixed(2)}–${s.max.toFixed(2)}]` : `${r.speedupWall.toFixed(2)}×`;
}

/** ms with one decimal under 100 ms, whole ms above (a DiT-XL step is seconds, its sampler update < 1 ms). */
function ms(x: number): string {
  return !finite(x) ? dash : Math.abs(x) >= 100 ? x.toFixed(0) : x.toFixed(Math.abs(x) >= 1 ? 1 : 2);
}

function line(r: SpeedRow): string {
  const split = SPLIT_KEYS.map((k) => ms(r.split[k])).join(' | ');
  const cpu = r.cpuTiming ? `${f(r.cpuTiming.speedup.median, 2)}× (${f(r.cpuSpeedupOverIdeal, 3)})` : dash;
  return `| ${methodCell(r)} | ${pct(r.blockComputeRatio)} | ${f(r.idealSpeedup, 2)}× | ${speedupCell(r)} | ${f(r.speedupOverIdeal, 3)} | ${cpu} | ${split} | ${r.warmupRuns} | ${f(r.loadAverage?.start, 1)}–${f(r.loadAverage?.end, 1)} |`;
}

/** Row order of a group: none, the cache methods as measured, fewer-steps last. */
function ordered(group: readonly SpeedRow[]): SpeedRow[] {
  const rank = (r: SpeedRow): number => (r.method === 'none' ? 0 : r.method === 'fewer-steps' ? 2 : 1);
  return [...group].sort((a, b) => rank(a) - rank(b));
}

/** Per TC-Padé row: its share of the ideal speedup against the target. */
function oursLines(rows: readonly SpeedRow[]): string[] {
  const tc = rows.filter((r) => r.method === 'tcpade').sort((a, b) => a.steps - b.steps);
  return tc.map((r) => {
    const ok = finite(r.speedupOverIdeal) && r.speedupOverIdeal >= OURS_IDEAL_SHARE_TARGET;
    const who = isOurs(r) ? 'ours' : r.preset.startsWith('paper') ? "the paper's rule" : 'released-code rule';
    const cpu = finite(r.cpuSpeedupOverIdeal) ? `; in CPU time ${f(r.cpuSpeedupOverIdeal, 3)}` : '';
    return `- \`tcpade/${r.preset}\` (${who}) @ ${r.steps} steps: ${f(r.speedupWall, 2)}× of an ideal ${f(r.idealSpeedup, 2)}× = **${f(r.speedupOverIdeal, 3)}** of its ideal (≥ ${OURS_IDEAL_SHARE_TARGET}: ${ok ? 'met' : '**not met**'})${cpu}.`;
  });
}

function decoderLine(m: ModelRecord): string | undefined {
  const d = m.decoder;
  if (!d) return undefined;
  const s = d.msPerSample;
  return (
    `- **VAE decode** (${d.description}): **${ms(s.median)} ms per sample** (median of ${d.runsMs.length} decodes [${ms(s.min)}–${ms(s.max)}], ${d.threads} threads; the first decode, which also built the graph, took ${ms(d.firstRunMs)} ms). ` +
    'It is not part of any sampling wall time below: a latent pipeline adds it once per sample after the last step, whatever the cache method.'
  );
}

export function renderSpeedSections(data: BenchFile): string[] {
  const out: string[] = [];
  const rows = data.speedRows ?? [];
  const speedModels = Object.values(data.models).filter((m) => m.speedOnly);
  for (const m of speedModels) {
    const mine = rows.filter((r) => r.model === m.name);
    const any = mine[0];
    out.push(`## ${m.name}: speed at scale (random weights — speed only)`);
    out.push('');
    out.push(`- **Model**: ${m.speedOnly!.architecture}; \`${m.path}\`, ${m.objective} objective, ${m.sampler}.`);
    out.push(`- **Weights**: ${m.speedOnly!.weights}.`);
    out.push(
      '- **No quality columns**: FID, class accuracy and PSNR/SSIM against the full run say how well a cache keeps a trained model\'s images; these samples are noise, so they are not measured. ' +
        "Adaptive methods (TeaCache, FBCache, TC-Padé's gates) decide from this random model's own signals, so their block compute is not what they would compute on a trained model of this shape — " +
        'what carries over is how close the wall speedup comes to the ideal 1 / block compute at this size.',
    );
    if (any) {
      out.push(
        `- **Speed**: ${plural(any.samples, 'sample')} per run with CFG scale ${any.cfgScale} (${any.modelRows} model rows per step), ${plural(any.threads, 'ORT thread')}. Full runs are shared along one chain (full, method₁, full, method₂, full, …): ` +
          'each method run is paired with the full run just before it and the one just after it (order alternating, as the bench\'s pairs), speedup = full wall / method wall per pair, median [min–max]; `none` pairs consecutive full runs, so its spread is the run-to-run noise of a full run — a speedup / ideal a little above 1 is that noise, not a method beating its ideal. ' +
          `Before its timed runs each cache method ran ${Math.max(...mine.map((r) => r.warmSteps))} steps untimed (its graphs are built and used once); a timed run that still compiled a graph was thrown away and run again ("discarded runs").`,
      );
    }
    out.push(`- **Split**: ms per sampled step of the row's own runs (\`none\`: the full runs), median per phase — embed, blocks, head, signal (TeaCache's modulated input, FBCache's first block), cache (bookkeeping and prediction), sampler (guidance and update), other (what no phase clock saw); step ms is the whole wall time per step.`);
    out.push(
      "- **CPU-time speedup**: the same pairs in this process's CPU time (all threads, user + system) instead of wall time. Work of other processes on the cores stretches wall time but hardly CPU time, so where the two disagree the machine was busy and the CPU-time column is the better guide to what the method saves.",
    );
    out.push(`- **Load**: the machine's 1-minute load average when each row started and ended; this run alone adds about its thread count, more means other work shared the cores (the interleaved pairs spread it over both sides, but the spread widens).`);
    out.push(`- **TeaCache coefficients**: ${m.teacache.detail}.`);
    const dec = decoderLine(m);
    if (dec) out.push(dec);
    out.push('');
    const steps = [...new Set(mine.map((r) => r.steps))].sort((a, b) => a - b);
    for (const s of steps) {
      const group = ordered(mine.filter((r) => r.steps === s));
      const full = group.find((r) => r.method === 'none');
      out.push(`### ${m.name} @ ${s} steps (${group[0].sampler})`);
      out.push('');
      if (full) {
        const fullWallMs = full.split.total * full.stepsRun;
        const vae = m.decoder ? ` The VAE decode of its ${plural(full.samples, 'sample')} would add ${pct((m.decoder.msPerSample.median * full.samples) / fullWallMs)} to the full run's wall time, outside every cache's reach.` : '';
        out.push(`Full run: ${ms(full.split.total)} ms per step, blocks ${pct(full.blocksShare)} of it; run-to-run spread of consecutive full runs ${speedupCell(full)}.${vae}`, '');
      }
      out.push(HEADER);
      for (const r of group) out.push(line(r));
      out.push('');
    }
    const ours = oursLines(mine);
    if (ours.length) {
      out.push(`TC-Padé against its ideal (target: ≥ ${OURS_IDEAL_SHARE_TARGET} where the blocks are ~99 % of a step):`, '', ...ours, '');
    }
  }
  return out;
}
