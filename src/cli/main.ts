// The `tcpade` command line: one subcommand per capability, each in its own module.
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { generateCommand } from './generate.js';
import { trainCommand } from './train.js';
import { trainClassifierCommand } from './train-classifier.js';
import { evalCommand } from './eval.js';
import { calibrateCommand } from './calibrate.js';
import { methodsCommand } from './methods.js';
import { benchCommand } from './bench.js';
import { serveCommand } from './serve.js';
import { webCommand } from './web.js';
import { workerCommand } from './worker.js';

const program = new Command('tcpade')
  .description('Feature caching for diffusion transformers (TC-Padé, TaylorSeer, FORA, TeaCache, FBCache) on onnxruntime-node')
  .version('0.1.0')
  .showHelpAfterError()
  .addCommand(generateCommand())
  .addCommand(trainCommand())
  .addCommand(trainClassifierCommand())
  .addCommand(evalCommand())
  .addCommand(calibrateCommand())
  .addCommand(methodsCommand())
  .addCommand(benchCommand())
  .addCommand(serveCommand())
  .addCommand(webCommand())
  .addCommand(workerCommand());

try {
  await program.parseAsync(process.argv);
} catch (e) {
  // Commander reports its own parse errors and exits; what reaches here was thrown by a command.
  // Known, user-facing errors print one clear message; anything else keeps its stack.
  const known = e instanceof CommanderError || e instanceof InvalidArgumentError || (e instanceof Error && /Error$/.test(e.name) && e.name !== 'Error' && e.name !== 'TypeError' && e.name !== 'RangeError');
  if (known) {
    console.error(`tcpade: ${(e as Error).message.replace(/^error: /, '')}`);
    process.exit(2);
  }
  throw e;
}
