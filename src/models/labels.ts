// Class labels by id or by name: `--classes "golden retriever,207"` against a model's label names
// (ImageNet's id2label lists synonyms per id, "tench, Tinca tinca"; any of them matches, case-insensitive).
import { ModelInputError, type ClassSpace } from './denoiser.js';

/** The synonyms of every label: "tench, Tinca tinca" → ["tench", "tinca tinca"]. */
function synonyms(names: readonly string[]): string[][] {
  return names.map((n) => n.split(',').map((s) => s.trim().toLowerCase()).filter((s) => s.length > 0));
}

/** Edit distance (insert, delete, substitute), for suggesting close names. */
function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length];
}

/** Up to `k` names closest to `query`: those containing it first, then by edit distance. */
export function closeLabelNames(query: string, names: readonly string[], k = 5): string[] {
  const q = query.trim().toLowerCase();
  const all = synonyms(names).flatMap((syn, id) => syn.map((s) => ({ s, id })));
  const scored = all.map(({ s, id }) => ({ text: `${s} (${id})`, score: s.includes(q) || q.includes(s) ? -1 : editDistance(q, s) }));
  scored.sort((a, b) => a.score - b.score);
  return [...new Set(scored.slice(0, k * 3).map((x) => x.text))].slice(0, k);
}

/**
 * A comma-separated list of labels → label ids. Each item is an id (0 … count−1) or a name that equals one
 * synonym of a label, case-insensitive. Since ImageNet names contain commas themselves, a run of items that
 * together spell one full id2label entry ("tench, Tinca tinca") is also accepted.
 */
export function parseClassList(spec: string, classes: ClassSpace): number[] {
  const items = spec.split(',').map((s) => s.trim());
  if (!items.length || items.every((s) => s === '')) throw new ModelInputError('no classes given');
  const syn = classes.names ? synonyms(classes.names) : undefined;
  const bySynonym = new Map<string, number[]>();
  syn?.forEach((list, id) => list.forEach((s) => bySynonym.set(s, [...(bySynonym.get(s) ?? []), id])));
  const out: number[] = [];
  for (let i = 0; i < items.length; i++) {
    const item = items[i];
    if (/^\d+$/.test(item)) {
      const id = Number(item);
      if (id >= classes.count) throw new ModelInputError(`class ${id} is out of range: this model has classes 0 … ${classes.count - 1}`);
      out.push(id);
      continue;
    }
    if (item === '') throw new ModelInputError(`empty class name in "${spec}"`);
    if (!syn) throw new ModelInputError(`class "${item}": this model has no label names (pass ids 0 … ${classes.count - 1})`);
    const ids = bySynonym.get(item.toLowerCase());
    if (ids === undefined) {
      throw new ModelInputError(`unknown class name "${item}"; close matches: ${closeLabelNames(item, classes.names!).join('; ') || 'none'}`);
    }
    // ImageNet repeats a few names ("crane": the bird and the machine): the id decides.
    if (new Set(ids).size > 1) throw new ModelInputError(`class name "${item}" is ambiguous: ${ids.map((k) => `${k} (${classes.names![k]})`).join(', ')}; pass the id`);
    const id = ids[0];
    // "tench, Tinca tinca" given whole: the items that continue the same entry's synonyms in order belong to it.
    let next = syn[id].indexOf(item.toLowerCase()) + 1;
    while (i + 1 < items.length && next < syn[id].length && items[i + 1].toLowerCase() === syn[id][next]) {
      i++;
      next++;
    }
    out.push(id);
  }
  return out;
}

/** A label's display name: its first synonym, or the id when the model has no names. */
export function labelDisplayName(classes: ClassSpace, id: number): string {
  return classes.names?.[id]?.split(',')[0].trim() || String(id);
}
