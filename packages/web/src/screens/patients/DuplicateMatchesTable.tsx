import { Table, Tag } from 'antd';
import type { ColumnsType } from 'antd/es/table';
import type { DuplicateMatch } from '../../api/recognition.ts';
import { formatDicomDate } from '../../app/format.ts';
import { useCodeLabels } from '../../i18n/codes.ts';
import { useT, type MessageKey } from '../../i18n/i18n.tsx';

/** Comparable earlier exams a duplicate check found (the patient screen's check, a reading request's warnings), each recognisable or not, with the server's reason. */
export function DuplicateMatchesTable({ matches }: { matches: DuplicateMatch[] }) {
  const t = useT();
  const codes = useCodeLabels();
  const columns: ColumnsType<DuplicateMatch> = [
    { title: t('patients.studyDate'), dataIndex: 'studyDate', width: 110, render: (value: string | null) => formatDicomDate(value) },
    { title: t('patients.institution'), key: 'institution', render: (_, row) => row.institutionName ?? <span data-identifier>{row.institutionId}</span> },
    { title: t('patients.modality'), dataIndex: 'modality', width: 80 },
    { title: t('patients.bodyParts'), dataIndex: 'bodyPart', width: 90, render: (value: string | null) => codes.bodyParts(value ? [value] : []) },
    { title: t('patients.reportStatus'), dataIndex: 'reportStatus', width: 90, render: (status: DuplicateMatch['reportStatus']) => t(`patients.report.${status}` as MessageKey) },
    {
      title: t('patients.duplicate.recognisable'),
      dataIndex: 'recognisable',
      width: 100,
      render: (recognisable: boolean) => <Tag color={recognisable ? 'green' : 'default'} data-testid="duplicate-recognisable" data-recognisable={recognisable}>{t(recognisable ? 'patients.duplicate.recognisable' : 'patients.duplicate.notRecognisable')}</Tag>,
    },
    { title: t('patients.duplicate.reason'), dataIndex: 'reason', render: (reason: string) => <span data-testid="duplicate-reason">{reason}</span> },
  ];
  return (
    <Table<DuplicateMatch>
      rowKey="studyInstanceUid"
      size="small"
      columns={columns}
      dataSource={matches}
      pagination={false}
      locale={{ emptyText: t('patients.duplicate.none') }}
      onRow={(row) => ({ 'data-study-uid': row.studyInstanceUid }) as React.HTMLAttributes<HTMLTableRowElement>}
      data-testid="duplicate-matches"
    />
  );
}
