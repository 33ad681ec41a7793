import { useEffect, useMemo, useState } from 'react';
import { App, Card, Col, DatePicker, Empty, Row, Space, Statistic, Typography } from 'antd';
import type { Dayjs } from 'dayjs';
import { api } from '../api/client.ts';
import type { StudyCount } from '../api/types.ts';
import { useT } from '../i18n/i18n.tsx';
import { EChart, type ChartOption } from '../app/EChart.tsx';
import { dicomDateOf } from '../app/format.ts';
import { useUser } from '../app/auth.tsx';
import { CRITICAL_READERS } from '../api/critical-findings.ts';
import CriticalFindingsStats from './statistics/CriticalFindingsStats.tsx';

type Grouping = 'institution' | 'modality' | 'month';
/** grouped by institution, each row also names it */
type NamedStudyCount = StudyCount & { name?: string | null };

/** The commission's dashboard: study counts by institution, modality and month (GET /api/v1/statistics/studies). */
export default function StatisticsPage() {
  const t = useT();
  const user = useUser();
  const { message } = App.useApp();
  const [range, setRange] = useState<[Dayjs | null, Dayjs | null] | null>(null);
  const [data, setData] = useState<Record<Grouping, NamedStudyCount[]>>({ institution: [], modality: [], month: [] });
  useEffect(() => {
    const query = { from: range?.[0] ? dicomDateOf(range[0].toDate()) : undefined, to: range?.[1] ? dicomDateOf(range[1].toDate()) : undefined };
    Promise.all((['institution', 'modality', 'month'] as const).map((groupBy) => api.get<NamedStudyCount[]>('/api/v1/statistics/studies', { groupBy, ...(groupBy === 'institution' ? { names: 'true' } : {}), ...query })))
      .then(([institution, modality, month]) => setData({ institution: institution!, modality: modality!, month: month! }))
      .catch((caught: unknown) => message.error(caught instanceof Error ? caught.message : String(caught)));
  }, [range, message]);

  const total = data.modality.reduce((sum, row) => sum + row.studies, 0);
  const instances = data.modality.reduce((sum, row) => sum + row.instances, 0);
  const label = (key: string | null) => key ?? '—';
  const byInstitution = useMemo<ChartOption>(() => ({ tooltip: { trigger: 'axis' }, grid: { left: 40, right: 12, top: 16, bottom: 60 }, xAxis: { type: 'category', data: data.institution.map((row) => row.name || label(row.key)), axisLabel: { rotate: 30 } }, yAxis: { type: 'value' }, series: [{ type: 'bar', name: t('stats.studies'), data: data.institution.map((row) => row.studies), itemStyle: { color: '#1668dc' } }] }), [data.institution, t]);
  const byModality = useMemo<ChartOption>(() => ({ tooltip: { trigger: 'item' }, legend: { bottom: 0 }, series: [{ type: 'pie', radius: ['40%', '68%'], name: t('stats.studies'), data: data.modality.map((row) => ({ name: label(row.key), value: row.studies })) }] }), [data.modality, t]);
  const byMonth = useMemo<ChartOption>(() => ({ tooltip: { trigger: 'axis' }, grid: { left: 40, right: 12, top: 16, bottom: 30 }, xAxis: { type: 'category', data: data.month.map((row) => (row.key ? `${row.key.slice(0, 4)}-${row.key.slice(4)}` : '—')) }, yAxis: { type: 'value' }, series: [{ type: 'bar', barMaxWidth: 48, name: t('stats.studies'), data: data.month.map((row) => row.studies), itemStyle: { color: '#13a8a8' } }] }), [data.month, t]);

  const chart = (title: string, option: ChartOption, rows: StudyCount[], testId: string) => (
    <Card size="small" title={title}>
      {rows.length === 0 ? <Empty description={t('stats.empty')} /> : <EChart option={option} testId={testId} />}
    </Card>
  );
  return (
    <Space direction="vertical" style={{ width: '100%' }} size={12} data-testid="statistics-page">
      <Card size="small">
        <Space wrap size="large">
          <Typography.Title level={4} style={{ margin: 0 }}>
            {t('stats.title')}
          </Typography.Title>
          <Space>
            <Typography.Text>{t('stats.period')}</Typography.Text>
            <DatePicker.RangePicker value={range} onChange={(value) => setRange(value as typeof range)} />
          </Space>
          <Statistic title={t('stats.total')} value={total} />
          <Statistic title={t('township.instances')} value={instances} />
        </Space>
      </Card>
      <Row gutter={[12, 12]}>
        <Col xs={24} lg={12}>{chart(t('stats.byInstitution'), byInstitution, data.institution, 'chart-institution')}</Col>
        <Col xs={24} lg={12}>{chart(t('stats.byModality'), byModality, data.modality, 'chart-modality')}</Col>
        <Col xs={24}>{chart(t('stats.byMonth'), byMonth, data.month, 'chart-month')}</Col>
      </Row>
      {CRITICAL_READERS.includes(user.role) && <CriticalFindingsStats />}
    </Space>
  );
}
