/**
 * Build-time trimming of Cornerstone3D for a stack viewer (issue 16: the viewer chunk was
 * 4.2 MB, of which ~25 KB our code). Cornerstone's package entry points pull in, for their
 * side effects or through one shared module, code a 2D stack viewer never runs:
 *
 *   - vtk.js's global rendering profiles (`Rendering/Profiles/Volume.js`, `Geometry.js`),
 *     imported by core's volume and geometry loaders for their side effect: they register
 *     every OpenGL *and WebGPU* mapper with vtk's default view-node factory. Cornerstone's
 *     render window does not use that factory (its own, vtkStreamingOpenGLViewNodeFactory,
 *     registers the OpenGL classes it draws with, by direct import), so the profiles only
 *     add code: they become empty modules here.
 *   - core's Mesh class (surface meshes for segmentations) imports vtk's PLY, STL, OBJ and
 *     XML poly-data readers (the XML one brings xmlbuilder2, a DOM and a YAML parser). A
 *     stack viewer loads no mesh: those readers are stand-ins that throw if ever used.
 *   - Cornerstone's own view-node factory (vtkStreamingOpenGLViewNodeFactory) imports the
 *     OpenGL classes of every viewport type: the volume, CPR and reslice mappers (with their
 *     shaders), glyph, sphere, stick and skybox mappers. A stack viewport draws with
 *     vtkImageMapper and vtkImageSlice (StackViewport.js); the others become stand-ins that
 *     throw if a viewport ever asked for one (a volume or 3D viewport, which this viewer never
 *     creates: it enables STACK viewports only).
 *   - the tools' annotation listeners and base classes import the contour-segmentation
 *     utilities, whose polygon boolean operations use clipper2-ts (0.19 MB). They run only for
 *     contour segmentations, which this viewer never creates (its tools are length, angle,
 *     rectangle and ellipse ROIs): clipper2-ts becomes a stand-in that throws if ever used.
 *   - the DICOM image loader's index imports its decode worker's module and the decoders'
 *     index (all the wasm codecs' JavaScript, ~0.35 MB, and pako) for re-exports of the
 *     decode functions, which the page never calls: decoding runs in the loader's web
 *     workers. Those two imports of the index become stand-ins that throw if called; the
 *     worker itself is a separate bundle (`new URL('./decodeImageFrameWorker.js',
 *     import.meta.url)` in the loader's init.js) with every codec, which this plugin does not
 *     touch (Vite applies `plugins` to the page build only; workers have `worker.plugins`).
 *   - dcmjs: @cornerstonejs/metadata and @cornerstonejs/utils each get their own nested copy
 *     of the same version (npm does not hoist it, as the workspace's @yunying/dicom pins
 *     another), 0.95 MB each in the chunk; every import of `dcmjs` here resolves to
 *     @cornerstonejs/metadata's copy, so there is one. And Cornerstone's metadata modules
 *     import dcmjs's default export, an object holding all of dcmjs (adapters, SR, derivations,
 *     normalizers, anonymizer), for the few members they read (the dictionary, the async
 *     reader, a listener, the logger): as a namespace import (`import * as dcmjs`, the same
 *     members, as dcmjs exports each of them by name too), the bundler keeps only those.
 *
 * If a Cornerstone upgrade moves these modules the build still works, just bigger: every rule
 * matches a path, and a rule that matches nothing changes nothing (the viewer bundle figures in
 * docs/benchmarks.md show whether it still applies).
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import type { Plugin } from 'vite';

const EMPTY = '\0yunying-stack-viewer:empty';
const UNUSED = '\0yunying-stack-viewer:unused:';
const IN_WORKER = '\0yunying-stack-viewer:in-worker:';

const VTK_PROFILES = /^@kitware\/vtk\.js\/Rendering\/Profiles\/(Volume|Geometry)\.js$/;
const CORE_MODULE = /[\\/]@cornerstonejs[\\/]core[\\/]dist[\\/]esm[\\/]/;
const MESH_MODULE = /[\\/]@cornerstonejs[\\/]core[\\/]dist[\\/]esm[\\/]cache[\\/]classes[\\/]Mesh\.js$/;
const VTK_READER = /^@kitware\/vtk\.js\/IO\//;
const CORNERSTONE_MODULE = /[\\/]@cornerstonejs[\\/][^\\/]+[\\/]dist[\\/]esm[\\/]/;
const DCMJS_DEFAULT_IMPORT = /^import dcmjs from 'dcmjs';$/m;
const VIEW_NODE_FACTORY = /[\\/]@cornerstonejs[\\/]core[\\/]dist[\\/]esm[\\/]RenderingEngine[\\/]vtkClasses[\\/]vtkStreamingOpenGLViewNodeFactory\.js$/;
/** What the factory imports and a stack viewport never draws with. */
const NOT_FOR_STACKS = /^(@kitware\/vtk\.js\/Rendering\/OpenGL\/(VolumeMapper|Volume|ImageCPRMapper|ImageResliceMapper|Glyph3DMapper|SphereMapper|StickMapper|Skybox)\.js|\.\/vtkStreamingOpenGL(VolumeMapper|ImageResliceMapper)\.js)$/;
const TOOLS_MODULE = /[\\/]@cornerstonejs[\\/]tools[\\/]dist[\\/]esm[\\/]/;
const CLIPPER = '\0yunying-stack-viewer:clipper2-ts';
const LOADER_INDEX = /[\\/]@cornerstonejs[\\/]dicom-image-loader[\\/]dist[\\/]esm[\\/]index\.js$/;
const LOADER_DECODE_MODULES = new Set(['./decodeImageFrameWorker.js', './shared/decoders/index.js']);

/** A module of @cornerstonejs/metadata: `dcmjs` is resolved as if imported from there. */
function cornerstoneMetadataModule(): string {
  const manifest = createRequire(import.meta.url).resolve('@cornerstonejs/metadata/package.json');
  return path.join(path.dirname(manifest), 'dist', 'esm', 'index.js');
}

export function stackViewerOnly(): Plugin {
  const dcmjsImporter = cornerstoneMetadataModule();
  return {
    name: 'yunying-stack-viewer-only',
    enforce: 'pre',
    apply: 'build',
    resolveId(source, importer, options) {
      if (!importer) return null;
      if (source === 'dcmjs' && importer !== dcmjsImporter) return this.resolve('dcmjs', dcmjsImporter, { ...options, skipSelf: true });
      if (VTK_PROFILES.test(source) && CORE_MODULE.test(importer)) return EMPTY;
      if (VTK_READER.test(source) && MESH_MODULE.test(importer)) return UNUSED + source;
      if (NOT_FOR_STACKS.test(source) && VIEW_NODE_FACTORY.test(importer)) return UNUSED + source;
      if (source === 'clipper2-ts' && TOOLS_MODULE.test(importer)) return CLIPPER;
      if (LOADER_DECODE_MODULES.has(source) && LOADER_INDEX.test(importer)) return IN_WORKER + source;
      return null;
    },
    load(id) {
      if (id === EMPTY) return 'export {};';
      if (id.startsWith(UNUSED)) {
        const name = JSON.stringify(id.slice(UNUSED.length));
        return `const unused = () => { throw new Error(${name} + ' is not in the stack viewer build (packages/web/stack-viewer-build.ts)'); };\nexport default { newInstance: unused, extend: unused };`;
      }
      if (id === CLIPPER) {
        // the names the contour-segmentation utilities import (clipperBooleanOps.js)
        return `const unused = () => { throw new Error('clipper2-ts (contour segmentation) is not in the stack viewer build (packages/web/stack-viewer-build.ts)'); };
export const Clipper = { booleanOpDWithPolyTree: unused }, ClipType = {}, FillRule = {};
export class PolyTreeD { constructor() { unused(); } }`;
      }
      if (id.startsWith(IN_WORKER)) {
        // the names the loader's index imports from the two modules
        const name = JSON.stringify(id.slice(IN_WORKER.length));
        return `const inWorker = () => { throw new Error(${name} + ': frames are decoded in the web workers of the image loader (packages/web/stack-viewer-build.ts)'); };
export const decodeImageFrame = inWorker, postProcessDecodedPixels = inWorker, initializers = {}, decoders = {};`;
      }
      return null;
    },
    transform(code, id) {
      if (!CORNERSTONE_MODULE.test(id) || !DCMJS_DEFAULT_IMPORT.test(code)) return null;
      return { code: code.replace(DCMJS_DEFAULT_IMPORT, "import * as dcmjs from 'dcmjs';"), map: null };
    },
  };
}
