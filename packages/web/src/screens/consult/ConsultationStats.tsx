import { useEffect, useMemo, useState } from 'react';
import { Alert, Card, Col, DatePicker, Empty, Row, Space, Statistic, Table, Typography } from 'antd';
import type { Dayjs } from 'dayjs';
import { fetchConsultationStatistics, type ConsultationStatistics, type DurationSummary } from '../../api/consultations.ts';
import { EChart, type ChartOption } from '../../app/EChart.tsx';
import { useT, type MessageKey } from '../../i18n/i18n.tsx';
import { refusalText } from '../admin/refusal.ts';
import { ReferralDirectionTag } from './tags.tsx';

const minutes = (value: number | null | undefined) => (value === null || value === undefined ? '—' : value.toFixed(1));
const rate = (value: number | null | undefined) => (value === null || value === undefined ? '—' : `${(value * 100).toFixed(0)}%`);

/**
 * 会诊与转诊统计 (GET /api/v1/statistics/consultations): consultations by type, requesting
 * institution and month; the time to the first opinion and to the conclusion (mean, median,
 * 90th percentile, share within the time limit); the fastest single case and the fastest
 * institution mean, each under its own label; referrals by institution pair.
 */
export default function ConsultationStats() {
  const t = useT();
  const [range, setRange] = useState<[Dayjs | null, Dayjs | null] | null>(null);
  const [data, setData] = useState<ConsultationStatistics>();
  const [error, setError] = useState<string>();
  useEffect(() => {
    fetchConsultationStatistics({ from: range?.[0]?.startOf('day').toISOString(), to: range?.[1]?.endOf('day').toISOString() })
      .then((next) => {
        setData(next);
        setError(undefined);
      })
      .catch((caught: unknown) => setError(refusalText(t, caught)));
  }, [range, t]);

  const byType = useMemo<ChartOption>(() => ({ tooltip: { trigger: 'item' }, legend: { bottom: 0 }, series: [{ type: 'pie', radius: ['40%', '68%'], name: t('consultStats.count'), data: (data?.byType ?? []).map((row) => ({ name: t(`consult.type.${row.type}` as MessageKey), value: row.count })) }] }), [data, t]);
  const byInstitution = useMemo<ChartOption>(() => ({ tooltip: { trigger: 'axis' }, grid: { left: 40, right: 12, top: 16, bottom: 60 }, xAxis: { type: 'category', data: (data?.byInstitution ?? []).map((row) => row.name ?? row.institutionId), axisLabel: { rotate: 30 } }, yAxis: { type: 'value', minInterval: 1 }, series: [{ type: 'bar', barMaxWidth: 48, name: t('consultStats.count'), data: (data?.byInstitution ?? []).map((row) => row.count), itemStyle: { color: '#1668dc' } }] }), [data, t]);
  const byMonth = useMemo<ChartOption>(() => ({ tooltip: { trigger: 'axis' }, grid: { left: 40, right: 12, top: 16, bottom: 30 }, xAxis: { type: 'category', data: (data?.byMonth ?? []).map((row) => row.month) }, yAxis: { type: 'value', minInterval: 1 }, series: [{ type: 'bar', barMaxWidth: 48, name: t('consultStats.count'), data: (data?.byMonth ?? []).map((row) => row.count), itemStyle: { color: '#13a8a8' } }] }), [data, t]);

  const chart = (title: string, option: ChartOption, count: number, testId: string) => (
    <Card size="small" title={title}>
      {count === 0 ? <Empty description={t('stats.empty')} /> : <EChart option={option} testId={testId} />}
    </Card>
  );
  const durations: Array<{ key: string; label: string; summary: DurationSummary }> = data
    ? [
        { key: 'first-opinion', label: t('consultStats.firstOpinion'), summary: data.firstOpinion },
        { key: 'conclusion', label: t('consultStats.conclusion'), summary: data.conclusion },
      ]
    : [];

  return (
    <Space direction="vertical" size={12} style={{ width: '100%' }} data-testid="consultation-stats">
      <Card size="small">
        <Space wrap size="large">
          <Typography.Title level={5} style={{ margin: 0 }}>
            {t('consultStats.title')}
          </Typography.Title>
          <Space>
            <Typography.Text>{t('stats.period')}</Typography.Text>
            <DatePicker.RangePicker value={range} onChange={(value) => setRange(value as typeof range)} />
          </Space>
        </Space>
      </Card>
      {error && <Alert type="error" showIcon title={error} data-testid="consultation-stats-error" />}
      <Row gutter={[12, 12]}>
        <Col xs={24} lg={8}>{chart(t('consultStats.byType'), byType, data?.byType.length ?? 0, 'chart-consult-type')}</Col>
        <Col xs={24} lg={16}>{chart(t('consultStats.byInstitution'), byInstitution, data?.byInstitution.length ?? 0, 'chart-consult-institution')}</Col>
        <Col xs={24}>{chart(t('consultStats.byMonth'), byMonth, data?.byMonth.length ?? 0, 'chart-consult-month')}</Col>
      </Row>
      <Card size="small">
        <Table
          rowKey="key"
          size="small"
          pagination={false}
          dataSource={durations}
          loading={!data && !error}
          columns={[
            { title: t('consultStats.measure'), dataIndex: 'label' },
            { title: t('consultStats.cases'), key: 'count', render: (_, row) => row.summary.count },
            { title: t('consultStats.mean'), key: 'mean', render: (_, row) => t('consultStats.minutes', { value: minutes(row.summary.meanMinutes) }) },
            { title: t('consultStats.median'), key: 'median', render: (_, row) => t('consultStats.minutes', { value: minutes(row.summary.medianMinutes) }) },
            { title: t('consultStats.p90'), key: 'p90', render: (_, row) => t('consultStats.minutes', { value: minutes(row.summary.p90Minutes) }) },
            { title: t('consultStats.slaMet'), key: 'sla', render: (_, row) => rate(row.summary.slaMetRate) },
          ]}
          onRow={(row) => ({ 'data-testid': 'consultation-stats-duration', 'data-measure': row.key }) as React.HTMLAttributes<HTMLTableRowElement>}
        />
        <Space wrap size="large" style={{ marginTop: 12 }}>
          <Card size="small" data-testid="consultation-stats-fastest-case">
            <Statistic
              title={t('consultStats.fastestCase')}
              value={data?.fastestCase ? t('consultStats.fastestCaseValue', { minutes: minutes(data.fastestCase.minutes), name: data.fastestCase.name ?? data.fastestCase.institutionId }) : '—'}
            />
          </Card>
          <Card size="small" data-testid="consultation-stats-fastest-institution">
            <Statistic
              title={t('consultStats.fastestInstitution')}
              value={
                data?.fastestInstitutionMean
                  ? t('consultStats.fastestInstitutionValue', { name: data.fastestInstitutionMean.name ?? data.fastestInstitutionMean.institutionId, minutes: minutes(data.fastestInstitutionMean.meanMinutes), count: data.fastestInstitutionMean.count })
                  : '—'
              }
            />
          </Card>
        </Space>
      </Card>
      <Card size="small" title={t('consultStats.referrals')}>
        <Table
          rowKey={(row) => `${row.fromInstitutionId}>${row.toInstitutionId}:${row.direction}`}
          size="small"
          pagination={{ pageSize: 20, hideOnSinglePage: true }}
          dataSource={data?.referrals ?? []}
          locale={{ emptyText: t('stats.empty') }}
          columns={[
            { title: t('referral.from'), key: 'from', render: (_, row) => row.fromName ?? <span data-identifier>{row.fromInstitutionId}</span> },
            { title: t('referral.to'), key: 'to', render: (_, row) => row.toName ?? <span data-identifier>{row.toInstitutionId}</span> },
            { title: t('referral.direction'), key: 'direction', render: (_, row) => <ReferralDirectionTag direction={row.direction} /> },
            { title: t('consultStats.referralCount'), dataIndex: 'count' },
          ]}
          data-testid="consultation-stats-referrals"
        />
      </Card>
    </Space>
  );
}
