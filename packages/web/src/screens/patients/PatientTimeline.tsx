import { useCallback, useEffect, useState } from 'react';
import { Alert, App, Empty, Space, Spin } from 'antd';
import { fetchTimeline, type AccessGrant, type PersonView, type RecognitionRecord, type TimelineEntry } from '../../api/recognition.ts';
import { StudyViewerModal } from '../../app/StudyViewerModal.tsx';
import { formatDateTime, formatDicomDate } from '../../app/format.ts';
import { useT } from '../../i18n/i18n.tsx';
import { refusalText } from '../admin/refusal.ts';
import { AccessRequestDialog } from './AccessRequestDialog.tsx';
import { RecognitionDialog } from './RecognitionDialog.tsx';
import { TimelineEntryCard, type TimelineEntryActions } from './TimelineEntryCard.tsx';
import { displayNames } from './PersonResults.tsx';

/** An entry with a grant just given: openable at once, until the timeline fetched again says so itself. */
function withGrant(entry: TimelineEntry, grant: AccessGrant): TimelineEntry {
  return entry.studyInstanceUid === grant.studyInstanceUid && entry.access === 'request-needed' ? { ...entry, access: 'granted', grantExpiresAt: grant.expiresAt } : entry;
}

/** The person's exams across the region, newest first, each openable, requestable and recognisable from here. */
export function PatientTimeline({ person }: { person: PersonView }) {
  const t = useT();
  const { message } = App.useApp();
  const [entries, setEntries] = useState<TimelineEntry[]>();
  const [error, setError] = useState<string>();
  const [requesting, setRequesting] = useState<TimelineEntry>();
  const [recognising, setRecognising] = useState<TimelineEntry>();
  const [viewing, setViewing] = useState<TimelineEntry>();

  const load = useCallback(async () => {
    try {
      setEntries((await fetchTimeline(person.id)).entries);
      setError(undefined);
    } catch (caught) {
      setError(refusalText(t, caught));
    }
  }, [person.id, t]);
  useEffect(() => {
    setEntries(undefined);
    void load();
  }, [load]);

  const granted = (grant: AccessGrant) => {
    setRequesting(undefined);
    setEntries((current) => current?.map((entry) => withGrant(entry, grant)));
    message.success(t('patients.requestAccess.granted', { time: formatDateTime(grant.expiresAt) }));
    void load();
  };
  const recorded = (studyInstanceUid: string, record: RecognitionRecord) => {
    setRecognising(undefined);
    setEntries((current) => current?.map((entry) => (entry.studyInstanceUid === studyInstanceUid && !entry.recognitions.some((r) => r.id === record.id) ? { ...entry, recognitions: [...entry.recognitions, record] } : entry)));
    message.success(t('patients.recognition.saved'));
    void load();
  };
  const actions: TimelineEntryActions = { onOpen: setViewing, onRequestAccess: setRequesting, onRecordRecognition: setRecognising };

  return (
    <div data-testid="patient-timeline" data-loaded={entries !== undefined}>
      {error && <Alert type="error" showIcon title={error} style={{ marginBottom: 8 }} data-testid="timeline-error" />}
      {entries === undefined && !error && <Spin />}
      {entries?.length === 0 && <Empty description={t('patients.timeline.empty')} />}
      {entries && entries.length > 0 && (
        <Space direction="vertical" size={8} style={{ width: '100%' }}>
          {entries.map((entry) => (
            <TimelineEntryCard key={entry.studyInstanceUid} entry={entry} actions={actions} />
          ))}
        </Space>
      )}
      {requesting && <AccessRequestDialog personId={person.id} entry={requesting} onClose={() => setRequesting(undefined)} onGranted={granted} />}
      {recognising && <RecognitionDialog entry={recognising} onClose={() => setRecognising(undefined)} onRecorded={(record) => recorded(recognising.studyInstanceUid, record)} />}
      <StudyViewerModal
        studyInstanceUid={viewing?.studyInstanceUid}
        title={t('patients.viewerTitle', { name: displayNames(person), date: formatDicomDate(viewing?.studyDate), modality: viewing?.modalities.join('/') ?? '' })}
        onClose={() => setViewing(undefined)}
        testId="patient-viewer"
      />
    </div>
  );
}
