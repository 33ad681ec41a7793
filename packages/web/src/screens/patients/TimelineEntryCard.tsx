import { Button, Space, Tag, Typography } from 'antd';
import { EyeOutlined, FileDoneOutlined, LockOutlined } from '@ant-design/icons';
import type { RecognitionRecord, TimelineEntry, TimelineReportStatus } from '../../api/recognition.ts';
import { formatDateTime, formatDicomDate } from '../../app/format.ts';
import { useCodeLabels } from '../../i18n/codes.ts';
import { useT, type MessageKey } from '../../i18n/i18n.tsx';

const REPORT_COLORS: Record<TimelineReportStatus, string> = { none: 'default', requested: 'blue', reading: 'processing', signed: 'green', cancelled: 'default' };

export interface TimelineEntryActions {
  onOpen: (entry: TimelineEntry) => void;
  onRequestAccess: (entry: TimelineEntry) => void;
  onRecordRecognition: (entry: TimelineEntry) => void;
}

/** One exam of the person's timeline: when, where, what, the report, whether the caller may open it, and its recognition records. */
export function TimelineEntryCard({ entry, actions }: { entry: TimelineEntry; actions: TimelineEntryActions }) {
  const t = useT();
  const codes = useCodeLabels();
  const openable = entry.access !== 'request-needed';
  return (
    <div className="yy-timeline-entry" data-testid="timeline-entry" data-study-uid={entry.studyInstanceUid} data-access={entry.access} data-report-status={entry.reportStatus}>
      <Space wrap size={[12, 4]} style={{ width: '100%', justifyContent: 'space-between' }}>
        <Space wrap size={[12, 4]}>
          <Typography.Text strong data-testid="entry-date">{formatDicomDate(entry.studyDate)}</Typography.Text>
          <Typography.Text data-testid="entry-institution">{entry.institutionName ?? <span data-identifier>{entry.institutionId}</span>}</Typography.Text>
          <Typography.Text data-testid="entry-modality">{entry.modalities.join('/')}</Typography.Text>
          <Typography.Text data-testid="entry-body-parts">{codes.bodyParts(entry.bodyParts)}</Typography.Text>
          {entry.description && <Typography.Text type="secondary">{entry.description}</Typography.Text>}
          <Tag color={REPORT_COLORS[entry.reportStatus]} data-testid="entry-report-status">{t(`patients.report.${entry.reportStatus}` as MessageKey)}</Tag>
          <AccessTag entry={entry} />
        </Space>
        <Space size="small">
          {openable ? (
            <Button size="small" type="primary" icon={<EyeOutlined />} onClick={() => actions.onOpen(entry)} data-testid="entry-open">
              {t('patients.open')}
            </Button>
          ) : (
            <Button size="small" icon={<LockOutlined />} onClick={() => actions.onRequestAccess(entry)} data-testid="entry-request-access">
              {t('patients.requestAccess')}
            </Button>
          )}
          <Button size="small" icon={<FileDoneOutlined />} onClick={() => actions.onRecordRecognition(entry)} data-testid="entry-record-recognition">
            {t('patients.recordRecognition')}
          </Button>
        </Space>
      </Space>
      {entry.impression && (
        <Typography.Paragraph style={{ margin: '4px 0 0' }} data-testid="entry-impression">
          <Typography.Text type="secondary">{t('patients.impressionLabel')}</Typography.Text>
          {entry.impression}
        </Typography.Paragraph>
      )}
      {entry.recognitions.length > 0 && (
        <ul className="yy-timeline-recognitions" data-testid="entry-recognitions">
          {entry.recognitions.map((record) => (
            <RecognitionLine key={record.id} record={record} />
          ))}
        </ul>
      )}
    </div>
  );
}

function AccessTag({ entry }: { entry: TimelineEntry }) {
  const t = useT();
  if (entry.access === 'visible') return null;
  if (entry.access === 'granted') return <Tag color="gold" data-testid="entry-access">{t('patients.access.granted', { time: formatDateTime(entry.grantExpiresAt) })}</Tag>;
  return <Tag color="orange" data-testid="entry-access">{t('patients.access.request-needed')}</Tag>;
}

function RecognitionLine({ record }: { record: RecognitionRecord }) {
  const t = useT();
  return (
    <li data-testid="entry-recognition" data-decision={record.decision}>
      <Tag color={record.decision === 'recognised' ? 'green' : 'red'}>{t(`patients.recognition.${record.decision}` as MessageKey)}</Tag>
      <span data-identifier>{record.byName}</span>
      {t('patients.recognition.line', { time: formatDateTime(record.at), reason: record.reason })}
    </li>
  );
}
