import { useEffect, useMemo, useState } from 'react';
import { App, Card, DatePicker, Space, Statistic, Table, Tag, Typography } from 'antd';
import type { ColumnsType } from 'antd/es/table';
import type { Dayjs } from 'dayjs';
import { criticalApi, type CriticalFinding } from '../../api/critical-findings.ts';
import { useI18n, type MessageKey } from '../../i18n/i18n.tsx';
import { formatDateTime, formatDuration, formatPersonName } from '../../app/format.ts';
import { useCategoryLabel } from '../township/CriticalAlertBanner.tsx';

function median(values: number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/**
 * 危急值统计: the critical findings the caller's institution flagged or received (all of
 * them for administrators; the server decides), with the time from the flag to the
 * acknowledgement. On the statistics page and on its own route for the clinical roles.
 */
export default function CriticalFindingsStats() {
  const { t } = useI18n();
  const { message } = App.useApp();
  const categoryLabel = useCategoryLabel();
  const [range, setRange] = useState<[Dayjs | null, Dayjs | null] | null>(null);
  const [rows, setRows] = useState<CriticalFinding[]>();
  useEffect(() => {
    criticalApi
      .list({ from: range?.[0]?.startOf('day').toISOString(), to: range?.[1]?.endOf('day').toISOString(), limit: 1000 })
      .then(setRows)
      .catch((caught: unknown) => message.error(caught instanceof Error ? caught.message : String(caught)));
  }, [range, message]);

  const summary = useMemo(() => {
    const list = rows ?? [];
    const acknowledged = list.filter((row) => row.status === 'acknowledged');
    return { total: list.length, acknowledged: acknowledged.length, open: list.length - acknowledged.length, escalated: list.filter((row) => row.escalations > 0).length, median: median(acknowledged.map((row) => row.secondsToAcknowledge ?? 0)) };
  }, [rows]);

  const columns: ColumnsType<CriticalFinding> = [
    { title: t('critical.flaggedAt'), dataIndex: 'flaggedAt', width: 140, render: (value: string) => formatDateTime(value) },
    { title: t('critical.patient'), key: 'patient', width: 110, render: (_, row) => formatPersonName(row.patient?.name) },
    { title: t('critical.category'), key: 'category', render: (_, row) => <Typography.Text strong>{categoryLabel(row)}</Typography.Text> },
    { title: t('critical.requesting'), dataIndex: 'requestingInstitutionName', responsive: ['lg'] },
    { title: t('critical.reading'), dataIndex: 'readingInstitutionName', responsive: ['xl'] },
    { title: t('critical.flaggedBy'), key: 'by', width: 100, render: (_, row) => row.flaggedByName ?? row.flaggedBy },
    {
      title: t('critical.status'),
      key: 'status',
      width: 120,
      render: (_, row) => (
        <Space size={2} wrap>
          <Tag color={row.status === 'open' ? 'red' : 'green'}>{t(`critical.status.${row.status}` as MessageKey)}</Tag>
          {row.escalations > 0 && <Tag color="orange">{t('critical.escalations', { count: row.escalations })}</Tag>}
        </Space>
      ),
    },
    { title: t('critical.receivedBy'), key: 'received', width: 100, render: (_, row) => row.acknowledgement?.receivedBy ?? '' },
    { title: t('critical.informedVia'), key: 'via', width: 110, responsive: ['lg'], render: (_, row) => (row.acknowledgement ? t(`critical.via.${row.acknowledgement.informedVia}` as MessageKey) : '') },
    { title: t('critical.timeToAck'), key: 'tta', width: 110, render: (_, row) => <span data-testid="critical-time-to-ack">{row.secondsToAcknowledge !== null ? formatDuration(row.secondsToAcknowledge) : '—'}</span> },
  ];

  return (
    <Card
      size="small"
      data-testid="critical-stats"
      title={t('critical.stats.title')}
      extra={
        <Space>
          <Typography.Text>{t('stats.period')}</Typography.Text>
          <DatePicker.RangePicker value={range} onChange={(value) => setRange(value as typeof range)} />
        </Space>
      }
    >
      <Space wrap size="large" style={{ marginBottom: 12 }}>
        <Statistic title={t('critical.stats.total')} value={summary.total} />
        <Statistic title={t('critical.stats.acknowledged')} value={summary.acknowledged} />
        <Statistic title={t('critical.stats.open')} value={summary.open} valueStyle={summary.open > 0 ? { color: '#cf1322' } : undefined} />
        <Statistic title={t('critical.stats.escalated')} value={summary.escalated} />
        <Statistic title={t('critical.stats.medianAck')} value={summary.median === undefined ? '—' : formatDuration(summary.median)} />
      </Space>
      <Table<CriticalFinding>
        rowKey="id"
        size="small"
        loading={rows === undefined}
        columns={columns}
        dataSource={rows ?? []}
        pagination={{ pageSize: 20, hideOnSinglePage: true }}
        locale={{ emptyText: t('critical.empty') }}
        onRow={(row) => ({ 'data-finding-id': row.id, 'data-status': row.status }) as React.HTMLAttributes<HTMLTableRowElement>}
        data-testid="critical-stats-table"
      />
    </Card>
  );
}
