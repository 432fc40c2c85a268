// `tcpade methods [name]`: lists cache methods with presets, or one method's settings with values and meaning.
import { Command } from 'commander';
import { describeCacheMethod, listCacheMethods } from '../cache/index.js';

export function methodsCommand(): Command {
  return new Command('methods')
    .description('list cache methods and presets, or the settings of one method/preset')
    .argument('[name]', 'a method to describe')
    .option('--preset <p>', 'preset to describe')
    .action((name: string | undefined, o) => {
      if (!name) {
        console.log('none         compute every step');
        console.log('fewer-steps  the same sampler with fewer steps (presets x2, x2.5, x3…, or --set steps=K)');
        for (const m of listCacheMethods()) {
          if (m.name === 'none') continue;
          console.log(`${m.name.padEnd(12)} ${m.description}\n${' '.repeat(13)}presets: ${m.presets.join(', ')} (default ${m.defaultPreset})`);
        }
        return;
      }
      for (const s of describeCacheMethod(name, o.preset)) console.log(`${s.key.padEnd(24)} ${JSON.stringify(s.value).padEnd(16)} ${s.doc}`);
    });
}
