import { useCallback, useEffect, useRef, useState } from 'react';
import { useNavigate, useParams } from 'react-router-dom';
import { Alert, App, Button, Card, Descriptions, Empty, Input, List, Popover, Radio, Result, Select, Space, Spin, Tag, Timeline, Typography } from 'antd';
import { ArrowLeftOutlined, FilePdfOutlined, QuestionCircleOutlined } from '@ant-design/icons';
import { api, ApiError, openBlob } from '../api/client.ts';
import { authorizationHeader } from '../api/session.ts';
import type { PriorStudy, ReadingRequestDetail, Report, ReportDetail, ReportTemplate } from '../api/types.ts';
import { useT, type MessageKey } from '../i18n/i18n.tsx';
import { useCodeLabels } from '../i18n/codes.ts';
import { useUser } from '../app/auth.tsx';
import { useLiveEvents } from '../app/live-events.tsx';
import { useNow } from '../app/use-now.ts';
import { formatDateTime, formatDicomDate, formatPersonName } from '../app/format.ts';
import { PriorityTag, SlaCountdown, StatusTag, isOpenStatus } from '../app/request-tags.tsx';
import { StudyViewer } from '../app/study-viewer.tsx';
import { ReviewPanel } from './reading/ReviewStage.tsx';
import { ReviewRecord } from './reading/ReportDiff.tsx';
import { CriticalFindingPanel } from './reading/CriticalFindingPanel.tsx';
import { issuedVersionLabel, reportIdentityItems } from './reading/report-identity.tsx';
import { PhraseTextArea, usePhrases, type PhraseTextAreaHandle } from './reading/PhrasePicker.tsx';
import { AttachmentsEditor, ReportAttachmentsView, useReportAttachments } from './reading/ReportAttachments.tsx';
import { ReportLibraryButton, useLibraryVersion } from './reading/TemplateManager.tsx';
import type { ReportAttachments } from '../api/report-library.ts';
import type { ViewerController } from '../viewer/viewer-controller.ts';

const READERS = ['radiologist', 'reviewing-radiologist', 'expert'];
type SaveState = 'saved' | 'saving' | 'unsaved' | 'error';

/**
 * Reading a request: the viewer on the left (a prior beside it on demand), the report on the
 * right. The claimer edits (templates, autosave, submit); a reviewer signs or returns a
 * submitted report; a signed report shows its versions, addenda and the PDF.
 */
export default function ReadingPage() {
  const { id = '' } = useParams();
  const t = useT();
  const user = useUser();
  const navigate = useNavigate();
  const { message } = App.useApp();
  const [request, setRequest] = useState<ReadingRequestDetail>();
  const [loadError, setLoadError] = useState<string>();
  const [priors, setPriors] = useState<PriorStudy[]>();
  const [openPrior, setOpenPrior] = useState<string>();
  const [showPriors, setShowPriors] = useState(true);
  const [viewer, setViewer] = useState<ViewerController>();

  const load = useCallback(async () => {
    try {
      setRequest(await api.get<ReadingRequestDetail>(`/api/v1/reading-requests/${id}`));
    } catch (caught) {
      setLoadError(caught instanceof Error ? caught.message : String(caught));
    }
  }, [id]);
  useEffect(() => void load(), [load]);
  useLiveEvents((event) => {
    if (event.payload.requestId === id) void load();
  });

  const isReader = READERS.includes(user.role) && request?.readingInstitutionId === user.institutionId;
  useEffect(() => {
    if (!isReader) return;
    api
      .get<PriorStudy[]>(`/api/v1/reading-requests/${id}/priors`)
      .then(setPriors)
      .catch(() => setPriors([]));
  }, [id, isReader]);

  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      if (event.altKey && event.key.toLowerCase() === 'p') {
        event.preventDefault();
        setShowPriors((shown) => !shown);
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, []);

  if (loadError) return <Result status="warning" title={loadError} extra={<Button onClick={() => navigate(-1)}>{t('app.back')}</Button>} />;
  if (!request) return <Spin size="large" style={{ display: 'block', margin: '20vh auto' }} />;

  const mine = request.status === 'claimed' && request.claimedBy === user.username;
  const reviewing = request.status === 'submitted' && user.role === 'reviewing-radiologist' && request.readingInstitutionId === user.institutionId;

  const claim = async () => {
    try {
      await api.post(`/api/v1/reading-requests/${id}/claim`);
      await load();
    } catch (caught) {
      message.error(caught instanceof Error ? caught.message : String(caught));
    }
  };

  return (
    <div className="yy-reading" data-testid="reading-page" data-request-status={request.status}>
      <div className="yy-reading-viewers">
        <StudyViewer studyInstanceUid={request.studyInstanceUid} dicomWebRoot="/dicom-web" authorizationHeader={authorizationHeader} onController={setViewer} />
        {openPrior && (
          <div style={{ display: 'flex', flexDirection: 'column', minWidth: 0 }} data-testid="prior-viewer">
            <Space style={{ marginBottom: 4 }}>
              <Tag color="gold">{t('reading.priors')}</Tag>
              <Button size="small" onClick={() => setOpenPrior(undefined)}>
                {t('reading.closePrior')}
              </Button>
            </Space>
            <div style={{ flex: 1, minHeight: 0 }}>
              <StudyViewer key={openPrior} studyInstanceUid={openPrior} dicomWebRoot="/dicom-web" authorizationHeader={authorizationHeader} compact />
            </div>
          </div>
        )}
      </div>
      <div className="yy-reading-panel">
        <Space direction="vertical" style={{ width: '100%' }} size={8}>
          <RequestHeader request={request} onBack={() => navigate(user.role === 'reviewing-radiologist' ? '/review' : '/worklist')} />
          <CriticalFindingPanel requestId={id} readingInstitutionId={request.readingInstitutionId} requestingInstitutionId={request.requestingInstitutionId} requestStatus={request.status} />
          {mine && <ReportEditor viewer={viewer} request={request} onSubmitted={() => navigate(user.role === 'reviewing-radiologist' ? '/review' : '/worklist')} onChanged={load} />}
          {reviewing && request.report && <ReviewPanel report={request.report} onDone={() => navigate('/review')} />}
          {!mine && !reviewing && request.report && <SignedReport reportId={request.report.id} canAmend={isReader && request.status === 'signed'} />}
          {!mine && request.report && <ReportAttachmentsView reportId={request.report.id} viewer={viewer} />}
          {!mine && !reviewing && !request.report && (
            <Card size="small">
              {isReader && request.status === 'pending' ? (
                <Button type="primary" block onClick={() => void claim()} data-testid="claim-here">
                  {t('reading.claim')}
                </Button>
              ) : (
                <Typography.Text type="secondary">{request.status === 'claimed' ? `${t('worklist.claimedBy')}: ${request.claimedByName || request.claimedBy || ''}` : t('reading.claimFirst')}</Typography.Text>
              )}
            </Card>
          )}
          {isReader && showPriors && <PriorsPanel requestId={id} priors={priors} openPrior={openPrior} onOpen={setOpenPrior} onOpened={(opened) => setPriors((list) => list?.map((prior) => (prior.studyInstanceUid === opened.studyInstanceUid ? opened : prior)))} />}
        </Space>
      </div>
    </div>
  );
}

/**
 * The patient's priors. One the reading centre may not see yet is opened only with a reason
 * (调阅): the server grants it and records who and why; listing them grants nothing.
 */
function PriorsPanel({ requestId, priors, openPrior, onOpen, onOpened }: { requestId: string; priors: PriorStudy[] | undefined; openPrior: string | undefined; onOpen: (uid: string | undefined) => void; onOpened: (prior: PriorStudy) => void }) {
  const t = useT();
  const { modal } = App.useApp();
  const openWithReason = (prior: PriorStudy) => {
    let reason = '';
    modal.confirm({
      title: t('reading.openPriorWithReason'),
      content: <Input.TextArea rows={3} maxLength={500} placeholder={t('reading.openPriorReason')} onChange={(event) => (reason = event.target.value)} data-testid="prior-reason" />,
      onOk: async () => {
        if (!reason.trim()) throw new Error(t('reading.openPriorReason'));
        const opened = await api.post<PriorStudy>(`/api/v1/reading-requests/${requestId}/priors/${prior.studyInstanceUid}/access`, { reason: reason.trim() });
        onOpened(opened);
        onOpen(opened.studyInstanceUid);
      },
    });
  };
  return (
    <Card size="small" title={t('reading.priors')} data-testid="priors">
      {priors === undefined ? (
        <Spin />
      ) : priors.length === 0 ? (
        <Empty image={Empty.PRESENTED_IMAGE_SIMPLE} description={t('reading.noPriors')} />
      ) : (
        <List
          size="small"
          dataSource={priors}
          renderItem={(prior) => (
            <List.Item
              data-testid="prior"
              data-accessible={String(prior.accessible)}
              actions={[
                prior.accessible ? (
                  <Button key="open" size="small" type={openPrior === prior.studyInstanceUid ? 'primary' : 'default'} onClick={() => onOpen(openPrior === prior.studyInstanceUid ? undefined : prior.studyInstanceUid)}>
                    {openPrior === prior.studyInstanceUid ? t('reading.closePrior') : t('reading.openPrior')}
                  </Button>
                ) : (
                  <Button key="request" size="small" onClick={() => openWithReason(prior)} data-testid="open-prior-with-reason">
                    {t('reading.openPriorWithReason')}
                  </Button>
                ),
              ]}
            >
              <Space size={4} wrap>
                <span>{formatDicomDate(prior.studyDate)}</span>
                <Tag>{prior.modalities.join('/')}</Tag>
                <Typography.Text type="secondary">{prior.description}</Typography.Text>
                {prior.hasSignedReport && <Tag color="green">{t('reading.priorReported')}</Tag>}
                {!prior.accessible && <Tag>{t('reading.priorNotShared')}</Tag>}
              </Space>
            </List.Item>
          )}
        />
      )}
    </Card>
  );
}

function RequestHeader({ request, onBack }: { request: ReadingRequestDetail; onBack: () => void }) {
  const t = useT();
  const codes = useCodeLabels();
  const now = useNow(1000);
  return (
    <Card size="small" styles={{ body: { padding: 8 } }}>
      <Space wrap size={6} style={{ marginBottom: 4 }}>
        <Button size="small" icon={<ArrowLeftOutlined />} onClick={onBack} aria-label={t('app.back')} />
        <Typography.Text strong style={{ fontSize: 16 }} data-testid="patient-name">
          {formatPersonName(request.patient?.name)}
        </Typography.Text>
        <PriorityTag priority={request.priority} />
        <StatusTag status={request.status} />
        <SlaCountdown dueAt={request.dueAt} now={now} open={isOpenStatus(request.status)} />
      </Space>
      <Descriptions size="small" column={1} colon items={[
        { key: 'modality', label: t('worklist.modality'), children: `${request.modality ?? ''} ${codes.bodyParts(request.bodyParts)}` },
        { key: 'institution', label: t('worklist.institution'), children: `${request.requestingInstitutionName ?? request.requestingInstitutionId} · ${formatDateTime(request.createdAt)}` },
        ...(request.examItems.length ? [{ key: 'items', label: t('reading.examItems'), children: request.examItems.join('、') }] : []),
        ...(request.clinicalHistory ? [{ key: 'history', label: t('reading.clinicalHistory'), children: request.clinicalHistory }] : []),
      ]} />
    </Card>
  );
}

function ShortcutHelp() {
  const t = useT();
  const rows: Array<[string, MessageKey]> = [
    ['Ctrl+S', 'reading.shortcutSave'],
    ['Ctrl+Enter', 'reading.shortcutSubmit'],
    ['Alt+T', 'reading.shortcutTemplate'],
    ['Alt+P', 'reading.shortcutPriors'],
  ];
  return (
    <Popover
      title={t('reading.shortcuts')}
      content={
        <table data-testid="shortcut-help">
          <tbody>
            {rows.map(([keys, label]) => (
              <tr key={keys}>
                <td style={{ paddingInlineEnd: 12 }}>
                  <Typography.Text keyboard>{keys}</Typography.Text>
                </td>
                <td>{t(label)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      }
    >
      <Button size="small" icon={<QuestionCircleOutlined />} data-testid="shortcuts">
        {t('reading.shortcuts')}
      </Button>
    </Popover>
  );
}

interface Draft {
  findings: string;
  impression: string;
  positive: boolean | null;
  templateId?: string;
}

function ReportEditor({ request, onSubmitted, onChanged, viewer }: { request: ReadingRequestDetail; onSubmitted: () => void; onChanged: () => Promise<void>; viewer?: ViewerController }) {
  const t = useT();
  const codes = useCodeLabels();
  const { message, modal } = App.useApp();
  const report = request.report;
  const [draft, setDraft] = useState<Draft>({ findings: report?.findings ?? '', impression: report?.impression ?? '', positive: report?.positive ?? null, templateId: report?.templateId ?? undefined });
  const [saveState, setSaveState] = useState<SaveState>(report ? 'saved' : 'unsaved');
  const [saveError, setSaveError] = useState<string>();
  const [templates, setTemplates] = useState<ReportTemplate[]>([]);
  const [templateOpen, setTemplateOpen] = useState(false);
  const [submitting, setSubmitting] = useState(false);
  const [reportId, setReportId] = useState(report?.id);
  const latest = useRef(draft);
  latest.current = draft;
  const dirty = useRef(false);
  const timer = useRef<ReturnType<typeof setTimeout>>(undefined);
  const saving = useRef<Promise<Report | undefined>>(undefined);
  // measurements, key images and phrases (reading/ReportAttachments.tsx, PhrasePicker.tsx)
  const [attachments, setAttachments] = useReportAttachments(report?.id);
  const attachmentsRef = useRef<ReportAttachments | undefined>(attachments);
  attachmentsRef.current = attachments;
  const findingsBox = useRef<PhraseTextAreaHandle>(null);
  const phrases = usePhrases();
  const libraryVersion = useLibraryVersion();

  useEffect(() => {
    const bodyPart = request.bodyParts[0];
    api
      .get<ReportTemplate[]>('/api/v1/report-templates', { modality: request.modality ?? undefined, bodyPart })
      .then(async (list) => (list.length > 0 || !bodyPart ? list : api.get<ReportTemplate[]>('/api/v1/report-templates', { modality: request.modality ?? undefined })))
      .then(setTemplates)
      .catch(() => setTemplates([]));
  }, [request.modality, request.bodyParts, libraryVersion]);

  const save = useCallback(async (): Promise<Report | undefined> => {
    clearTimeout(timer.current);
    if (saving.current) await saving.current;
    if (!dirty.current && reportId) return undefined;
    dirty.current = false;
    setSaveState('saving');
    const body = latest.current;
    const run = api
      .put<Report>(`/api/v1/reading-requests/${request.id}/report`, { findings: body.findings, impression: body.impression, positive: body.positive, ...(body.templateId ? { templateId: body.templateId } : {}), ...(attachmentsRef.current ?? {}) })
      .then((saved) => {
        setReportId(saved.id);
        setSaveState(dirty.current ? 'unsaved' : 'saved');
        setSaveError(undefined);
        return saved;
      })
      .catch((caught: unknown) => {
        dirty.current = true;
        setSaveState('error');
        setSaveError(caught instanceof Error ? caught.message : String(caught));
        return undefined;
      })
      .finally(() => {
        saving.current = undefined;
      });
    saving.current = run;
    return run;
  }, [request.id, reportId]);

  const change = (next: Partial<Draft>) => {
    setDraft((current) => ({ ...current, ...next }));
    dirty.current = true;
    setSaveState('unsaved');
    clearTimeout(timer.current);
    timer.current = setTimeout(() => void save(), 1000);
  };

  // Unsaved text is saved when the editor goes away.
  useEffect(() => () => {
    if (dirty.current) void save();
  }, [save]);

  const submit = useCallback(async () => {
    const body = latest.current;
    if (!body.findings.trim() || !body.impression.trim() || body.positive === null) {
      message.warning(t('reading.incomplete'));
      return;
    }
    setSubmitting(true);
    try {
      dirty.current = true;
      const saved = await save();
      const id = saved?.id ?? reportId;
      if (!id) throw new Error(t('reading.saveFailed', { message: '' }));
      await api.post(`/api/v1/reports/${id}/submit`);
      message.success(t('reading.submitted'));
      onSubmitted();
    } catch (caught) {
      message.error(caught instanceof ApiError ? caught.message : String(caught));
    } finally {
      setSubmitting(false);
    }
  }, [save, reportId, message, t, onSubmitted]);

  const applyTemplate = (templateId: string) => {
    const template = templates.find((candidate) => candidate.id === templateId);
    if (!template) return;
    setTemplateOpen(false);
    const apply = () => {
      change({ findings: template.findings, impression: template.impression, templateId: template.id });
      message.info(t('reading.templateApplied', { name: template.name }));
    };
    if (latest.current.findings.trim() || latest.current.impression.trim()) modal.confirm({ title: t('reading.templateApplied', { name: template.name }), onOk: apply });
    else apply();
  };

  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === 's') {
        event.preventDefault();
        dirty.current = true;
        void save();
      } else if ((event.ctrlKey || event.metaKey) && event.key === 'Enter') {
        event.preventDefault();
        void submit();
      } else if (event.altKey && event.key.toLowerCase() === 't') {
        event.preventDefault();
        setTemplateOpen(true);
        document.querySelector<HTMLInputElement>('[data-testid="template-picker"] input')?.focus();
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [save, submit]);

  const retake = () => {
    let reason = '';
    modal.confirm({
      title: t('reading.retake'),
      content: <Input.TextArea rows={3} placeholder={t('reading.retakeReason')} onChange={(event) => (reason = event.target.value)} data-testid="retake-reason" />,
      onOk: async () => {
        if (!reason.trim()) throw new Error(t('reading.retakeReason'));
        await api.post(`/api/v1/reading-requests/${request.id}/retake`, { reason: reason.trim() });
        message.success(t('reading.retakeSent'));
        onSubmitted();
      },
    });
  };

  const release = async () => {
    if (dirty.current) await save();
    await api.post(`/api/v1/reading-requests/${request.id}/release`);
    await onChanged();
  };

  const indicator = { saved: t('reading.saved'), saving: t('reading.saving'), unsaved: t('reading.unsaved'), error: t('reading.saveFailed', { message: saveError ?? '' }) }[saveState];
  return (
    <Card
      size="small"
      title={t('reading.report')}
      extra={
        <Space size={6}>
          <Typography.Text type={saveState === 'error' ? 'danger' : saveState === 'saved' ? 'success' : 'secondary'} data-testid="save-state" data-state={saveState}>
            {indicator}
          </Typography.Text>
          <ShortcutHelp />
          <ReportLibraryButton defaults={{ modality: request.modality, bodyPart: request.bodyParts[0] }} />
        </Space>
      }
      data-testid="report-editor"
    >
      {report?.status === 'returned' && report.reviewComments && <Alert type="warning" showIcon title={t('reading.returnedComments', { comments: report.reviewComments })} style={{ marginBottom: 8 }} data-testid="returned-comments" />}
      <Space direction="vertical" style={{ width: '100%' }} size={8}>
        <Select
          style={{ width: '100%' }}
          placeholder={t('reading.templatePlaceholder')}
          value={draft.templateId}
          open={templateOpen}
          onOpenChange={setTemplateOpen}
          onChange={applyTemplate}
          showSearch
          optionFilterProp="label"
          options={templates.map((template) => ({ value: template.id, label: `${'scope' in template && template.scope !== 'system' ? `【${t(`library.scope.${String(template.scope)}` as MessageKey)}】` : ''}${template.modality} ${codes.bodyParts([template.bodyPart])} · ${template.name}` }))}
          data-testid="template-picker"
        />
        <div>
          <Typography.Text strong>{t('reading.findings')}</Typography.Text>
          <PhraseTextArea ref={findingsBox} phrases={phrases} value={draft.findings} onChange={(findings) => change({ findings })} autoSize={{ minRows: 8, maxRows: 18 }} data-testid="findings" />
          <AttachmentsEditor viewer={viewer} value={attachments} onChange={(next) => { attachmentsRef.current = next; setAttachments(next); change({}); }} onInsert={(text) => findingsBox.current?.insert(text)} />
        </div>
        <div>
          <Typography.Text strong>{t('reading.impression')}</Typography.Text>
          <PhraseTextArea phrases={phrases} value={draft.impression} onChange={(impression) => change({ impression })} autoSize={{ minRows: 3, maxRows: 8 }} data-testid="impression" />
        </div>
        <Space>
          <Typography.Text strong>{t('reading.result')}</Typography.Text>
          <Radio.Group value={draft.positive === null ? undefined : draft.positive ? 'positive' : 'negative'} onChange={(event) => change({ positive: event.target.value === 'positive' })} optionType="button" buttonStyle="solid" data-testid="positive">
            <Radio.Button value="positive" data-testid="mark-positive">
              {t('reading.positive')}
            </Radio.Button>
            <Radio.Button value="negative" data-testid="mark-negative">
              {t('reading.negative')}
            </Radio.Button>
          </Radio.Group>
        </Space>
        <Space wrap>
          <Button type="primary" loading={submitting} onClick={() => void submit()} data-testid="submit-report">
            {t('reading.submit')}
          </Button>
          <Button onClick={() => { dirty.current = true; void save(); }}>{t('app.save')}</Button>
          <Button onClick={() => void release()}>{t('reading.release')}</Button>
          <Button danger onClick={retake} data-testid="request-retake">
            {t('reading.retake')}
          </Button>
        </Space>
      </Space>
    </Card>
  );
}

function ReportText({ report }: { report: Pick<Report, 'findings' | 'impression' | 'positive'> }) {
  const t = useT();
  return (
    <div data-testid="report-text">
      <Typography.Title level={5} style={{ marginTop: 0 }}>
        {t('reading.findings')}
      </Typography.Title>
      <Typography.Paragraph style={{ whiteSpace: 'pre-wrap' }} data-testid="report-findings">
        {report.findings}
      </Typography.Paragraph>
      <Typography.Title level={5}>{t('reading.impression')}</Typography.Title>
      <Typography.Paragraph style={{ whiteSpace: 'pre-wrap' }} data-testid="report-impression">
        {report.impression}
      </Typography.Paragraph>
      {report.positive !== null && <Tag color={report.positive ? 'red' : 'green'}>{report.positive ? t('reading.positive') : t('reading.negative')}</Tag>}
    </div>
  );
}

/** GET /api/v1/reports/{id}: the people's display names next to their user names. */
type NamedReportDetail = Omit<ReportDetail, 'versions'> & { authorName?: string | null; reviewerName?: string | null; versions: Array<ReportDetail['versions'][number] & { savedByName?: string | null }> };

/** A report that is not being edited here: text, status, versions, addenda and the PDF. */
export function SignedReport({ reportId, canAmend }: { reportId: string; canAmend: boolean }) {
  const t = useT();
  const { message } = App.useApp();
  const [report, setReport] = useState<NamedReportDetail>();
  const [addendum, setAddendum] = useState('');
  const load = useCallback(() => {
    api
      .get<NamedReportDetail>(`/api/v1/reports/${reportId}`)
      .then(setReport)
      .catch((caught: unknown) => message.error(caught instanceof Error ? caught.message : String(caught)));
  }, [reportId, message]);
  useEffect(load, [load]);
  useLiveEvents((event) => {
    if (event.payload.reportId === reportId) load();
  });
  if (!report) return <Spin />;

  const addenda = report.versions.filter((version) => version.kind === 'addendum');
  const addAddendum = async () => {
    await api.post(`/api/v1/reports/${reportId}/addenda`, { text: addendum.trim() });
    setAddendum('');
    message.success(t('report.addendumAdded'));
    load();
  };
  const print = () => openBlob(`/api/v1/reports/${reportId}/pdf`).catch((caught: unknown) => message.error(caught instanceof Error ? caught.message : String(caught)));

  return (
    <Card
      size="small"
      title={
        <Space>
          {t('reading.report')}
          <Tag color={report.status === 'signed' ? 'green' : 'default'} data-testid="report-status" data-status={report.status}>
            {t(`report.status.${report.status}` as MessageKey)}
          </Tag>
        </Space>
      }
      extra={
        report.status === 'signed' && (
          <Button size="small" icon={<FilePdfOutlined />} onClick={() => void print()} data-testid="report-pdf">
            {t('report.pdf')}
          </Button>
        )
      }
      data-testid="signed-report"
    >
      <ReportText report={report} />
      <Descriptions size="small" column={1} items={[
        ...reportIdentityItems(report, t),
        { key: 'author', label: t('review.author'), children: report.authorName || report.author },
        ...(report.reviewer ? [{ key: 'reviewer', label: t('review.reviewer'), children: report.reviewerName || report.reviewer }] : []),
        ...(report.signedAt ? [{ key: 'signed', label: t('report.signedAt'), children: formatDateTime(report.signedAt) }] : []),
      ]} />
      <ReviewRecord report={report} showDiff={canAmend} />
      {addenda.length > 0 && (
        <>
          <Typography.Title level={5}>{t('report.addenda')}</Typography.Title>
          {addenda.map((version) => (
            <Alert key={version.version} type="info" style={{ marginBottom: 6 }} title={`${formatDateTime(version.savedAt)} · ${version.savedByName || version.savedBy}`} description={<span style={{ whiteSpace: 'pre-wrap' }}>{version.addendum}</span>} />
          ))}
        </>
      )}
      {report.versions.length > 0 && (
        <>
          <Typography.Title level={5}>{t('report.versions')}</Typography.Title>
          <Timeline
            items={report.versions.map((version) => ({
              key: version.version,
              color: version.kind === 'signed' ? 'green' : version.kind === 'returned' ? 'red' : 'blue',
              content: [issuedVersionLabel(version, t), t(`report.kind.${version.kind}` as MessageKey), version.savedByName || version.savedBy, formatDateTime(version.savedAt)].filter(Boolean).join(' · '),
            }))}
          />
        </>
      )}
      {canAmend && report.status === 'signed' && (
        <Space.Compact style={{ width: '100%' }}>
          <Input value={addendum} onChange={(event) => setAddendum(event.target.value)} placeholder={t('report.addAddendum')} />
          <Button disabled={!addendum.trim()} onClick={() => void addAddendum()}>
            {t('report.addAddendum')}
          </Button>
        </Space.Compact>
      )}
    </Card>
  );
}
