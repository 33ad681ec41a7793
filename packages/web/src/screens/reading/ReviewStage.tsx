import { useCallback, useEffect, useState } from 'react';
import { Alert, App, Button, Card, Form, Input, Modal, Radio, Segmented, Space, Tag, Typography } from 'antd';
import { EditOutlined, SafetyCertificateOutlined } from '@ant-design/icons';
import { api, ApiError } from '../../api/client.ts';
import type { Report } from '../../api/types.ts';
import { useT } from '../../i18n/i18n.tsx';
import { useUser } from '../../app/auth.tsx';
import { ReportDiff } from './ReportDiff.tsx';

interface ReviewText {
  findings: string;
  impression: string;
  positive: boolean | null;
}

/**
 * The reviewer's panel of a submitted report (审核): read it, edit it (修改后审核: the author's
 * text and the changes are both kept), return it with comments, or sign it: signing opens
 * the electronic-signature dialog (confirmation with the password or the signing PIN).
 */
export function ReviewPanel({ report, onDone }: { report: Report; onDone: () => void }) {
  const t = useT();
  const { message } = App.useApp();
  const [returning, setReturning] = useState(false);
  const [comments, setComments] = useState('');
  const [editing, setEditing] = useState(false);
  const [text, setText] = useState<ReviewText>({ findings: report.findings, impression: report.impression, positive: report.positive });
  const [signing, setSigning] = useState(false);
  const edited = editing && (text.findings !== report.findings || text.impression !== report.impression || text.positive !== report.positive);

  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      if ((event.ctrlKey || event.metaKey) && event.key === 'Enter') {
        event.preventDefault();
        setSigning(true);
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, []);

  const sendBack = async () => {
    if (!comments.trim()) return;
    try {
      await api.post(`/api/v1/reports/${report.id}/return`, { comments: comments.trim() });
      message.success(t('review.returned'));
      setReturning(false);
      onDone();
    } catch (caught) {
      message.error(caught instanceof Error ? caught.message : String(caught));
    }
  };

  const startEditing = () => {
    setText({ findings: report.findings, impression: report.impression, positive: report.positive });
    setEditing(true);
  };

  return (
    <Card size="small" title={t('reading.report')} extra={<Typography.Text type="secondary">{`${t('review.author')}: ${report.authorName || report.author}`}</Typography.Text>} data-testid="review-panel" data-editing={String(editing)}>
      {editing ? (
        <Space direction="vertical" style={{ width: '100%' }} size={8}>
          <Alert type="info" showIcon title={t('review.editing')} />
          <div>
            <Typography.Text strong>{t('reading.findings')}</Typography.Text>
            <Input.TextArea value={text.findings} onChange={(event) => setText({ ...text, findings: event.target.value })} autoSize={{ minRows: 6, maxRows: 16 }} data-testid="review-findings" />
          </div>
          <div>
            <Typography.Text strong>{t('reading.impression')}</Typography.Text>
            <Input.TextArea value={text.impression} onChange={(event) => setText({ ...text, impression: event.target.value })} autoSize={{ minRows: 3, maxRows: 8 }} data-testid="review-impression" />
          </div>
          <Space>
            <Typography.Text strong>{t('reading.result')}</Typography.Text>
            <Radio.Group value={text.positive === null ? undefined : text.positive ? 'positive' : 'negative'} onChange={(event) => setText({ ...text, positive: event.target.value === 'positive' })} optionType="button" buttonStyle="solid" data-testid="review-positive">
              <Radio.Button value="positive">{t('reading.positive')}</Radio.Button>
              <Radio.Button value="negative">{t('reading.negative')}</Radio.Button>
            </Radio.Group>
          </Space>
          {edited && (
            <Card size="small" type="inner" title={t('diff.title')} data-testid="review-diff-preview">
              <ReportDiff before={report} after={text} />
            </Card>
          )}
        </Space>
      ) : (
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
      )}
      <Space wrap style={{ marginTop: 8 }}>
        <Button type="primary" icon={<SafetyCertificateOutlined />} onClick={() => setSigning(true)} data-testid="approve-sign">
          {edited ? t('review.signEdited') : t('review.approve')}
        </Button>
        {editing ? (
          <Button onClick={() => setEditing(false)} data-testid="review-cancel-edit">
            {t('review.cancelEdit')}
          </Button>
        ) : (
          <Button icon={<EditOutlined />} onClick={startEditing} data-testid="review-edit">
            {t('review.edit')}
          </Button>
        )}
        <Button danger onClick={() => setReturning(true)} data-testid="return-report">
          {t('review.return')}
        </Button>
      </Space>
      <Modal open={returning} title={t('review.return')} onOk={() => void sendBack()} onCancel={() => setReturning(false)} okButtonProps={{ disabled: !comments.trim(), 'data-testid': 'return-ok' }} okText={t('review.return')} cancelText={t('app.cancel')}>
        <Input.TextArea rows={4} placeholder={t('review.comments')} value={comments} onChange={(event) => setComments(event.target.value)} data-testid="return-comments" />
      </Modal>
      <SignDialog
        open={signing}
        reportId={report.id}
        edits={edited ? { findings: text.findings, impression: text.impression, ...(text.positive === null ? {} : { positive: text.positive }) } : undefined}
        onCancel={() => setSigning(false)}
        onSigned={() => {
          setSigning(false);
          message.success(t('review.signed'));
          onDone();
        }}
      />
    </Card>
  );
}

/**
 * The electronic signature (电子签名): what is signed and as whom, then the password or the
 * signing PIN. A refusal (wrong password, too many attempts) stays in the dialog with the
 * server's reason in the screen's language; nothing is signed until the server accepts it.
 */
export function SignDialog({ open, reportId, edits, submit, onCancel, onSigned }: {
  open: boolean;
  /** the report signed (POST /api/v1/reports/{id}/sign), unless `submit` signs something else */
  reportId?: string;
  edits?: { findings: string; impression: string; positive?: boolean };
  /** signs with the password or PIN instead of the report route (a consultation's opinion or conclusion) */
  submit?: (secret: { password: string } | { pin: string }) => Promise<unknown>;
  onCancel: () => void;
  onSigned: () => void;
}) {
  const t = useT();
  const user = useUser();
  const [method, setMethod] = useState<'password' | 'pin'>('password');
  const [secret, setSecret] = useState('');
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const [pinSet, setPinSet] = useState(false);
  const [pinSettings, setPinSettings] = useState(false);

  const loadPin = useCallback(() => {
    api
      .get<{ set: boolean }>('/api/v1/auth/signing-pin')
      .then((status) => setPinSet(status.set))
      .catch(() => setPinSet(false));
  }, []);
  useEffect(() => {
    if (!open) return;
    setSecret('');
    setError(undefined);
    loadPin();
  }, [open, loadPin]);
  useEffect(() => {
    if (!pinSet) setMethod('password');
  }, [pinSet]);

  const sign = async () => {
    if (!secret) return;
    setBusy(true);
    setError(undefined);
    try {
      const credentials = method === 'pin' ? { pin: secret } : { password: secret };
      await (submit ? submit(credentials) : api.post(`/api/v1/reports/${reportId}/sign`, { ...credentials, ...edits }));
      setSecret('');
      onSigned();
    } catch (caught) {
      setSecret('');
      setError(caught instanceof ApiError ? caught.message : String(caught));
    } finally {
      setBusy(false);
    }
  };

  return (
    <Modal
      open={open}
      title={
        <Space>
          <SafetyCertificateOutlined />
          {t('esign.title')}
        </Space>
      }
      onCancel={onCancel}
      onOk={() => void sign()}
      okText={t('esign.ok')}
      cancelText={t('app.cancel')}
      confirmLoading={busy}
      okButtonProps={{ disabled: !secret, 'data-testid': 'esign-ok' }}
      destroyOnHidden
    >
      <div data-testid="esign-dialog-body">
        <Typography.Paragraph>{t('esign.confirm', { name: user.displayName ?? user.username })}</Typography.Paragraph>
        {edits && <Alert type="warning" showIcon title={t('esign.confirmEdited')} style={{ marginBottom: 8 }} data-testid="esign-edited" />}
        <Form layout="vertical" onFinish={() => void sign()}>
          {pinSet && (
            <Form.Item label={t('esign.method')}>
              <Segmented
                value={method}
                onChange={(value) => {
                  setMethod(value as 'password' | 'pin');
                  setSecret('');
                }}
                options={[
                  { value: 'password', label: t('esign.password') },
                  { value: 'pin', label: t('esign.pin') },
                ]}
                data-testid="esign-method"
              />
            </Form.Item>
          )}
          <Form.Item label={method === 'pin' ? t('esign.pin') : t('esign.password')}>
            {method === 'pin' ? (
              <Input.Password value={secret} onChange={(event) => setSecret(event.target.value.replace(/\D/g, '').slice(0, 6))} inputMode="numeric" maxLength={6} placeholder={t('esign.pinPlaceholder')} autoFocus autoComplete="off" data-testid="esign-pin" onPressEnter={() => void sign()} />
            ) : (
              <Input.Password value={secret} onChange={(event) => setSecret(event.target.value)} placeholder={t('esign.passwordPlaceholder')} autoFocus autoComplete="current-password" data-testid="esign-password" onPressEnter={() => void sign()} />
            )}
          </Form.Item>
        </Form>
        {error && <Alert type="error" showIcon title={error} data-testid="esign-error" />}
        <Button type="link" size="small" style={{ paddingInline: 0, marginTop: 8 }} onClick={() => setPinSettings(true)} data-testid="esign-pin-settings">
          {pinSet ? `${t('esign.pinIsSet')} · ${t('esign.setPin')}` : t('esign.setPin')}
        </Button>
      </div>
      <SigningPinSettings
        open={pinSettings}
        pinSet={pinSet}
        onClose={() => {
          setPinSettings(false);
          loadPin();
        }}
      />
    </Modal>
  );
}

/** The signer sets, changes or removes their own signing PIN, proving the password. */
export function SigningPinSettings({ open, pinSet, onClose }: { open: boolean; pinSet: boolean; onClose: () => void }) {
  const t = useT();
  const { message } = App.useApp();
  const [password, setPassword] = useState('');
  const [pin, setPin] = useState('');
  const [again, setAgain] = useState('');
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    if (!open) return;
    setPassword('');
    setPin('');
    setAgain('');
    setError(undefined);
  }, [open]);

  const save = async (remove: boolean) => {
    if (!remove && pin !== again) {
      setError(t('esign.pinMismatch'));
      return;
    }
    setBusy(true);
    try {
      await api.put('/api/v1/auth/signing-pin', { currentPassword: password, pin: remove ? null : pin });
      message.success(remove ? t('esign.pinRemoved') : t('esign.pinSet'));
      onClose();
    } catch (caught) {
      setError(caught instanceof ApiError ? caught.message : String(caught));
    } finally {
      setBusy(false);
    }
  };
  const digits = (value: string) => value.replace(/\D/g, '').slice(0, 6);

  return (
    <Modal
      open={open}
      title={t('esign.setPin')}
      onCancel={onClose}
      onOk={() => void save(false)}
      okText={t('app.save')}
      cancelText={t('app.cancel')}
      confirmLoading={busy}
      okButtonProps={{ disabled: !password || pin.length !== 6 || again.length !== 6, 'data-testid': 'pin-save' }}
      footer={(original) => (
        <Space>
          {pinSet && (
            <Button danger disabled={!password || busy} onClick={() => void save(true)} data-testid="pin-remove">
              {t('esign.removePin')}
            </Button>
          )}
          {original}
        </Space>
      )}
      destroyOnHidden
    >
      <Form layout="vertical">
        <Form.Item label={t('esign.currentPassword')}>
          <Input.Password value={password} onChange={(event) => setPassword(event.target.value)} autoComplete="current-password" data-testid="pin-password" />
        </Form.Item>
        <Form.Item label={t('esign.newPin')}>
          <Input.Password value={pin} onChange={(event) => setPin(digits(event.target.value))} inputMode="numeric" maxLength={6} autoComplete="off" data-testid="pin-new" />
        </Form.Item>
        <Form.Item label={t('esign.newPinAgain')}>
          <Input.Password value={again} onChange={(event) => setAgain(digits(event.target.value))} inputMode="numeric" maxLength={6} autoComplete="off" data-testid="pin-again" />
        </Form.Item>
      </Form>
      {error && <Alert type="error" showIcon title={error} data-testid="pin-error" />}
    </Modal>
  );
}
