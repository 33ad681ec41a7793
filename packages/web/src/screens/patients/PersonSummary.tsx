import { Descriptions, Table, Tag, Typography } from 'antd';
import type { ColumnsType } from 'antd/es/table';
import type { PersonIdentifier, PersonView } from '../../api/recognition.ts';
import { formatDicomDate } from '../../app/format.ts';
import { useCodeLabels } from '../../i18n/codes.ts';
import { useT, type MessageKey } from '../../i18n/i18n.tsx';
import { displayNames } from './PersonResults.tsx';

/** Who the selected person is: names, birth date, sex, the masked resident ID and every local identity linked to them. */
export function PersonSummary({ person }: { person: PersonView }) {
  const t = useT();
  const codes = useCodeLabels();
  const columns: ColumnsType<PersonIdentifier> = [
    { title: t('patients.identifier.institution'), key: 'institution', render: (_, row) => row.institutionName ?? <span data-identifier>{row.institutionId}</span> },
    { title: t('patients.identifier.patientId'), dataIndex: 'patientId', render: (value: string) => <span data-identifier>{value}</span> },
    { title: t('patients.identifier.issuer'), dataIndex: 'issuerOfPatientId', render: (value: string | null) => (value ? <span data-identifier>{value}</span> : '') },
    { title: t('patients.identifier.link'), dataIndex: 'linkKind', width: 110, render: (kind: PersonIdentifier['linkKind']) => <Tag>{t(`patients.link.${kind}` as MessageKey)}</Tag> },
  ];
  return (
    <div data-testid="person-summary" data-person-id={person.id}>
      <Descriptions size="small" column={{ xs: 1, md: 2, xl: 4 }}>
        <Descriptions.Item label={t('patients.name')}>
          <Typography.Text strong data-testid="person-names">{displayNames(person)}</Typography.Text>
        </Descriptions.Item>
        <Descriptions.Item label={t('patients.sex')}>{codes.sex(person.sex)}</Descriptions.Item>
        <Descriptions.Item label={t('patients.birthDate')}>{formatDicomDate(person.birthDate)}</Descriptions.Item>
        <Descriptions.Item label={t('patients.nationalId')}>
          <span data-identifier>{person.nationalId ?? ''}</span>
        </Descriptions.Item>
        <Descriptions.Item label={t('patients.personId')}>
          <Typography.Text copyable={{ text: person.id }} data-identifier>{person.id}</Typography.Text>
        </Descriptions.Item>
        {person.mergedInto && <Descriptions.Item label={t('patients.identifier.link')}>{t('patients.mergedInto', { id: person.mergedInto })}</Descriptions.Item>}
      </Descriptions>
      <Table<PersonIdentifier> rowKey="id" size="small" columns={columns} dataSource={person.identifiers} pagination={false} data-testid="person-identifiers" />
    </div>
  );
}
