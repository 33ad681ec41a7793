import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { useNavigate } from 'react-router-dom';
import { App, Badge, Button, Card, DatePicker, Input, Select, Space, Switch, Table, Tooltip, Typography } from 'antd';
import type { ColumnsType } from 'antd/es/table';
import { ReloadOutlined, SearchOutlined } from '@ant-design/icons';
import type { Dayjs } from 'dayjs';
import { api, ApiError } from '../api/client.ts';
import { PRIORITIES, REQUEST_STATUSES, type PatientAge, type ReadingRequest, type RequestStatus } from '../api/types.ts';
import { useT, type MessageKey } from '../i18n/i18n.tsx';
import { useCodeLabels } from '../i18n/codes.ts';
import { useUser } from '../app/auth.tsx';
import { useLiveEvents } from '../app/live-events.tsx';
import { useNow } from '../app/use-now.ts';
import { prefetchReadingPage } from '../app/reading-page-chunk.ts';
import { CriticalRowMark, useCriticalMarks } from '../app/CriticalRowMark.tsx';
import { formatDateTime, formatDicomDate, formatPersonName } from '../app/format.ts';
import { PriorityTag, SlaCountdown, StatusTag, isOpenStatus } from '../app/request-tags.tsx';
import { ReturnedComments, ReturnedTag, useReturnedNotices } from './reading/ReturnedMark.tsx';

const READER_ROLES = ['radiologist', 'reviewing-radiologist', 'expert'];
const DEFAULT_STATUSES: RequestStatus[] = ['pending', 'claimed', 'submitted'];
const MODALITIES = ['CT', 'DX', 'CR', 'MR', 'US', 'MG', 'XA', 'RF', 'NM', 'PT'];
/** Typing pauses this long before the list is searched again. */
const SEARCH_DELAY_MS = 300;
const AGE_KEYS = { Y: 'worklist.ageY', M: 'worklist.ageM', W: 'worklist.ageW', D: 'worklist.ageD' } as const;

interface Filters {
  statuses: RequestStatus[];
  priorities: string[];
  modality?: string;
  institution?: string;
  range?: [Dayjs | null, Dayjs | null] | null;
  mine: boolean;
  /** patient name (hanzi or pinyin), Patient ID or accession number: the server's q */
  search: string;
}

/**
 * The diagnostic centre's worklist (mode worklist) or the reviewer's queue (mode review,
 * status submitted): ordered by priority then waiting time by the server, SLA countdown
 * every second, overdue rows highlighted, refreshed live from the event stream.
 */
export default function WorklistPage({ mode = 'worklist' }: { mode?: 'worklist' | 'review' }) {
  const t = useT();
  const codes = useCodeLabels();
  const user = useUser();
  const navigate = useNavigate();
  const { message } = App.useApp();
  const now = useNow(1000);
  const [filters, setFilters] = useState<Filters>({ statuses: mode === 'review' ? ['submitted'] : DEFAULT_STATUSES, priorities: [], mine: false, search: '' });
  const [searchText, setSearchText] = useState('');
  const [rows, setRows] = useState<ReadingRequest[]>([]);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<string>();
  const [claiming, setClaiming] = useState<string>();
  const isReader = READER_ROLES.includes(user.role);
  // review stage: the author hears at once that a report came back
  useReturnedNotices();
  const criticalMarks = useCriticalMarks();

  useEffect(() => {
    setFilters((current) => ({ ...current, statuses: mode === 'review' ? ['submitted'] : DEFAULT_STATUSES }));
  }, [mode]);

  // A reader's next step is the reading page: have its code (the viewer) ready before the click.
  useEffect(() => (isReader ? prefetchReadingPage() : undefined), [isReader]);

  // Search as the user types, once typing pauses.
  useEffect(() => {
    const timer = setTimeout(() => setFilters((current) => (current.search === searchText.trim() ? current : { ...current, search: searchText.trim() })), SEARCH_DELAY_MS);
    return () => clearTimeout(timer);
  }, [searchText]);

  const load = useCallback(async () => {
    try {
      const list = await api.get<ReadingRequest[]>('/api/v1/reading-requests', {
        status: filters.statuses.join(',') || undefined,
        priority: filters.priorities.join(',') || undefined,
        modality: filters.modality,
        requestingInstitutionId: filters.institution?.trim() || undefined,
        from: filters.range?.[0]?.startOf('day').toISOString(),
        to: filters.range?.[1]?.endOf('day').toISOString(),
        mine: filters.mine || undefined,
        q: filters.search || undefined,
        limit: 500,
      });
      setRows(list);
      setError(undefined);
    } catch (caught) {
      setError(caught instanceof Error ? caught.message : String(caught));
    } finally {
      setLoading(false);
    }
  }, [filters]);

  useEffect(() => {
    setLoading(true);
    void load();
  }, [load]);

  // Live: any reading or report notification refreshes the list (coalesced).
  const refreshTimer = useRef<ReturnType<typeof setTimeout>>(undefined);
  const { connected } = useLiveEvents((event) => {
    if (!event.type.startsWith('reading-request.') && !event.type.startsWith('report.') && !event.type.startsWith('retake.')) return;
    clearTimeout(refreshTimer.current);
    refreshTimer.current = setTimeout(() => void load(), 200);
  });
  useEffect(() => () => clearTimeout(refreshTimer.current), []);

  const claim = async (row: ReadingRequest) => {
    setClaiming(row.id);
    try {
      await api.post(`/api/v1/reading-requests/${row.id}/claim`);
      message.success(t('worklist.claimed'));
      navigate(`/reading/${row.id}`);
    } catch (caught) {
      message.error(caught instanceof ApiError ? caught.message : String(caught));
      void load();
    } finally {
      setClaiming(undefined);
    }
  };

  /** Claims the first pending request in worklist order (POST /reading-requests/claim-next) and opens it. */
  const claimNext = async () => {
    setClaiming('next');
    try {
      const next = await api.post<ReadingRequest>('/api/v1/reading-requests/claim-next');
      navigate(`/reading/${next.id}`);
    } catch (caught) {
      message.info(caught instanceof ApiError ? caught.message : String(caught));
    } finally {
      setClaiming(undefined);
    }
  };

  const institutions = useMemo(() => [...new Set(rows.map((row) => row.requestingInstitutionId))].sort(), [rows]);

  const columns: ColumnsType<ReadingRequest> = [
    { title: t('worklist.priority'), dataIndex: 'priority', width: 80, render: (_, row) => <PriorityTag priority={row.priority} /> },
    {
      title: t('worklist.patient'),
      key: 'patient',
      ellipsis: true,
      render: (_, row) => (
        <span>
          <Typography.Text strong>{formatPersonName(row.patient?.name)}</Typography.Text>
          <Typography.Text type="secondary" style={{ marginInlineStart: 6, fontSize: 12 }}>
            {codes.sex(row.patient?.sex)} {row.patient?.id ?? ''}
          </Typography.Text>
          <CriticalRowMark findings={criticalMarks.get(row.id)} />
          <ReturnedComments row={row} />
        </span>
      ),
    },
    { title: t('worklist.age'), key: 'age', width: 70, render: (_, row) => <span data-testid="patient-age">{formatAge(row.patient?.ageAtStudy, t)}</span> },
    { title: t('worklist.modality'), dataIndex: 'modality', width: 80 },
    { title: t('worklist.bodyParts'), key: 'bodyParts', width: 110, ellipsis: true, render: (_, row) => codes.bodyParts(row.bodyParts) },
    { title: t('worklist.institution'), dataIndex: 'requestingInstitutionId', width: 140, ellipsis: true, responsive: ['lg'], render: (_: unknown, row: ReadingRequest) => row.requestingInstitutionName ?? row.requestingInstitutionId },
    { title: t('worklist.studyDate'), key: 'studyDate', width: 100, responsive: ['xl'], render: (_, row) => formatDicomDate(row.studyDate) },
    { title: t('worklist.requestedAt'), dataIndex: 'createdAt', width: 130, render: (value: string) => formatDateTime(value) },
    { title: t('worklist.status'), dataIndex: 'status', width: 96, render: (_, row) => (
        <Space size={2} wrap>
          <StatusTag status={row.status} />
          <ReturnedTag row={row} />
        </Space>
      ) },
    { title: t('worklist.sla'), key: 'sla', width: 130, render: (_, row) => <SlaCountdown dueAt={row.dueAt} now={now} open={isOpenStatus(row.status)} /> },
    { title: t('worklist.claimedBy'), dataIndex: 'claimedBy', width: 90, ellipsis: true, responsive: ['lg'], render: (_, row) => <span data-testid="claimed-by">{row.claimedByName || row.claimedBy || ''}</span> },
    {
      title: t('app.actions'),
      key: 'actions',
      width: 150,
      fixed: 'right',
      render: (_, row) => (
        <Space size="small">
          {isReader && row.status === 'pending' && (
            <Button type="primary" size="small" loading={claiming === row.id} onClick={() => void claim(row)} data-testid="claim">
              {t('worklist.claim')}
            </Button>
          )}
          <Button size="small" onClick={() => navigate(`/reading/${row.id}`)} data-testid="open">
            {row.status === 'submitted' && user.role === 'reviewing-radiologist' ? t('worklist.review') : t('worklist.open')}
          </Button>
        </Space>
      ),
    },
  ];

  const statusOptions = REQUEST_STATUSES.map((status) => ({ value: status, label: t(`status.${status}` as MessageKey) }));
  return (
    <Card
      size="small"
      title={
        <Space>
          {mode === 'review' ? t('review.queue') : t('worklist.title')}
          <Tooltip title={connected ? t('app.live') : t('app.offline')}>
            <Badge status={connected ? 'processing' : 'default'} text={connected ? t('app.live') : t('app.offline')} data-testid="live-indicator" data-connected={connected} />
          </Tooltip>
        </Space>
      }
      extra={
        <Space>
          <Typography.Text type="secondary">{t('worklist.count', { count: rows.length })}</Typography.Text>
          {isReader && mode === 'worklist' && (
            <Button type="primary" size="small" loading={claiming === 'next'} onClick={() => void claimNext()} data-testid="claim-next">
              {t('worklist.next')}
            </Button>
          )}
          <Button icon={<ReloadOutlined />} size="small" onClick={() => void load()}>
            {t('app.refresh')}
          </Button>
        </Space>
      }
      data-testid={mode === 'review' ? 'review-queue' : 'worklist'}
    >
      <Space wrap style={{ marginBottom: 12 }}>
        <Input allowClear prefix={<SearchOutlined />} placeholder={t('worklist.search')} aria-label={t('worklist.search')} style={{ width: 240 }} value={searchText} maxLength={64} onChange={(event) => setSearchText(event.target.value)} onPressEnter={() => setFilters((current) => ({ ...current, search: searchText.trim() }))} data-testid="worklist-search" />
        {mode === 'worklist' && (
          <Select mode="multiple" allowClear placeholder={t('worklist.filterStatus')} style={{ minWidth: 220 }} value={filters.statuses} options={statusOptions} onChange={(statuses) => setFilters({ ...filters, statuses })} maxTagCount="responsive" data-testid="filter-status" />
        )}
        <Select mode="multiple" allowClear placeholder={t('worklist.filterPriority')} style={{ minWidth: 160 }} value={filters.priorities} options={PRIORITIES.map((p) => ({ value: p, label: t(`priority.${p}` as MessageKey) }))} onChange={(priorities) => setFilters({ ...filters, priorities })} />
        <Select allowClear placeholder={t('worklist.filterModality')} style={{ width: 130 }} value={filters.modality} options={MODALITIES.map((m) => ({ value: m, label: m }))} onChange={(modality?: string) => setFilters({ ...filters, modality })} />
        <Select
          allowClear
          showSearch
          placeholder={t('worklist.filterInstitution')}
          style={{ width: 160 }}
          value={filters.institution}
          options={institutions.map((id) => ({ value: id, label: id }))}
          onChange={(institution?: string) => setFilters({ ...filters, institution })}
          popupRender={(menu) => (
            <>
              {menu}
              <Input size="small" placeholder={t('worklist.filterInstitution')} onPressEnter={(event) => setFilters({ ...filters, institution: (event.target as HTMLInputElement).value })} style={{ margin: 4, width: 'calc(100% - 8px)' }} />
            </>
          )}
        />
        <DatePicker.RangePicker value={filters.range ?? null} onChange={(range) => setFilters({ ...filters, range: range as Filters['range'] })} placeholder={[t('worklist.filterDate'), t('worklist.filterDate')]} />
        {isReader && (
          <Space size={4}>
            <Switch size="small" checked={filters.mine} onChange={(mine) => setFilters({ ...filters, mine })} />
            <Typography.Text>{t('worklist.mine')}</Typography.Text>
          </Space>
        )}
      </Space>
      {error && <Typography.Paragraph type="danger">{error}</Typography.Paragraph>}
      <Table<ReadingRequest>
        rowKey="id"
        size="small"
        loading={loading}
        columns={columns}
        dataSource={rows}
        pagination={{ pageSize: 50, showSizeChanger: false, hideOnSinglePage: true }}
        scroll={{ x: 960 }}
        rowClassName={(row) => (row.dueAt && isOpenStatus(row.status) && Date.parse(row.dueAt) < now ? 'yy-row-overdue' : '')}
        onRow={(row) => ({ 'data-request-id': row.id, 'data-status': row.status, onDoubleClick: () => navigate(`/reading/${row.id}`) }) as React.HTMLAttributes<HTMLTableRowElement>}
      />
    </Card>
  );
}

/** 45岁 / 45 y; infants in months, weeks or days as recorded. */
function formatAge(age: PatientAge | null | undefined, t: ReturnType<typeof useT>): string {
  return age ? t(AGE_KEYS[age.unit], { n: age.value }) : '';
}
