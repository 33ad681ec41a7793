/**
 * Standalone page for the viewer's browser tests and load benchmark (viewer-test.html):
 * mounts StudyViewer for ?study=UID with the bearer token from the URL fragment
 * (#token=…, never sent to the server), either at once or on a click of "mount"
 * (?mount=click), so that a benchmark times from the click with the code already loaded.
 * ?side=toggle adds a button that opens a compact second viewer (?prior=UID, else the same
 * study) beside the first, laid out as the reading page lays out a prior.
 */
import { StrictMode, useState } from 'react';
import { createRoot } from 'react-dom/client';
import { StudyViewer } from './StudyViewer.tsx';

function TestPage() {
  const params = new URLSearchParams(location.search);
  const token = new URLSearchParams(location.hash.replace(/^#/, '')).get('token') ?? '';
  const study = params.get('study') ?? '';
  const root = params.get('root') ?? '/dicom-web';
  const [mounted, setMounted] = useState(params.get('mount') !== 'click');
  const [side, setSide] = useState(false);
  const authorizationHeader = () => `Bearer ${token}`;
  const locale = params.get('locale') ?? undefined;
  return (
    <div style={{ height: '100vh', display: 'flex', flexDirection: 'column' }}>
      {!mounted && (
        <button type="button" data-testid="mount-viewer" onClick={() => setMounted(true)}>
          mount
        </button>
      )}
      {params.get('side') === 'toggle' && (
        <button type="button" data-testid="toggle-side-viewer" onClick={() => setSide(!side)}>
          side
        </button>
      )}
      {mounted && (
        <div style={{ flex: 1, minHeight: 0, display: 'flex', gap: 8 }}>
          <div style={{ flex: 1, minWidth: 0 }}>
            <StudyViewer studyInstanceUid={study} dicomWebRoot={root} authorizationHeader={authorizationHeader} compact={params.get('compact') === '1'} locale={locale} />
          </div>
          {side && (
            <div style={{ flex: 1, minWidth: 0 }} data-testid="side-viewer">
              <StudyViewer studyInstanceUid={params.get('prior') ?? study} dicomWebRoot={root} authorizationHeader={authorizationHeader} compact locale={locale} />
            </div>
          )}
        </div>
      )}
    </div>
  );
}

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <TestPage />
  </StrictMode>,
);
