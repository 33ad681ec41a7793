import { useCallback, useEffect, useState } from 'react';
import { useNavigate, useParams } from 'react-router-dom';
import { Alert, App, Button, Card, Descriptions, Empty, Input, List, Space, Spin, Tag, Typography } from 'antd';
import { ArrowLeftOutlined, FilePdfOutlined, ReloadOutlined, SafetyCertificateOutlined } from '@ant-design/icons';
import { consultationsApi, mayConsult, type ConsultationExpert, type ConsultationView, type SigningSecret } from '../../api/consultations.ts';
import { useUser } from '../../app/auth.tsx';
import { formatDateTime } from '../../app/format.ts';
import { StudyViewerModal } from '../../app/StudyViewerModal.tsx';
import { useT, type MessageKey } from '../../i18n/i18n.tsx';
import { refusalText } from '../admin/refusal.ts';
import { SignDialog } from '../reading/ReviewStage.tsx';
import { ConsultationCountdown } from './Countdown.tsx';
import { ReasonDialog } from './ReasonDialog.tsx';
import { ConsultationStatusTag, ConsultationTypeTag } from './tags.tsx';

const OPEN_STATUSES = new Set(['requested', 'accepted', 'in-progress']);

type Dialog = 'decline' | 'close' | 'cancel' | 'invite' | 'sign-opinion' | 'sign-conclusion';

/** 会诊详情 on its own route (/consultations/:id). */
export default function ConsultationDetailPage() {
  const { id } = useParams();
  return id ? <ConsultationDetail key={id} id={id} /> : null;
}

/**
 * One consultation: the studies (opened in the viewer), the question and summary, the
 * experts with their signed opinions, the countdown to dueAt; for an invited expert accept or
 * decline, for an accepted expert the opinion editor (draft, sign), for the lead the
 * conclusion; for the requesting institution close (with a follow-up note), cancel, invite
 * another expert; the signed conclusion as PDF.
 */
export function ConsultationDetail({ id }: { id: string }) {
  const t = useT();
  const user = useUser();
  const navigate = useNavigate();
  const { message } = App.useApp();
  const [consultation, setConsultation] = useState<ConsultationView>();
  const [error, setError] = useState<string>();
  const [viewing, setViewing] = useState<number>();
  const [dialog, setDialog] = useState<Dialog>();
  const [opinion, setOpinion] = useState('');
  const [conclusion, setConclusion] = useState('');
  const [busy, setBusy] = useState(false);

  const load = useCallback(() => {
    consultationsApi
      .get(id)
      .then((next) => {
        setConsultation(next);
        setError(undefined);
        const mine = next.experts.find((expert) => expert.username === user.username);
        setOpinion((current) => current || mine?.opinion?.text || '');
        setConclusion((current) => current || next.conclusion?.text || '');
      })
      .catch((caught: unknown) => setError(refusalText(t, caught)));
  }, [id, t, user.username]);
  useEffect(load, [load]);

  const act = async (action: () => Promise<ConsultationView>, done: MessageKey) => {
    setBusy(true);
    try {
      setConsultation(await action());
      message.success(t(done));
    } catch (caught) {
      message.error(refusalText(t, caught));
    } finally {
      setBusy(false);
    }
  };

  if (error && !consultation) return <Alert type="error" showIcon title={error} data-testid="consultation-error" />;
  if (!consultation) return <Spin size="large" style={{ display: 'block', margin: '20vh auto' }} />;

  const mine = consultation.experts.find((expert) => expert.username === user.username);
  const answering = mayConsult(user.role, 'consult:answer');
  const requester = mayConsult(user.role, 'consult:request') && user.institutionId === consultation.requestingInstitutionId;
  const open = OPEN_STATUSES.has(consultation.status);
  const mayRespond = answering && open && mine?.status === 'invited';
  const mayWriteOpinion = answering && open && mine?.status === 'accepted' && !mine.opinion?.signed;
  const isLead = answering && open && consultation.lead === user.username && mine?.status === 'accepted';
  const signedOpinions = consultation.experts.filter((expert) => expert.opinion?.signed).length;

  return (
    <Space direction="vertical" size={12} style={{ width: '100%' }} data-testid="consultation-detail" data-consultation-id={consultation.id} data-status={consultation.status}>
      <Card
        size="small"
        title={
          <Space wrap>
            <Button size="small" icon={<ArrowLeftOutlined />} onClick={() => navigate('/consultations')} data-testid="consultation-back">
              {t('consult.back')}
            </Button>
            {t('consult.detail')}
            <ConsultationTypeTag type={consultation.type} />
            <ConsultationStatusTag status={consultation.status} />
            <ConsultationCountdown consultation={consultation} />
          </Space>
        }
        extra={
          <Space wrap>
            {consultation.conclusion && (
              <Button
                size="small"
                icon={<FilePdfOutlined />}
                href={consultationsApi.pdfPath(consultation.id)}
                onClick={(event) => {
                  event.preventDefault();
                  consultationsApi.openPdf(consultation.id).catch((caught: unknown) => message.error(refusalText(t, caught)));
                }}
                data-testid="consultation-pdf"
              >
                {t('consult.pdf')}
              </Button>
            )}
            <Button size="small" icon={<ReloadOutlined />} onClick={load} data-testid="consultation-refresh">
              {t('app.refresh')}
            </Button>
          </Space>
        }
      >
        <Descriptions size="small" column={{ xs: 1, md: 2, xl: 3 }} bordered>
          <Descriptions.Item label={t('consult.requesting')}>{consultation.requestingInstitutionName ?? <span data-identifier>{consultation.requestingInstitutionId}</span>}</Descriptions.Item>
          <Descriptions.Item label={t('consult.expertInstitution')}>{consultation.expertInstitutionName ?? <span data-identifier>{consultation.expertInstitutionId}</span>}</Descriptions.Item>
          <Descriptions.Item label={t('consult.requestedBy')}>{consultation.requestedByName ?? <span data-identifier>{consultation.requestedBy}</span>}</Descriptions.Item>
          <Descriptions.Item label={t('consult.createdAt')}>{formatDateTime(consultation.createdAt)}</Descriptions.Item>
          <Descriptions.Item label={t('consult.due')}>{formatDateTime(consultation.dueAt)}</Descriptions.Item>
          <Descriptions.Item label={t('consult.question')} span={3}>
            <Typography.Paragraph style={{ whiteSpace: 'pre-wrap', margin: 0 }} data-testid="consultation-question-text">{consultation.question}</Typography.Paragraph>
          </Descriptions.Item>
          <Descriptions.Item label={t('consult.clinicalSummary')} span={3}>
            <Typography.Paragraph style={{ whiteSpace: 'pre-wrap', margin: 0 }}>{consultation.clinicalSummary}</Typography.Paragraph>
          </Descriptions.Item>
          {consultation.followUpNote && (
            <Descriptions.Item label={t('consult.followUpNote')} span={3}>
              <Typography.Paragraph style={{ whiteSpace: 'pre-wrap', margin: 0 }} data-testid="consultation-follow-up">{consultation.followUpNote}</Typography.Paragraph>
            </Descriptions.Item>
          )}
        </Descriptions>
        <Space wrap style={{ marginTop: 12 }}>
          {mayRespond && (
            <>
              <Button type="primary" loading={busy} onClick={() => void act(() => consultationsApi.accept(consultation.id), 'consult.acceptedOk')} data-testid="consultation-accept">
                {t('consult.accept')}
              </Button>
              <Button danger onClick={() => setDialog('decline')} data-testid="consultation-decline">
                {t('consult.decline')}
              </Button>
            </>
          )}
          {requester && consultation.status === 'answered' && (
            <Button type="primary" onClick={() => setDialog('close')} data-testid="consultation-close">
              {t('consult.close')}
            </Button>
          )}
          {requester && open && (
            <>
              <Button onClick={() => setDialog('invite')} data-testid="consultation-invite">
                {t('consult.inviteExpert')}
              </Button>
              <Button danger onClick={() => setDialog('cancel')} data-testid="consultation-cancel">
                {t('consult.cancel')}
              </Button>
            </>
          )}
        </Space>
      </Card>

      <Card size="small" title={t('consult.studies')}>
        <List
          size="small"
          dataSource={consultation.studyInstanceUids}
          locale={{ emptyText: <Empty /> }}
          renderItem={(uid, index) => (
            <List.Item
              data-testid="consultation-study"
              data-study-uid={uid}
              actions={[
                <Button key="open" size="small" type="link" onClick={() => setViewing(index)} data-testid="consultation-study-open">
                  {t('consult.viewImages')}
                </Button>,
              ]}
            >
              <Typography.Text code copyable>
                {uid}
              </Typography.Text>
            </List.Item>
          )}
        />
        {consultation.attachments.length > 0 && (
          <div style={{ marginTop: 8 }}>
            <Typography.Text strong>{t('consult.attachments')} </Typography.Text>
            {consultation.attachments.map((attachment, index) => (
              <Tag key={index}>{attachment.title}</Tag>
            ))}
          </div>
        )}
      </Card>

      <Card size="small" title={t('consult.experts')}>
        <List size="small" dataSource={consultation.experts} renderItem={(expert) => <ExpertItem expert={expert} self={expert.username === user.username} />} data-testid="consultation-experts-list" />
      </Card>

      {mayWriteOpinion && (
        <Card size="small" title={t('consult.opinionEditor')} data-testid="opinion-editor">
          <Input.TextArea rows={6} value={opinion} onChange={(event) => setOpinion(event.target.value)} maxLength={8000} data-testid="opinion-text" />
          <Space style={{ marginTop: 8 }}>
            <Button loading={busy} disabled={!opinion.trim()} onClick={() => void act(() => consultationsApi.saveOpinion(consultation.id, opinion.trim()), 'consult.opinionSaved')} data-testid="opinion-save">
              {t('consult.opinionSave')}
            </Button>
            <Button type="primary" icon={<SafetyCertificateOutlined />} disabled={!opinion.trim()} onClick={() => setDialog('sign-opinion')} data-testid="opinion-sign">
              {t('consult.opinionSign')}
            </Button>
          </Space>
        </Card>
      )}

      <Card size="small" title={t('consult.conclusion')} data-testid="consultation-conclusion">
        {consultation.conclusion ? (
          <>
            <Typography.Paragraph style={{ whiteSpace: 'pre-wrap' }} data-testid="conclusion-signed-text">
              {consultation.conclusion.text}
            </Typography.Paragraph>
            <Typography.Text type="secondary">{t('consult.conclusionBy', { name: consultation.conclusion.signedByName ?? consultation.conclusion.signedBy, time: formatDateTime(consultation.conclusion.signedAt) })}</Typography.Text>
          </>
        ) : isLead ? (
          <>
            {signedOpinions === 0 && <Alert type="info" showIcon title={t('consult.conclusionNeedsOpinion')} style={{ marginBottom: 8 }} />}
            <Input.TextArea rows={5} value={conclusion} onChange={(event) => setConclusion(event.target.value)} maxLength={8000} data-testid="conclusion-text" />
            <Button type="primary" icon={<SafetyCertificateOutlined />} style={{ marginTop: 8 }} disabled={!conclusion.trim() || signedOpinions === 0} onClick={() => setDialog('sign-conclusion')} data-testid="conclusion-sign">
              {t('consult.conclusionSign')}
            </Button>
          </>
        ) : (
          <Typography.Text type="secondary">{t('consult.conclusionPending')}</Typography.Text>
        )}
      </Card>

      <StudyViewerModal
        studyInstanceUid={viewing === undefined ? undefined : consultation.studyInstanceUids[viewing]}
        title={t('consult.viewerTitle', { index: (viewing ?? 0) + 1 })}
        onClose={() => setViewing(undefined)}
        testId="consultation-viewer"
      />
      <SignDialog
        open={dialog === 'sign-opinion' || dialog === 'sign-conclusion'}
        submit={async (secret: SigningSecret) => {
          const next = dialog === 'sign-conclusion' ? await consultationsApi.signConclusion(consultation.id, conclusion.trim(), secret) : await consultationsApi.saveOpinion(consultation.id, opinion.trim(), secret);
          setConsultation(next);
        }}
        onCancel={() => setDialog(undefined)}
        onSigned={() => {
          message.success(t(dialog === 'sign-conclusion' ? 'consult.conclusionSigned' : 'consult.opinionSignedOk'));
          setDialog(undefined);
        }}
      />
      {dialog === 'decline' && <ReasonDialog title={t('consult.decline')} label={t('consult.reason')} okDanger testId="consultation-decline" onClose={() => setDialog(undefined)} onSubmit={async (reason) => setConsultation(await consultationsApi.decline(consultation.id, reason))} />}
      {dialog === 'cancel' && <ReasonDialog title={t('consult.cancel')} label={t('consult.reason')} okDanger testId="consultation-cancel" onClose={() => setDialog(undefined)} onSubmit={async (reason) => setConsultation(await consultationsApi.cancel(consultation.id, reason))} />}
      {dialog === 'close' && <ReasonDialog title={t('consult.close')} label={t('consult.followUpNote')} required={false} testId="consultation-close" onClose={() => setDialog(undefined)} onSubmit={async (note) => setConsultation(await consultationsApi.close(consultation.id, note || undefined))} />}
      {dialog === 'invite' && (
        <ReasonDialog
          title={t('consult.inviteExpert')}
          label={t('consult.expertUsername')}
          testId="consultation-invite"
          onClose={() => setDialog(undefined)}
          onSubmit={async (username) => {
            const declined = consultation.experts.find((expert) => expert.status === 'declined');
            setConsultation(await consultationsApi.inviteExpert(consultation.id, username, declined?.username));
            message.success(t('consult.invitedOk'));
          }}
        />
      )}
    </Space>
  );
}

function ExpertItem({ expert, self }: { expert: ConsultationExpert; self: boolean }) {
  const t = useT();
  return (
    <List.Item data-testid="consultation-expert" data-username={expert.username} data-expert-status={expert.status}>
      <Space direction="vertical" size={4} style={{ width: '100%' }}>
        <Space wrap>
          <Typography.Text strong>{expert.displayName ?? <span data-identifier>{expert.username}</span>}</Typography.Text>
          <Tag color={expert.status === 'accepted' ? 'green' : expert.status === 'declined' ? 'red' : undefined}>{t(`consult.expertStatus.${expert.status}` as MessageKey)}</Tag>
          {expert.lead && <Tag color="gold">{t('consult.lead')}</Tag>}
          {expert.viaRoster && <Tag>{t('consult.viaRoster')}</Tag>}
          {expert.declineReason && <Typography.Text type="secondary">{t('consult.declineReason', { reason: expert.declineReason })}</Typography.Text>}
        </Space>
        {expert.opinion ? (
          <div data-testid="expert-opinion" data-signed={String(expert.opinion.signed)}>
            <Typography.Paragraph style={{ whiteSpace: 'pre-wrap', margin: 0 }}>{expert.opinion.text}</Typography.Paragraph>
            <Typography.Text type="secondary">{expert.opinion.signed ? t('consult.opinionSignedAt', { time: formatDateTime(expert.opinion.signedAt) }) : self ? t('consult.opinionDraft') : ''}</Typography.Text>
          </div>
        ) : (
          <Typography.Text type="secondary">{t('consult.opinionPending')}</Typography.Text>
        )}
      </Space>
    </List.Item>
  );
}
