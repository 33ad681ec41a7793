/**
 * Brotli and gzip copies of the built files beside them (`x.js.br`, `x.js.gz`), which the
 * server's static handler sends to a browser that accepts them (@fastify/static
 * `preCompressed`, packages/server/src/web-app/static-routes.ts), so nothing is compressed
 * per request. Issue 16: the viewer's code before its first image is ~2.4 MB raw, ~0.6 MB
 * as brotli, which is what a 4 Mbit/s link has to carry.
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { brotliCompress, constants, gzip } from 'node:zlib';
import type { Plugin } from 'vite';

const brotli = promisify(brotliCompress);
const gz = promisify(gzip);

/** What compresses: text and wasm; images and media are compressed already. */
const COMPRESSIBLE = /\.(js|mjs|css|html|wasm|json|svg|txt)$/;
/** Below this a compressed copy saves less than a packet. */
const MIN_BYTES = 1024;

export function precompress(): Plugin {
  let outDir = '';
  return {
    name: 'yunying-precompress',
    apply: 'build',
    configResolved(config) {
      outDir = path.resolve(config.root, config.build.outDir);
    },
    async writeBundle(_options, bundle) {
      const files = Object.keys(bundle).filter((name) => COMPRESSIBLE.test(name));
      await Promise.all(
        files.map(async (name) => {
          const file = path.join(outDir, name);
          const data = await readFile(file);
          if (data.length < MIN_BYTES) return;
          const [br, gzipped] = await Promise.all([
            brotli(data, { params: { [constants.BROTLI_PARAM_QUALITY]: 10, [constants.BROTLI_PARAM_SIZE_HINT]: data.length } }),
            gz(data, { level: 9 }),
          ]);
          // a copy that is not smaller is not worth a Content-Encoding
          if (br.length < data.length) await writeFile(`${file}.br`, br);
          if (gzipped.length < data.length) await writeFile(`${file}.gz`, gzipped);
        }),
      );
    },
  };
}
