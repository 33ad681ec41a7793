import { Button, Table, Typography } from 'antd';
import type { ColumnsType } from 'antd/es/table';
import type { PersonView } from '../../api/recognition.ts';
import { formatDicomDate, formatPersonName } from '../../app/format.ts';
import { useCodeLabels } from '../../i18n/codes.ts';
import { useT } from '../../i18n/i18n.tsx';

/** The persons a search found, resident IDs masked as the server sends them. */
export function PersonResults({ persons, selectedId, onSelect }: { persons: PersonView[]; selectedId: string | undefined; onSelect: (person: PersonView) => void }) {
  const t = useT();
  const codes = useCodeLabels();
  const columns: ColumnsType<PersonView> = [
    { title: t('patients.name'), key: 'names', render: (_, person) => <Typography.Text strong>{displayNames(person)}</Typography.Text> },
    { title: t('patients.sex'), dataIndex: 'sex', width: 70, render: (sex: string | null) => codes.sex(sex) },
    { title: t('patients.birthDate'), dataIndex: 'birthDate', width: 110, render: (value: string | null) => formatDicomDate(value) },
    { title: t('patients.nationalId'), dataIndex: 'nationalId', width: 200, render: (value: string | null) => <span data-identifier data-testid="person-national-id">{value ?? ''}</span> },
    { title: t('patients.identifiers'), key: 'identifiers', ellipsis: true, render: (_, person) => codes.list(person.identifiers.map((identifier) => identifier.institutionName ?? identifier.institutionId).filter(unique)) },
    {
      title: t('app.actions'),
      key: 'actions',
      width: 90,
      render: (_, person) => (
        <Button size="small" type={person.id === selectedId ? 'primary' : 'default'} onClick={() => onSelect(person)} data-testid="select-person">
          {t('patients.select')}
        </Button>
      ),
    },
  ];
  return (
    <Table<PersonView>
      rowKey="id"
      size="small"
      columns={columns}
      dataSource={persons}
      pagination={{ pageSize: 20, hideOnSinglePage: true }}
      locale={{ emptyText: t('patients.noResults') }}
      onRow={(person) => ({ 'data-person-id': person.id, onDoubleClick: () => onSelect(person) }) as React.HTMLAttributes<HTMLTableRowElement>}
      data-testid="person-results"
    />
  );
}

/** Every distinct name the region holds for the person: 张伟 / ZHANG WEI. */
export function displayNames(person: Pick<PersonView, 'names'>): string {
  return person.names.map(formatPersonName).filter(Boolean).filter(unique).join(' / ');
}

function unique<T>(value: T, index: number, all: T[]): boolean {
  return all.indexOf(value) === index;
}
