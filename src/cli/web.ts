// `tcpade web`: serves the browser app (web/dist, built by `npm run web`) on its own, with the
// cross-origin isolation headers wasm threads need. The page samples the shipped DiTs client-side.
import { Command } from 'commander';
import { startWebServer } from '../webapp/server.js';
import { webDistDir } from '../webapp/static.js';
import { intArg } from './args.js';

export function webCommand(): Command {
  return new Command('web')
    .description('serve the browser app (npm run web builds it): the shipped DiTs with every cache method on onnxruntime-web')
    .option('--port <n>', 'TCP port (0 = any free one)', intArg(0, 65535), 8088)
    .option('--host <addr>', 'address to listen on', '127.0.0.1')
    .option('--dist <folder>', 'the built app', webDistDir())
    .action(async (o) => {
      const server = await startWebServer({ host: o.host, port: o.port, distDir: o.dist });
      console.log(`tcpade web: ${o.dist} on ${server.url} (cross-origin isolated: wasm threads available). Try ${server.url}?model=mnist-dit&classes=0,7&perClass=2&cache=tcpade&preset=fast&run=1&compare=1`);
      const stop = async (): Promise<void> => {
        await server.close();
        process.exit(0);
      };
      process.once('SIGINT', () => void stop());
      process.once('SIGTERM', () => void stop());
    });
}
