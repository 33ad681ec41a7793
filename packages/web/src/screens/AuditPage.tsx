import { useCallback, useEffect, useState } from 'react';
import { App, Button, Card, DatePicker, Form, Input, Space, Table, Typography } from 'antd';
import type { ColumnsType } from 'antd/es/table';
import { DownloadOutlined, SafetyCertificateOutlined } from '@ant-design/icons';
import type { Dayjs } from 'dayjs';
import { api, downloadBlob, withQuery, type Query } from '../api/client.ts';
import type { AuditEvent } from '../api/types.ts';
import { useI18n, useT, type MessageKey } from '../i18n/i18n.tsx';
import { outcomeLabel } from '../i18n/codes.ts';
import { auditActionLabel } from '../i18n/audit-actions.ts';
import { formatDateTime } from '../app/format.ts';

/** AccessInterface (server access/caller.ts) */
const VIA_CODES = ['dicomweb', 'wado-uri', 'dimse', 'rest', 'fhir', 'cli', 'system'];

interface AuditFilter {
  range?: [Dayjs | null, Dayjs | null] | null;
  action?: string;
  actor?: string;
  institutionId?: string;
  patientId?: string;
  objectId?: string;
}

function queryOf(filter: AuditFilter): Query {
  return {
    from: filter.range?.[0]?.startOf('day').toISOString(),
    to: filter.range?.[1]?.endOf('day').toISOString(),
    action: filter.action?.trim(),
    actor: filter.actor?.trim(),
    institutionId: filter.institutionId?.trim(),
    patientId: filter.patientId?.trim(),
    objectId: filter.objectId?.trim(),
  };
}

/** The insurance auditor's search of the audit trail, with CSV export and chain verification. */
export default function AuditPage() {
  const t = useT();
  const { locale } = useI18n();
  const { message } = App.useApp();
  const [filter, setFilter] = useState<AuditFilter>({});
  const [rows, setRows] = useState<AuditEvent[]>([]);
  const [loading, setLoading] = useState(true);
  const search = useCallback(async () => {
    setLoading(true);
    try {
      setRows(await api.get<AuditEvent[]>('/api/v1/audit-events', { ...queryOf(filter), order: 'desc', limit: 500 }));
    } catch (caught) {
      message.error(caught instanceof Error ? caught.message : String(caught));
    } finally {
      setLoading(false);
    }
  }, [filter, message]);
  useEffect(() => void search(), [search]);

  const exportPath = withQuery('/api/v1/audit-events/export', { ...queryOf(filter), format: 'csv' });
  const verify = async () => {
    try {
      const result = await api.get<{ ok: boolean; count: number }>('/api/v1/audit-events/verification');
      if (result.ok) message.success(t('audit.verified', { count: result.count }));
      else message.error(t('audit.broken'));
    } catch (caught) {
      message.error(caught instanceof Error ? caught.message : String(caught));
    }
  };

  // the interface a record came through, by its name (the code stays on hover)
  const viaLabel = (via: string): string => (VIA_CODES.includes(via) ? t(`audit.via.${via}` as MessageKey) : via);
  const columns: ColumnsType<AuditEvent> = [
    { title: '#', dataIndex: 'seq', width: 70 },
    { title: t('audit.time'), dataIndex: 'occurred_at', width: 140, render: (value: string) => formatDateTime(value) },
    { title: t('audit.action'), dataIndex: 'action', width: 170, render: (value: string) => <ActionName code={value} /> },
    { title: t('audit.outcome'), dataIndex: 'outcome', width: 80, render: (value: string) => outcomeLabel(value, locale) },
    { title: t('audit.actor'), key: 'actor', width: 160, render: (_, row) => <><Identifier>{row.actor_name ?? ''}</Identifier> {row.actor_role ? `(${t(`role.${row.actor_role}` as MessageKey)})` : ''}</> },
    { title: t('audit.institution'), dataIndex: 'actor_institution_id', width: 110, responsive: ['lg'], render: (value: string | null) => <Identifier>{value ?? ''}</Identifier> },
    { title: t('audit.via'), dataIndex: 'via', width: 90, responsive: ['lg'], render: (value: string | null) => (value ? <span title={value}>{viaLabel(value)}</span> : '') },
    { title: t('audit.objectId'), key: 'object', ellipsis: true, render: (_, row) => <Identifier>{[row.object_type, row.object_id].filter(Boolean).join(': ')}</Identifier> },
    { title: t('audit.patientId'), dataIndex: 'patient_id', width: 110, responsive: ['xl'] },
  ];
  return (
    <Card size="small" title={t('audit.title')} data-testid="audit-page"
      extra={
        <Space>
          <Button icon={<DownloadOutlined />} href={exportPath} onClick={(event) => { event.preventDefault(); void downloadBlob(exportPath, 'audit-events.csv').catch((caught: unknown) => message.error(String(caught))); }} data-testid="audit-export">
            {t('audit.exportCsv')}
          </Button>
          <Button icon={<SafetyCertificateOutlined />} onClick={() => void verify()}>
            {t('audit.verify')}
          </Button>
        </Space>
      }
    >
      <Form layout="inline" onFinish={(values: AuditFilter) => setFilter(values)} style={{ marginBottom: 12, rowGap: 8 }}>
        <Form.Item name="range">
          <DatePicker.RangePicker placeholder={[t('audit.from'), t('audit.to')]} />
        </Form.Item>
        <Form.Item name="action">
          <Input placeholder={t('audit.action')} style={{ width: 150 }} allowClear />
        </Form.Item>
        <Form.Item name="actor">
          <Input placeholder={t('audit.actor')} style={{ width: 120 }} allowClear />
        </Form.Item>
        <Form.Item name="institutionId">
          <Input placeholder={t('audit.institution')} style={{ width: 120 }} allowClear />
        </Form.Item>
        <Form.Item name="patientId">
          <Input placeholder={t('audit.patientId')} style={{ width: 120 }} allowClear />
        </Form.Item>
        <Form.Item>
          <Button type="primary" htmlType="submit">
            {t('app.search')}
          </Button>
        </Form.Item>
      </Form>
      <Table<AuditEvent> rowKey="seq" size="small" loading={loading} columns={columns} dataSource={rows} pagination={{ pageSize: 50, hideOnSinglePage: true }} scroll={{ x: 900 }} />
    </Card>
  );
}

/** The action by its name (签发报告), its stored code (report.signed) on hover; an unknown code as it is. */
function ActionName({ code }: { code: string }) {
  const { locale } = useI18n();
  const label = auditActionLabel(code, locale);
  return label ? <span title={code} data-action={code} data-testid="audit-action">{label}</span> : <Typography.Text code data-action={code} data-testid="audit-action">{code}</Typography.Text>;
}

/**
 * A stored code or identifier shown verbatim (user names, institution IDs, channels, object
 * keys): an audit record is evidence and is searched by these exact values, so they are not
 * translated; data-identifier tells the zh-CN string check so.
 */
function Identifier({ children }: { children: string }) {
  return <span data-identifier>{children}</span>;
}
