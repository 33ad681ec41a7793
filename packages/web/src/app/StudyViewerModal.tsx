import { Modal } from 'antd';
import { StudyViewer } from './study-viewer.tsx';
import { authorizationHeader } from '../api/session.ts';

/** A study's images in the app's viewer, full width in a dialog (the township screen's 看图, the patient timeline's 打开). */
export function StudyViewerModal({ studyInstanceUid, title, onClose, testId }: { studyInstanceUid: string | undefined; title: string; onClose: () => void; testId: string }) {
  return (
    <Modal open={!!studyInstanceUid} onCancel={onClose} footer={null} width="96vw" style={{ top: 16 }} title={title} destroyOnHidden>
      {studyInstanceUid && (
        <div style={{ height: 'calc(100vh - 140px)', display: 'flex' }} data-testid={testId}>
          <div style={{ flex: 1, minWidth: 0, display: 'flex', flexDirection: 'column' }}>
            <StudyViewer studyInstanceUid={studyInstanceUid} dicomWebRoot="/dicom-web" authorizationHeader={authorizationHeader} />
          </div>
        </div>
      )}
    </Modal>
  );
}
