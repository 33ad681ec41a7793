import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { Alert, App, Badge, Button, Card, DatePicker, Drawer, Form, Input, Modal, Radio, Select, Space, Table, Typography } from 'antd';
import type { ColumnsType } from 'antd/es/table';
import { CloudUploadOutlined, EyeOutlined, PrinterOutlined, QrcodeOutlined, ReloadOutlined } from '@ant-design/icons';
import dayjs, { type Dayjs } from 'dayjs';
import { api, apiFetch, openBlob } from '../api/client.ts';
import type { Priority, ReadingRequest } from '../api/types.ts';
import { PRIORITIES } from '../api/types.ts';
import { useT, type MessageKey } from '../i18n/i18n.tsx';
import { useCodeLabels } from '../i18n/codes.ts';
import { useLiveEvents } from '../app/live-events.tsx';
import { dicomDateOf, dicomString, formatDateTime, formatDicomDate, formatPersonName } from '../app/format.ts';
import { PriorityTag, StatusTag } from '../app/request-tags.tsx';
import { SignedReport } from './ReadingPage.tsx';
import { FilmLinkPanel } from './township/FilmLinkPanel.tsx';
import { CriticalAlertBanner } from './township/CriticalAlertBanner.tsx';
import { CriticalFindingPanel } from './reading/CriticalFindingPanel.tsx';
import { StudyViewerModal } from '../app/StudyViewerModal.tsx';
import { checkedResidentId } from '../app/resident-id.ts';
import type { DuplicateMatch } from '../api/recognition.ts';
import { DuplicateMatchesTable } from './patients/DuplicateMatchesTable.tsx';
import { usePickLists } from '../app/pick-lists.ts';
import { CriticalRowMark, useCriticalMarks } from '../app/CriticalRowMark.tsx';

type Dataset = Record<string, { Value?: unknown[] } | undefined>;

interface StudyRow {
  studyInstanceUid: string;
  patientName: string;
  patientId: string;
  sex: string;
  studyDate: string;
  accession: string;
  modalities: string;
  description: string;
  instances: number;
  /** BodyPartExamined of the image series (a series attribute, PS3.3 C.7.3.1), else the study's */
  bodyParts: string[];
}

/**
 * Modalities of objects that are not images: the report SR the platform stores when a report is
 * signed above all, and presentation states, key-object selections and encapsulated documents.
 * QIDO's ModalitiesInStudy and NumberOfStudyRelatedInstances count them (PS3.18); the township
 * screen shows the exam and its images.
 */
const NON_IMAGE_MODALITIES = new Set(['SR', 'PR', 'KO', 'DOC']);
const SERIES_LIMIT = 5000;

/** Per study of the day: the modalities and instance counts of its image series. */
interface ImageSeriesSummary {
  modalities: Set<string>;
  images: number;
  bodyParts: Set<string>;
}

function imageSeriesByStudy(series: Dataset[]): Map<string, ImageSeriesSummary> {
  const byStudy = new Map<string, ImageSeriesSummary>();
  for (const dataset of series) {
    const modality = dicomString(dataset, '00080060');
    if (NON_IMAGE_MODALITIES.has(modality)) continue;
    const studyInstanceUid = dicomString(dataset, '0020000D');
    const summary = byStudy.get(studyInstanceUid) ?? { modalities: new Set<string>(), images: 0, bodyParts: new Set<string>() };
    if (modality) summary.modalities.add(modality);
    const bodyPart = dicomString(dataset, '00180015').trim().toUpperCase();
    if (bodyPart) summary.bodyParts.add(bodyPart);
    summary.images += Number(dicomString(dataset, '00201209') || 0);
    byStudy.set(studyInstanceUid, summary);
  }
  return byStudy;
}

function studyRowOf(dataset: Dataset, imageSeries: Map<string, ImageSeriesSummary> | undefined): StudyRow {
  const studyInstanceUid = dicomString(dataset, '0020000D');
  const summary = imageSeries?.get(studyInstanceUid);
  const allModalities = (dataset['00080061']?.Value ?? []) as string[];
  return {
    studyInstanceUid,
    patientName: dicomString(dataset, '00100010'),
    patientId: dicomString(dataset, '00100020'),
    sex: dicomString(dataset, '00100040'),
    studyDate: dicomString(dataset, '00080020'),
    accession: dicomString(dataset, '00080050'),
    modalities: (summary ? [...summary.modalities].sort() : allModalities.filter((modality) => !NON_IMAGE_MODALITIES.has(modality))).join('/'),
    description: dicomString(dataset, '00081030'),
    // without the series answer, the study's count (which includes the report SR) is all there is
    instances: summary?.images ?? (imageSeries ? 0 : Number(dicomString(dataset, '00201208') || 0)),
    bodyParts: summary?.bodyParts.size ? [...summary.bodyParts] : [dicomString(dataset, '00180015').trim().toUpperCase()].filter(Boolean),
  };
}

async function qidoJson(url: string): Promise<Dataset[]> {
  const response = await apiFetch(url, { headers: { accept: 'application/dicom+json' } });
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  const text = await response.text();
  return text ? (JSON.parse(text) as Dataset[]) : [];
}

/**
 * The township technologist's screen: today's studies of the institution (QIDO-RS), one
 * click to request a remote read, every request's status live, retakes up front, the
 * returned report with print.
 */
export default function TownshipPage() {
  const t = useT();
  const criticalMarks = useCriticalMarks();
  const codes = useCodeLabels();
  const { message, notification } = App.useApp();
  const [date, setDate] = useState<Dayjs>(() => dayjs());
  const [studies, setStudies] = useState<StudyRow[]>([]);
  const [requests, setRequests] = useState<ReadingRequest[]>([]);
  const [loading, setLoading] = useState(true);
  const [asking, setAsking] = useState<StudyRow>();
  const [reportOf, setReportOf] = useState<ReadingRequest>();
  const [filmOf, setFilmOf] = useState<StudyRow>();
  const [viewing, setViewing] = useState<StudyRow>();
  /** comparable earlier exams of the patient the server found when the request was made */
  const [warnings, setWarnings] = useState<DuplicateMatch[]>();

  const loadStudies = useCallback(async () => {
    const day = dicomDateOf(date.toDate());
    const [studyAnswers, seriesAnswers] = await Promise.all([
      qidoJson(`/dicom-web/studies?StudyDate=${day}&includefield=00081030,00180015&limit=500`),
      // the series of the same day tell images from the report SR
      qidoJson(`/dicom-web/series?StudyDate=${day}&includefield=00201209,00180015&limit=${SERIES_LIMIT}`).catch(() => undefined),
    ]);
    // a truncated series answer would undercount: then show the studies' own counts
    const imageSeries = seriesAnswers && seriesAnswers.length < SERIES_LIMIT ? imageSeriesByStudy(seriesAnswers) : undefined;
    setStudies(studyAnswers.map((dataset) => studyRowOf(dataset, imageSeries)));
  }, [date]);
  const loadRequests = useCallback(async () => setRequests(await api.get<ReadingRequest[]>('/api/v1/reading-requests', { limit: 500 })), []);
  const load = useCallback(async () => {
    try {
      await Promise.all([loadStudies(), loadRequests()]);
    } catch (caught) {
      message.error(caught instanceof Error ? caught.message : String(caught));
    } finally {
      setLoading(false);
    }
  }, [loadStudies, loadRequests, message]);
  useEffect(() => void load(), [load]);

  const refresh = useRef<ReturnType<typeof setTimeout>>(undefined);
  const refreshStudies = useRef<ReturnType<typeof setTimeout>>(undefined);
  const { connected } = useLiveEvents((event) => {
    if (event.type === 'study.stored' || event.type === 'study.settled') {
      // A new study (or one that stopped growing): the list without 刷新. Several studies
      // arriving together are one reload.
      if (event.type === 'study.stored') notification.info({ title: t('township.newStudyArrived'), placement: 'bottomRight' });
      clearTimeout(refreshStudies.current);
      refreshStudies.current = setTimeout(() => void loadStudies().catch(() => undefined), 200);
      return;
    }
    if (event.type === 'report.signed') notification.success({ title: t('township.signedReportArrived'), placement: 'bottomRight' });
    if (event.type === 'retake.requested') notification.warning({ title: t('township.retakeTitle'), description: String(event.payload.reason ?? ''), placement: 'bottomRight' });
    clearTimeout(refresh.current);
    refresh.current = setTimeout(() => void loadRequests(), 200);
  });

  // The latest request of each study.
  const requestOf = useMemo(() => {
    const map = new Map<string, ReadingRequest>();
    for (const request of [...requests].sort((a, b) => a.createdAt.localeCompare(b.createdAt))) map.set(request.studyInstanceUid, request);
    return map;
  }, [requests]);
  // A signed report of the study, for a new cloud-film link to carry.
  const signedRequestOf = (studyInstanceUid: string) => requests.find((request) => request.studyInstanceUid === studyInstanceUid && request.status === 'signed');
  const retakes = requests.filter((request) => request.status === 'retake-requested');

  const resubmit = async (request: ReadingRequest) => {
    try {
      await api.post(`/api/v1/reading-requests/${request.id}/resubmit`);
      message.success(t('township.resubmitted'));
      await loadRequests();
    } catch (caught) {
      message.error(caught instanceof Error ? caught.message : String(caught));
    }
  };

  const print = (request: ReadingRequest) => {
    void api
      .get<{ report?: { id: string } }>(`/api/v1/reading-requests/${request.id}`)
      .then((detail) => (detail.report ? openBlob(`/api/v1/reports/${detail.report.id}/pdf`) : undefined))
      .catch((caught: unknown) => message.error(caught instanceof Error ? caught.message : String(caught)));
  };

  const studyColumns: ColumnsType<StudyRow> = [
    { title: t('worklist.patient'), key: 'patient', render: (_, row) => <Typography.Text strong>{formatPersonName(row.patientName)}</Typography.Text> },
    { title: t('worklist.patientId'), dataIndex: 'patientId', width: 120, responsive: ['lg'] },
    { title: t('worklist.sexAge'), dataIndex: 'sex', width: 60, render: (value: string) => codes.sex(value) },
    { title: t('worklist.modality'), dataIndex: 'modalities', width: 80 },
    { title: t('township.description'), dataIndex: 'description', ellipsis: true },
    { title: t('township.accession'), dataIndex: 'accession', width: 120, responsive: ['xl'] },
    { title: t('township.instances'), dataIndex: 'instances', width: 70 },
    {
      title: t('worklist.status'),
      key: 'status',
      width: 110,
      render: (_, row) => {
        const request = requestOf.get(row.studyInstanceUid);
        return request ? <StatusTag status={request.status} /> : null;
      },
    },
    {
      title: t('township.film'),
      key: 'film',
      width: 120,
      render: (_, row) => (
        <Space size="small">
          <Button size="small" icon={<EyeOutlined />} onClick={() => setViewing(row)} aria-label={t('township.viewImages')} title={t('township.viewImages')} data-testid="view-images" />
          <Button size="small" icon={<QrcodeOutlined />} onClick={() => setFilmOf(row)} data-testid="open-film">
            {t('township.film')}
          </Button>
        </Space>
      ),
    },
    {
      title: t('app.actions'),
      key: 'actions',
      width: 170,
      render: (_, row) => {
        const request = requestOf.get(row.studyInstanceUid);
        if (!request || request.status === 'cancelled')
          return (
            <Button type="primary" size="small" icon={<CloudUploadOutlined />} onClick={() => setAsking(row)} data-testid="request-read">
              {t('township.requestRead')}
            </Button>
          );
        if (request.status === 'signed')
          return (
            <Space size="small">
              <Button size="small" onClick={() => setReportOf(request)} data-testid="view-report">
                {t('township.viewReport')}
              </Button>
              <Button size="small" icon={<PrinterOutlined />} onClick={() => print(request)} aria-label={t('township.print')} />
            </Space>
          );
        return <Typography.Text type="secondary">{t('township.requested')}</Typography.Text>;
      },
    },
  ];

  const requestColumns: ColumnsType<ReadingRequest> = [
    { title: t('worklist.priority'), dataIndex: 'priority', width: 80, render: (_, row) => <PriorityTag priority={row.priority} /> },
    { title: t('worklist.patient'), key: 'patient', render: (_, row) => <>{formatPersonName(row.patient?.name)}<CriticalRowMark findings={criticalMarks.get(row.id)} /></> },
    { title: t('worklist.modality'), key: 'modality', width: 120, render: (_, row) => `${row.modality ?? ''} ${codes.bodyParts(row.bodyParts)}` },
    { title: t('worklist.requestedAt'), dataIndex: 'createdAt', width: 140, render: (value: string) => formatDateTime(value) },
    { title: t('worklist.status'), dataIndex: 'status', width: 110, render: (_, row) => <StatusTag status={row.status} /> },
    { title: t('report.signedAt'), dataIndex: 'signedAt', width: 140, responsive: ['lg'], render: (value: string | null) => formatDateTime(value) },
    {
      title: t('app.actions'),
      key: 'actions',
      width: 170,
      render: (_, row) =>
        row.status === 'signed' ? (
          <Space size="small">
            <Button size="small" onClick={() => setReportOf(row)} data-testid="view-report">
              {t('township.viewReport')}
            </Button>
            <Button size="small" icon={<PrinterOutlined />} onClick={() => print(row)} data-testid="print-report">
              {t('township.print')}
            </Button>
          </Space>
        ) : row.status === 'retake-requested' ? (
          <Button size="small" danger onClick={() => void resubmit(row)}>
            {t('township.resubmit')}
          </Button>
        ) : null,
    },
  ];

  return (
    <Space direction="vertical" style={{ width: '100%' }} size={12} data-testid="township-page">
      <CriticalAlertBanner />
      {retakes.map((request) => (
        <Alert
          key={request.id}
          type="error"
          showIcon
          data-testid="retake-alert"
          title={`${t('township.retakeTitle')} · ${formatPersonName(request.patient?.name)} ${request.modality ?? ''}`}
          description={t('township.retakeReason', { reason: request.retakeReason ?? '' })}
          action={
            <Button danger type="primary" onClick={() => void resubmit(request)} data-testid="resubmit">
              {t('township.resubmit')}
            </Button>
          }
        />
      ))}
      <Card
        size="small"
        title={
          <Space>
            {t('township.title')}
            <Badge status={connected ? 'processing' : 'default'} text={connected ? t('app.live') : t('app.offline')} />
          </Space>
        }
        extra={
          <Space>
            <DatePicker value={date} onChange={(value) => value && setDate(value)} allowClear={false} aria-label={t('township.date')} />
            <Button icon={<ReloadOutlined />} onClick={() => void load()}>
              {t('app.refresh')}
            </Button>
          </Space>
        }
      >
        <Table<StudyRow> rowKey="studyInstanceUid" size="small" loading={loading} columns={studyColumns} dataSource={studies} pagination={false} locale={{ emptyText: t('township.noStudies') }} onRow={(row) => ({ 'data-study-uid': row.studyInstanceUid }) as React.HTMLAttributes<HTMLTableRowElement>} data-testid="township-studies" />
      </Card>
      <Card size="small" title={t('township.requests')}>
        <Table<ReadingRequest> rowKey="id" size="small" columns={requestColumns} dataSource={requests} pagination={{ pageSize: 20, hideOnSinglePage: true }} onRow={(row) => ({ 'data-request-id': row.id, 'data-status': row.status }) as React.HTMLAttributes<HTMLTableRowElement>} data-testid="township-requests" />
      </Card>
      {asking && (
        <RequestReadModal
          study={asking}
          onClose={() => setAsking(undefined)}
          onDone={(duplicateWarnings) => {
            setAsking(undefined);
            message.success(t('township.requestSent'));
            if (duplicateWarnings.length > 0) setWarnings(duplicateWarnings);
            void loadRequests();
          }}
        />
      )}
      <Drawer open={!!reportOf} onClose={() => setReportOf(undefined)} title={`${t('township.reportTitle')} · ${formatPersonName(reportOf?.patient?.name)} ${formatDicomDate(reportOf?.studyDate)}`} size={560} destroyOnHidden>
        {reportOf && <TownshipReport request={reportOf} />}
      </Drawer>
      <Drawer open={!!filmOf} onClose={() => setFilmOf(undefined)} title={`${t('township.film')} · ${formatPersonName(filmOf?.patientName)} ${filmOf?.modalities ?? ''}`} size={420} destroyOnHidden>
        {filmOf && <FilmLinkPanel studyInstanceUid={filmOf.studyInstanceUid} signedRequestId={signedRequestOf(filmOf.studyInstanceUid)?.id} />}
      </Drawer>
      {warnings && <DuplicateWarningsDialog matches={warnings} onClose={() => setWarnings(undefined)} />}
      <StudyViewerModal studyInstanceUid={viewing?.studyInstanceUid} title={`${t('township.imagesTitle')} · ${formatPersonName(viewing?.patientName)} ${viewing?.modalities ?? ''}`} onClose={() => setViewing(undefined)} testId="township-viewer" />
    </Space>
  );
}

function TownshipReport({ request }: { request: ReadingRequest }) {
  const [reportId, setReportId] = useState<string>();
  useEffect(() => {
    void api.get<{ report?: { id: string } }>(`/api/v1/reading-requests/${request.id}`).then((detail) => setReportId(detail.report?.id));
  }, [request.id]);
  return (
    <>
      <CriticalFindingPanel requestId={request.id} readingInstitutionId={request.readingInstitutionId} requestingInstitutionId={request.requestingInstitutionId} />
      {reportId ? <SignedReport reportId={reportId} canAmend={false} /> : null}
    </>
  );
}

function RequestReadModal({ study, onClose, onDone }: { study: StudyRow; onClose: () => void; onDone: (duplicateWarnings: DuplicateMatch[]) => void }) {
  const codes = useCodeLabels();
  const t = useT();
  const [form] = Form.useForm<{ priority: Priority; clinicalHistory?: string; bodyParts: string[]; examItems: string[]; nationalId?: string }>();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const submit = async () => {
    const values = await form.validateFields();
    setBusy(true);
    try {
      const created = await api.post<{ duplicateWarnings?: DuplicateMatch[] }>('/api/v1/reading-requests', {
        studyInstanceUid: study.studyInstanceUid,
        nationalId: values.nationalId ? checkedResidentId(values.nationalId) : undefined,
        priority: values.priority,
        clinicalHistory: values.clinicalHistory?.trim() || undefined,
        bodyParts: values.bodyParts?.length ? values.bodyParts : undefined,
        examItems: values.examItems?.length ? values.examItems : undefined,
        imagesComplete: true,
      });
      onDone(created.duplicateWarnings ?? []);
    } catch (caught) {
      setError(caught instanceof Error ? caught.message : String(caught));
    } finally {
      setBusy(false);
    }
  };
  // Pre-filled from the images' BodyPartExamined; a code outside the pick list stays as it was recorded.
  const initialBodyPart = study.bodyParts;
  // the administrator's body-part list for this institution (settings/pick-lists)
  const pickLists = usePickLists();
  return (
    <Modal open title={`${t('township.requestRead')} · ${formatPersonName(study.patientName)} ${study.modalities}`} onCancel={onClose} onOk={() => void submit()} confirmLoading={busy} okButtonProps={{ 'data-testid': 'request-read-ok' } as Record<string, string>} okText={t('township.requestRead')}>
      {error && <Alert type="error" showIcon title={error} style={{ marginBottom: 8 }} />}
      <Form form={form} layout="vertical" initialValues={{ priority: 'routine', bodyParts: initialBodyPart, examItems: [] }} data-testid="request-read-form">
        <Form.Item name="priority" label={t('township.priority')} rules={[{ required: true }]}>
          <Radio.Group optionType="button" buttonStyle="solid" options={PRIORITIES.map((p) => ({ value: p, label: t(`priority.${p}` as MessageKey) }))} data-testid="request-priority" />
        </Form.Item>
        <Form.Item name="bodyParts" label={t('township.bodyParts')}>
          <Select mode="tags" options={pickLists.bodyParts.map((part) => ({ value: part, label: codes.bodyParts([part]) }))} optionFilterProp="label" data-testid="request-body-parts" />
        </Form.Item>
        <Form.Item name="examItems" label={t('township.examItems')}>
          <Select mode="tags" open={false} suffixIcon={null} />
        </Form.Item>
        <Form.Item name="nationalId" label={t('patients.nationalId')} tooltip={t('township.nationalIdHint')} rules={[{ validator: async (_, value: string | undefined) => { if (value && !checkedResidentId(value)) throw new Error(t('patients.nationalIdInvalid')); } }]}>
          <Input maxLength={18} autoComplete="off" data-testid="request-national-id" />
        </Form.Item>
        <Form.Item name="clinicalHistory" label={t('township.clinicalHistory')}>
          <Input.TextArea rows={3} maxLength={4000} data-testid="request-history" />
        </Form.Item>
      </Form>
    </Modal>
  );
}

/** 重复检查提醒: the patient had comparable exams recently (the server's duplicate check when the request was made). */
function DuplicateWarningsDialog({ matches, onClose }: { matches: DuplicateMatch[]; onClose: () => void }) {
  const t = useT();
  return (
    <Modal open title={t('township.duplicateWarning.title')} onCancel={onClose} onOk={onClose} cancelButtonProps={{ style: { display: 'none' } }} width={900}>
      <div data-testid="duplicate-warnings">
        <Typography.Paragraph>{t('township.duplicateWarning.body', { count: matches.length })}</Typography.Paragraph>
        <DuplicateMatchesTable matches={matches} />
      </div>
    </Modal>
  );
}
