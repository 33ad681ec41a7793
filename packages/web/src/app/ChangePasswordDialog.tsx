import { useState } from 'react';
import { Alert, App, Form, Input, Modal, Typography } from 'antd';
import { ApiError } from '../api/client.ts';
import { authorizationHeader, clearToken } from '../api/session.ts';
import { refusalMessage } from '../i18n/errors.ts';
import { useI18n } from '../i18n/i18n.tsx';
import { MIN_PASSWORD_LENGTH, refusalText } from '../screens/admin/refusal.ts';
import { useAuth } from './auth.tsx';

interface Values {
  currentPassword: string;
  newPassword: string;
  confirm: string;
}

/**
 * Any user changes their own password (POST /api/v1/auth/password), proving the current one.
 * The server then ends every session of the account, this one included (access-service.ts
 * changeOwnPassword: a stolen session must not outlive the change), so the dialog returns to
 * the login screen, where the new password is asked for.
 */
export function ChangePasswordDialog({ open, onClose }: { open: boolean; onClose: () => void }) {
  const { t, locale } = useI18n();
  const { message } = App.useApp();
  const { logout } = useAuth();
  const [form] = Form.useForm<Values>();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();

  const submit = async () => {
    const values = await form.validateFields();
    setBusy(true);
    setError(undefined);
    try {
      // fetch, not apiFetch: a wrong current password answers 401, which must not end the session here
      const response = await fetch('/api/v1/auth/password', {
        method: 'POST',
        headers: { authorization: authorizationHeader(), 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify({ currentPassword: values.currentPassword, newPassword: values.newPassword }),
      });
      if (!response.ok) {
        const body = (await response.json().catch(() => ({}))) as { code?: string; message?: string; details?: Record<string, string | number> };
        const code = body.code ?? `HTTP_${response.status}`;
        if (code === 'UNAUTHORIZED') throw new Error(t('password.wrongCurrent'));
        throw new ApiError(response.status, code, refusalMessage(code, body.message ?? response.statusText, locale), body.details);
      }
      message.success(t('password.changed'));
      form.resetFields();
      onClose();
      // the session is gone on the server: leave without a "session expired" notice
      clearToken();
      await logout();
    } catch (caught) {
      setError(refusalText(t, caught));
    } finally {
      setBusy(false);
    }
  };

  return (
    <Modal
      open={open}
      title={t('password.change')}
      onOk={() => void submit()}
      onCancel={() => {
        setError(undefined);
        form.resetFields();
        onClose();
      }}
      confirmLoading={busy}
      okText={t('password.change')}
      cancelText={t('app.cancel')}
      okButtonProps={{ 'data-testid': 'change-password-ok' } as Record<string, string>}
      forceRender
    >
      <Typography.Paragraph type="secondary">{t('password.sessionsNote')}</Typography.Paragraph>
      {error && <Alert type="error" showIcon title={error} style={{ marginBottom: 8 }} data-testid="change-password-error" />}
      <Form form={form} layout="vertical" data-testid="change-password-form">
        <Form.Item name="currentPassword" label={t('password.current')} rules={[{ required: true, message: t('admin.required') }]}>
          <Input.Password autoComplete="current-password" data-testid="current-password" />
        </Form.Item>
        <Form.Item
          name="newPassword"
          label={t('password.new')}
          extra={t('password.hint', { min: MIN_PASSWORD_LENGTH })}
          dependencies={['currentPassword']}
          rules={[
            { required: true, message: t('admin.required') },
            { min: MIN_PASSWORD_LENGTH, message: t('password.weak.length', { min: MIN_PASSWORD_LENGTH }) },
            ({ getFieldValue }) => ({ validator: async (_rule, value: string) => { if (value && value === getFieldValue('currentPassword')) throw new Error(t('password.same')); } }),
          ]}
        >
          <Input.Password autoComplete="new-password" data-testid="new-password" />
        </Form.Item>
        <Form.Item
          name="confirm"
          label={t('password.confirm')}
          dependencies={['newPassword']}
          rules={[
            { required: true, message: t('admin.required') },
            ({ getFieldValue }) => ({ validator: async (_rule, value: string) => { if (value && value !== getFieldValue('newPassword')) throw new Error(t('password.mismatch')); } }),
          ]}
        >
          <Input.Password autoComplete="new-password" data-testid="confirm-password" />
        </Form.Item>
      </Form>
    </Modal>
  );
}
