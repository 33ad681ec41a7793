import { useCallback, useEffect, useState } from 'react';
import { Alert, App, Button, Empty, Popconfirm, Space, Spin, Tag, Typography } from 'antd';
import { KeyOutlined, QrcodeOutlined, StopOutlined, SyncOutlined } from '@ant-design/icons';
import { api, apiFetch } from '../../api/client.ts';
import { useT, type MessageKey } from '../../i18n/i18n.tsx';
import { formatDateTime } from '../../app/format.ts';

/** A cloud-film link as the staff routes answer it (share/share-model.ts ShareLinkView). */
export interface FilmLink {
  id: string;
  kind: 'patient' | 'onward';
  url: string;
  studyInstanceUid: string;
  reportId: string | null;
  hasAccessCode: boolean;
  createdAt: string;
  expiresAt: string;
  revokedAt: string | null;
  views: number;
  status: 'live' | 'expired' | 'revoked';
}

/** The answer of creating a link or issuing a code: the code appears here and nowhere else. */
type IssuedLink = FilmLink & { accessCode?: string };

const STATUS_COLOR: Record<FilmLink['status'], string> = { live: 'green', expired: 'default', revoked: 'red' };

/**
 * The patient's cloud-film links of one study, for the township technologist: the QR code
 * (rendered by the server), an access code set or changed (shown once, to tell the patient),
 * re-issue (the old link revoked, a new one made) and revoke. Onward links the patient made
 * are theirs to manage on the film page, so only patient links are listed here.
 */
export function FilmLinkPanel({ studyInstanceUid, signedRequestId }: { studyInstanceUid: string; signedRequestId?: string }) {
  const t = useT();
  const { message } = App.useApp();
  const [links, setLinks] = useState<FilmLink[]>();
  const [issuedCode, setIssuedCode] = useState<{ linkId: string; code: string }>();
  const [busy, setBusy] = useState(false);

  const load = useCallback(async () => {
    const answer = await api.get<FilmLink[]>('/api/v1/share-links', { studyInstanceUid });
    setLinks(answer.filter((link) => link.kind === 'patient').sort((a, b) => b.createdAt.localeCompare(a.createdAt)));
  }, [studyInstanceUid]);
  useEffect(() => {
    load().catch((caught: unknown) => message.error(errorText(caught)));
  }, [load, message]);

  const act = async (work: () => Promise<void>, done?: MessageKey) => {
    setBusy(true);
    try {
      await work();
      if (done) message.success(t(done));
      await load();
    } catch (caught) {
      message.error(errorText(caught));
    } finally {
      setBusy(false);
    }
  };

  /** A signed report of the study goes with a new link, so the patient reads it beside the images. */
  const reportIdForNewLink = async (): Promise<string | undefined> => {
    if (!signedRequestId) return undefined;
    const detail = await api.get<{ report?: { id: string } }>(`/api/v1/reading-requests/${signedRequestId}`);
    return detail.report?.id;
  };
  const create = () =>
    act(async () => {
      const created = await api.post<IssuedLink>('/api/v1/share-links', { studyInstanceUid, reportId: await reportIdForNewLink() });
      setIssuedCode(undefined);
      if (created.accessCode) setIssuedCode({ linkId: created.id, code: created.accessCode });
    });
  const issueCode = (link: FilmLink) =>
    act(async () => {
      const answer = await api.post<IssuedLink>(`/api/v1/share-links/${link.id}/access-code`, {});
      if (answer.accessCode) setIssuedCode({ linkId: link.id, code: answer.accessCode });
    }, 'township.film.codeSet');
  // Re-issue keeps what the patient had (the report, an access code) on a new token.
  const reissue = (link: FilmLink) =>
    act(async () => {
      await api.post(`/api/v1/share-links/${link.id}/revoke`);
      const created = await api.post<IssuedLink>('/api/v1/share-links', { studyInstanceUid, reportId: link.reportId ?? undefined, accessCode: link.hasAccessCode || undefined });
      setIssuedCode(created.accessCode ? { linkId: created.id, code: created.accessCode } : undefined);
    }, 'township.film.reissued');
  const revoke = (link: FilmLink) =>
    act(async () => {
      await api.post(`/api/v1/share-links/${link.id}/revoke`);
      if (issuedCode?.linkId === link.id) setIssuedCode(undefined);
    }, 'township.film.revoked');

  if (!links) return <Spin />;
  const live = links.filter((link) => link.status === 'live');
  const past = links.filter((link) => link.status !== 'live');
  return (
    <Space direction="vertical" style={{ width: '100%' }} size={12} data-testid="film-panel">
      {live.length === 0 && (
        <Empty description={t('township.film.none')}>
          <Button type="primary" icon={<QrcodeOutlined />} loading={busy} onClick={() => void create()} data-testid="film-create">
            {t('township.film.create')}
          </Button>
        </Empty>
      )}
      {live.map((link) => (
        <div key={link.id} data-testid="film-link" data-link-id={link.id} data-link-url={link.url}>
          <Space direction="vertical" style={{ width: '100%' }} size={8}>
            <Space wrap>
              <Tag color={STATUS_COLOR[link.status]}>{t(`township.film.status.${link.status}` as MessageKey)}</Tag>
              <Tag color={link.hasAccessCode ? 'gold' : 'default'} data-testid="film-has-code" data-has-code={String(link.hasAccessCode)}>
                {link.hasAccessCode ? t('township.film.hasCode') : t('township.film.noCode')}
              </Tag>
              <Typography.Text type="secondary">{t('township.film.expiresAt', { at: formatDateTime(link.expiresAt) })}</Typography.Text>
            </Space>
            <QrImage linkId={link.id} alt={t('township.film.qr')} />
            <Typography.Text copyable={{ text: link.url }} style={{ wordBreak: 'break-all' }} data-testid="film-url">
              {link.url}
            </Typography.Text>
            {issuedCode?.linkId === link.id && (
              <Alert type="warning" showIcon data-testid="film-access-code" data-code={issuedCode.code} title={t('township.film.codeIssued', { code: issuedCode.code })} />
            )}
            <Space wrap>
              <Button icon={<KeyOutlined />} disabled={busy} onClick={() => void issueCode(link)} data-testid="film-set-code">
                {link.hasAccessCode ? t('township.film.changeCode') : t('township.film.setCode')}
              </Button>
              <Popconfirm title={t('township.film.reissueConfirm')} onConfirm={() => reissue(link)} okButtonProps={{ 'data-testid': 'film-reissue-ok' } as Record<string, string>}>
                <Button icon={<SyncOutlined />} disabled={busy} data-testid="film-reissue">
                  {t('township.film.reissue')}
                </Button>
              </Popconfirm>
              <Popconfirm title={t('township.film.revokeConfirm')} onConfirm={() => revoke(link)} okButtonProps={{ danger: true, ...({ 'data-testid': 'film-revoke-ok' } as Record<string, string>) }}>
                <Button danger icon={<StopOutlined />} disabled={busy} data-testid="film-revoke">
                  {t('township.film.revoke')}
                </Button>
              </Popconfirm>
            </Space>
          </Space>
        </div>
      ))}
      {past.length > 0 && (
        <Space direction="vertical" size={2} data-testid="film-past">
          {past.map((link) => (
            <Typography.Text key={link.id} type="secondary" data-link-id={link.id}>
              <Tag color={STATUS_COLOR[link.status]}>{t(`township.film.status.${link.status}` as MessageKey)}</Tag>
              {formatDateTime(link.createdAt)}
            </Typography.Text>
          ))}
        </Space>
      )}
    </Space>
  );
}

/** The server renders the QR code (an authenticated route): fetched with the session, shown as an object URL. */
function QrImage({ linkId, alt }: { linkId: string; alt: string }) {
  const [src, setSrc] = useState<string>();
  useEffect(() => {
    let objectUrl: string | undefined;
    let cancelled = false;
    void apiFetch(`/api/v1/share-links/${linkId}/qr.png?size=256`)
      .then((response) => (response.ok ? response.blob() : undefined))
      .then((blob) => {
        if (!blob || cancelled) return;
        objectUrl = URL.createObjectURL(blob);
        setSrc(objectUrl);
      });
    return () => {
      cancelled = true;
      if (objectUrl) URL.revokeObjectURL(objectUrl);
    };
  }, [linkId]);
  return src ? <img src={src} alt={alt} width={192} height={192} data-testid="film-qr" /> : <Spin />;
}

function errorText(caught: unknown): string {
  return caught instanceof Error ? caught.message : String(caught);
}
