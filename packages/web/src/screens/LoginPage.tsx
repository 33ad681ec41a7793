import { useState } from 'react';
import { useNavigate } from 'react-router-dom';
import { Alert, Button, Card, Form, Input, Segmented, Typography } from 'antd';
import { LockOutlined, UserOutlined } from '@ant-design/icons';
import { useI18n } from '../i18n/i18n.tsx';
import { useAuth } from '../app/auth.tsx';
import { homePathOf } from '../app/home-path.ts';

export function LoginPage() {
  const { t, locale, setLocale } = useI18n();
  const { login, expired } = useAuth();
  const navigate = useNavigate();
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);

  const onFinish = async (values: { username: string; password: string }) => {
    setBusy(true);
    setError(undefined);
    try {
      const user = await login(values.username, values.password);
      navigate(homePathOf(user.role), { replace: true });
    } catch (caught) {
      setError(t('login.failed', { message: caught instanceof Error ? caught.message : String(caught) }));
    } finally {
      setBusy(false);
    }
  };

  return (
    <div style={{ minHeight: '100vh', display: 'flex', alignItems: 'center', justifyContent: 'center', background: '#0b1f3a' }}>
      <Card style={{ width: 380, maxWidth: '92vw' }} data-testid="login-page">
        <div style={{ display: 'flex', justifyContent: 'space-between', alignItems: 'baseline' }}>
          <Typography.Title level={3} style={{ marginTop: 0 }}>
            {t('app.name')}
          </Typography.Title>
          <Segmented
            size="small"
            value={locale}
            onChange={(value) => setLocale(value as 'zh-CN' | 'en')}
            options={[
              { label: t('app.langZh'), value: 'zh-CN' },
              { label: t('app.langEn'), value: 'en' },
            ]}
            data-testid="language-switch"
          />
        </div>
        <Typography.Paragraph type="secondary">{t('app.subtitle')}</Typography.Paragraph>
        {expired && <Alert type="warning" showIcon title={t('app.sessionExpired')} style={{ marginBottom: 12 }} />}
        {error && <Alert type="error" showIcon title={error} style={{ marginBottom: 12 }} data-testid="login-error" />}
        <Form layout="vertical" onFinish={(values) => void onFinish(values as { username: string; password: string })} requiredMark={false}>
          <Form.Item name="username" label={t('login.username')} rules={[{ required: true, message: t('login.required', { field: t('login.username') }) }]}>
            <Input prefix={<UserOutlined />} autoComplete="username" autoFocus data-testid="login-username" />
          </Form.Item>
          <Form.Item name="password" label={t('login.password')} rules={[{ required: true, message: t('login.required', { field: t('login.password') }) }]}>
            <Input.Password prefix={<LockOutlined />} autoComplete="current-password" data-testid="login-password" />
          </Form.Item>
          <Button type="primary" htmlType="submit" block loading={busy} data-testid="login-submit">
            {t('login.submit')}
          </Button>
        </Form>
      </Card>
    </div>
  );
}
