// JSON as Python's json.dumps writes it (diffusers' config files): bare NaN, Infinity and -Infinity for
// non-finite floats, which JSON.parse rejects, are accepted outside strings. Pure: runs in a browser too.

const NON_FINITE: Readonly<Record<string, number>> = { NaN: NaN, Infinity: Infinity, '-Infinity': -Infinity };

/** Parses JSON text that may hold Python's bare NaN / Infinity / -Infinity tokens. */
export function parsePythonJson(text: string): unknown {
  // Replace each bare token by a unique string marker, then map markers back in a reviver.
  const marker = `\u0000pyjson${Math.random().toString(36).slice(2)}:`;
  let out = '';
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (inString) {
      out += ch;
      if (ch === '\\') out += text[++i] ?? '';
      else if (ch === '"') inString = false;
      continue;
    }
    if (ch === '"') {
      inString = true;
      out += ch;
      continue;
    }
    const token = ['-Infinity', 'Infinity', 'NaN'].find((t) => text.startsWith(t, i) && !/[A-Za-z0-9_]/.test(text[i + t.length] ?? ''));
    if (token) {
      out += JSON.stringify(marker + token);
      i += token.length - 1;
      continue;
    }
    out += ch;
  }
  return JSON.parse(out, (_key, value: unknown) => (typeof value === 'string' && value.startsWith(marker) ? NON_FINITE[value.slice(marker.length)] : value));
}
