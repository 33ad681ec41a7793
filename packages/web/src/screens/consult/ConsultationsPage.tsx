import { useCallback, useEffect, useState } from 'react';
import { useNavigate, useSearchParams } from 'react-router-dom';
import { Alert, App, Button, Card, Select, Space, Table, Tabs } from 'antd';
import type { ColumnsType } from 'antd/es/table';
import { PlusOutlined, ReloadOutlined } from '@ant-design/icons';
import { CONSULTATION_STATUSES, consultationsApi, mayConsult, type ConsultationStatus, type ConsultationView } from '../../api/consultations.ts';
import { useUser } from '../../app/auth.tsx';
import { formatDateTime } from '../../app/format.ts';
import { useT, type MessageKey } from '../../i18n/i18n.tsx';
import { refusalText } from '../admin/refusal.ts';
import { ConsultationForm } from './ConsultationForm.tsx';
import { ConsultationCountdown } from './Countdown.tsx';
import { ConsultationStatusTag, ConsultationTypeTag } from './tags.tsx';
import ConsultationStats from './ConsultationStats.tsx';

type Box = 'outgoing' | 'incoming';

/**
 * 远程会诊 (issue 18): the requester's consultations (发起的会诊) with the form to ask for one,
 * the expert's queue (待处理会诊) with the countdown to each one's time limit, and for the
 * roles holding consult:statistics the statistics. `?study=<uid>` (repeatable) opens the form
 * with those studies, e.g. from the worklist.
 */
export default function ConsultationsPage() {
  const t = useT();
  const user = useUser();
  const [params, setParams] = useSearchParams();
  const requesting = mayConsult(user.role, 'consult:request');
  const answering = mayConsult(user.role, 'consult:answer');
  const statistics = mayConsult(user.role, 'consult:statistics');
  const incomingTab = answering || user.role === 'administrator';
  const tab = params.get('tab') ?? (answering ? 'incoming' : 'outgoing');
  const items = [
    { key: 'outgoing', label: t('consult.tab.outgoing'), children: <ConsultationList box="outgoing" mayCreate={requesting} /> },
    ...(incomingTab ? [{ key: 'incoming', label: t('consult.tab.incoming'), children: <ConsultationList box="incoming" mayCreate={false} /> }] : []),
    ...(statistics ? [{ key: 'statistics', label: t('consult.tab.statistics'), children: <ConsultationStats /> }] : []),
  ];
  return (
    <Card size="small" title={t('consult.title')} data-testid="consultations-page">
      <Tabs
        activeKey={items.some((item) => item.key === tab) ? tab : 'outgoing'}
        onChange={(key) => {
          const next = new URLSearchParams(params);
          next.set('tab', key);
          setParams(next, { replace: true });
        }}
        items={items.map((item) => ({ ...item, label: <span data-testid={`consultations-tab-${item.key}`}>{item.label}</span> }))}
        destroyOnHidden
      />
    </Card>
  );
}

function ConsultationList({ box, mayCreate }: { box: Box; mayCreate: boolean }) {
  const t = useT();
  const navigate = useNavigate();
  const { message } = App.useApp();
  const [params, setParams] = useSearchParams();
  const [status, setStatus] = useState<ConsultationStatus>();
  const [rows, setRows] = useState<ConsultationView[]>();
  const [error, setError] = useState<string>();
  const presetStudies = params.getAll('study');
  const [creating, setCreating] = useState(mayCreate && presetStudies.length > 0);

  const load = useCallback(() => {
    consultationsApi
      .list(box, status)
      .then((list) => {
        setRows(list);
        setError(undefined);
      })
      .catch((caught: unknown) => {
        setRows([]);
        setError(refusalText(t, caught));
      });
  }, [box, status, t]);
  useEffect(load, [load]);
  // the queue's states change on the other side: look again every half minute
  useEffect(() => {
    const timer = setInterval(load, 30_000);
    return () => clearInterval(timer);
  }, [load]);

  const columns: ColumnsType<ConsultationView> = [
    { title: t('consult.type'), key: 'type', width: 110, render: (_, row) => <ConsultationTypeTag type={row.type} /> },
    { title: t('consult.status'), key: 'status', width: 100, render: (_, row) => <ConsultationStatusTag status={row.status} /> },
    { title: t('consult.question'), dataIndex: 'question', ellipsis: true },
    box === 'outgoing'
      ? { title: t('consult.expertInstitution'), key: 'expert', width: 180, render: (_, row) => row.expertInstitutionName ?? <span data-identifier>{row.expertInstitutionId}</span> }
      : { title: t('consult.requesting'), key: 'requesting', width: 180, render: (_, row) => row.requestingInstitutionName ?? <span data-identifier>{row.requestingInstitutionId}</span> },
    { title: t('consult.requestedBy'), key: 'by', width: 110, responsive: ['lg'], render: (_, row) => row.requestedByName ?? <span data-identifier>{row.requestedBy}</span> },
    { title: t('consult.createdAt'), dataIndex: 'createdAt', width: 140, render: (value: string) => formatDateTime(value) },
    { title: t('consult.due'), key: 'due', width: 150, render: (_, row) => <ConsultationCountdown consultation={row} /> },
    {
      title: '',
      key: 'open',
      width: 80,
      render: (_, row) => (
        <Button size="small" onClick={() => navigate(`/consultations/${encodeURIComponent(row.id)}`)} data-testid="consultation-open">
          {t('consult.open')}
        </Button>
      ),
    },
  ];

  return (
    <Space direction="vertical" size={8} style={{ width: '100%' }} data-testid={`consultations-${box}`}>
      <Space wrap>
        {mayCreate && (
          <Button type="primary" icon={<PlusOutlined />} onClick={() => setCreating(true)} data-testid="consultation-create">
            {t('consult.create')}
          </Button>
        )}
        <Select<ConsultationStatus>
          allowClear
          placeholder={t('consult.allStatuses')}
          style={{ width: 140 }}
          value={status}
          onChange={setStatus}
          options={CONSULTATION_STATUSES.map((value) => ({ value, label: t(`consult.status.${value}` as MessageKey) }))}
          data-testid="consultation-status-filter"
        />
        <Button icon={<ReloadOutlined />} onClick={load} data-testid="consultations-refresh">
          {t('app.refresh')}
        </Button>
      </Space>
      {error && <Alert type="error" showIcon title={error} data-testid="consultations-error" />}
      <Table<ConsultationView>
        rowKey="id"
        size="small"
        loading={rows === undefined}
        columns={columns}
        dataSource={rows ?? []}
        pagination={{ pageSize: 20, hideOnSinglePage: true }}
        locale={{ emptyText: t('consult.empty') }}
        onRow={(row) => ({ 'data-testid': 'consultation-row', 'data-consultation-id': row.id, 'data-status': row.status, 'data-overdue': String(row.overdue), onDoubleClick: () => navigate(`/consultations/${encodeURIComponent(row.id)}`) }) as React.HTMLAttributes<HTMLTableRowElement>}
        data-testid="consultations-table"
      />
      {creating && (
        <ConsultationForm
          initialStudies={presetStudies}
          onClose={() => setCreating(false)}
          onCreated={(created) => {
            setCreating(false);
            message.success(t('consult.created'));
            if (presetStudies.length) {
              const next = new URLSearchParams(params);
              next.delete('study');
              setParams(next, { replace: true });
            }
            setRows((current) => [created, ...(current ?? []).filter((row) => row.id !== created.id)]);
          }}
        />
      )}
    </Space>
  );
}
