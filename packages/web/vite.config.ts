import { defineConfig } from 'vite';
import { precompress } from './precompress.ts';
import { stackViewerOnly } from './stack-viewer-build.ts';

/** The cloud-film page's entry and its output folder in dist/. */
const CLOUD_FILM = 'cloud-film';

/**
 * The web app, served by the server at / from dist/ (packages/server/src/web-app).
 * JSX is compiled by Vite's own transformer with React's automatic runtime, so no React
 * plugin is needed (no fast refresh in dev; the build is what the server serves).
 */
export default defineConfig({
  base: '/',
  // Cornerstone3D without what a stack viewer never runs (vtk.js profiles, mesh readers, the
  // decode worker's codecs in the page, a second dcmjs): see stack-viewer-build.ts
  // (and .br/.gz copies of the output for the server's static handler: precompress.ts)
  plugins: [stackViewerOnly(), precompress()],
  oxc: { jsx: { runtime: 'automatic' } },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    // kB, minified: the viewer chunk is ~2.4 MB since issue 16 (stack-viewer-build.ts); a
    // Cornerstone upgrade that brings the rest back shows up as this warning
    chunkSizeWarningLimit: 2500,
    reportCompressedSize: false,
    rolldownOptions: {
      // viewer-test.html: the viewer alone, for its browser tests and load benchmark (packages/web/e2e/viewer.test.ts).
      // cloud-film: the script and style of the patient's cloud-film page, which the server
      // inlines (CSP by hash) from dist/cloud-film/ (packages/server/src/share/patient-page.ts).
      input: { main: 'index.html', 'viewer-test': 'viewer-test.html', [CLOUD_FILM]: 'src/cloud-film/cloud-film.ts' },
      output: {
        // fixed names for the cloud film, which the server reads; content hashes for the rest
        entryFileNames: (chunk) => (chunk.name === CLOUD_FILM ? `${CLOUD_FILM}/${CLOUD_FILM}.js` : 'assets/[name]-[hash].js'),
        assetFileNames: (asset) => (asset.names.includes(`${CLOUD_FILM}.css`) ? `${CLOUD_FILM}/${CLOUD_FILM}.css` : 'assets/[name]-[hash][extname]'),
      },
      // antd marks its modules "use client" for React Server Components; a browser bundle ignores it.
      onwarn(warning, warn) {
        if (warning.code === 'MODULE_LEVEL_DIRECTIVE') return;
        warn(warning);
      },
    },
  },
  // the DICOM image loader's decode worker imports its codecs dynamically: ES module workers
  worker: { format: 'es' },
  optimizeDeps: { exclude: ['@cornerstonejs/dicom-image-loader'] },
  server: {
    // `npx vite` in packages/web against a server on the default port
    proxy: { '/api': 'http://127.0.0.1:8080', '/dicom-web': 'http://127.0.0.1:8080', '/wado': 'http://127.0.0.1:8080' },
  },
});
