/**
 * The reading page's code, a lazy chunk that brings the Cornerstone viewer (~4 MB, mostly
 * vtk.js). The worklist fetches it while the radiologist looks at the list, so a first claim
 * does not wait for it (issue 14: claim → first image under 1 s; docs/benchmarks.md).
 */
export const loadReadingPage = () => import('../screens/ReadingPage.tsx');

/** Starts loading the reading page's code and the viewer when the browser is idle; both happen once. */
export function prefetchReadingPage(): () => void {
  // The code, then Cornerstone's one-time start (core, tools, the image loader and its workers):
  // both would otherwise sit between the click and the first image. A failed prefetch is
  // simply done again by the real navigation.
  const start = () =>
    void loadReadingPage()
      .then(() => import('../viewer/dicomweb-loader.ts'))
      .then((loader) => loader.initCornerstone())
      .then(() => (document.documentElement.dataset.readingPagePrefetched = 'yes')) // bench/viewer-load.ts waits for it
      .catch(() => undefined);
  if (typeof window.requestIdleCallback === 'function') {
    const handle = window.requestIdleCallback(start, { timeout: 2000 });
    return () => window.cancelIdleCallback(handle);
  }
  const timer = window.setTimeout(start, 300);
  return () => window.clearTimeout(timer);
}
