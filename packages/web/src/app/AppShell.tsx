import { useState, type ReactNode } from 'react';
import { useLocation, useNavigate } from 'react-router-dom';
import { Button, Dropdown, Layout, Menu, Segmented, Space, Tag, Typography } from 'antd';
import { DownOutlined, KeyOutlined, LogoutOutlined } from '@ant-design/icons';
import { ChangePasswordDialog } from './ChangePasswordDialog.tsx';
import type { Role } from '../api/types.ts';
import { useI18n, type MessageKey } from '../i18n/i18n.tsx';
import { useAuth, useUser } from './auth.tsx';
import { rolesWith, type ConsultPermission } from '../api/consultations.ts';

/** 危急值 and their time to acknowledgement (screens/statistics/CriticalFindingsStats.tsx) */
const CRITICAL_MENU = { path: '/critical-findings', label: 'nav.criticalFindings' } as const;

const MENUS: Record<string, Array<{ path: string; label: MessageKey }>> = {
  radiologist: [{ path: '/worklist', label: 'nav.worklist' }, CRITICAL_MENU],
  expert: [{ path: '/worklist', label: 'nav.worklist' }, CRITICAL_MENU],
  'reviewing-radiologist': [
    { path: '/review', label: 'nav.review' },
    { path: '/worklist', label: 'nav.worklist' },
    CRITICAL_MENU,
  ],
  technologist: [{ path: '/township', label: 'nav.township' }, CRITICAL_MENU],
  administrator: [
    { path: '/admin', label: 'nav.admin' },
    { path: '/worklist', label: 'nav.worklist' },
    { path: '/statistics', label: 'nav.statistics' },
    { path: '/audit', label: 'nav.audit' },
  ],
  'commission-analyst': [{ path: '/statistics', label: 'nav.statistics' }],
  'insurance-auditor': [{ path: '/audit', label: 'nav.audit' }],
};

/** 模板与常用语 (screens/reading/TemplateManager.tsx) for the roles holding templates:write */
const TEMPLATES_MENU = { path: '/templates', label: 'nav.templates' } as const;
for (const role of ['radiologist', 'expert', 'reviewing-radiologist', 'administrator']) MENUS[role]?.push(TEMPLATES_MENU);

/** 患者互认 (screens/PatientsPage.tsx): the clinician's home, and a screen of every role that may search the patient index */
const PATIENTS_MENU = { path: '/patients', label: 'nav.patients' } as const;
MENUS.clinician = [PATIENTS_MENU];
for (const role of ['radiologist', 'expert', 'reviewing-radiologist', 'technologist', 'administrator']) MENUS[role]?.push(PATIENTS_MENU);

/**
 * 远程会诊, 多学科会诊, 双向转诊 (screens/consult/) for the roles holding consult:read, mdt:read,
 * referral:read, and 会诊统计 for consult:statistics (api/consultations.ts has the contract's table)
 */
const CONSULT_MENUS: Array<{ path: string; label: MessageKey; permission: ConsultPermission }> = [
  { path: '/consultations', label: 'nav.consultations', permission: 'consult:read' },
  { path: '/mdt', label: 'nav.mdt', permission: 'mdt:read' },
  { path: '/referrals', label: 'nav.referrals', permission: 'referral:read' },
  { path: '/consult-statistics', label: 'nav.consultStats', permission: 'consult:statistics' },
];
for (const item of CONSULT_MENUS) {
  // the administrator sees the statistics as a tab of 远程会诊
  for (const role of rolesWith(item.permission)) if (!(role === 'administrator' && item.permission === 'consult:statistics')) (MENUS[role] ??= []).push({ path: item.path, label: item.label });
}

export function menuOf(role: Role): Array<{ path: string; label: MessageKey }> {
  return MENUS[role] ?? [];
}

/** Header with the role's screens, the user, the language switch and logout. */
export function AppShell({ children }: { children: ReactNode }) {
  const { t, locale, setLocale } = useI18n();
  const user = useUser();
  const { logout } = useAuth();
  const navigate = useNavigate();
  const location = useLocation();
  const items = menuOf(user.role).map((item) => ({ key: item.path, label: t(item.label) }));
  const selected = items.find((item) => location.pathname.startsWith(item.key))?.key;
  const [changingPassword, setChangingPassword] = useState(false);
  return (
    <Layout style={{ minHeight: '100vh' }}>
      <Layout.Header style={{ display: 'flex', alignItems: 'center', gap: 16, paddingInline: 16, height: 48, lineHeight: '48px' }}>
        <Typography.Text strong style={{ color: '#fff', fontSize: 18, whiteSpace: 'nowrap' }}>
          {t('app.name')}
          <span style={{ fontSize: 12, fontWeight: 400, marginInlineStart: 8, opacity: 0.7 }}>{t('app.subtitle')}</span>
        </Typography.Text>
        <Menu theme="dark" mode="horizontal" selectedKeys={selected ? [selected] : []} items={items} onClick={({ key }) => navigate(key)} style={{ flex: 1, minWidth: 0, lineHeight: '48px' }} data-testid="main-menu" />
        <Space size="small">
          {/* the user menu: the own password (any role) */}
          <Dropdown trigger={['click']} menu={{ items: [{ key: 'password', icon: <KeyOutlined />, label: <span data-testid="menu-change-password">{t('password.change')}</span> }], onClick: ({ key }) => key === 'password' && setChangingPassword(true) }}>
            <Button type="text" size="small" aria-label={t('app.userMenu')} style={{ color: '#fff' }} data-testid="user-menu">
              <Typography.Text style={{ color: '#fff', whiteSpace: 'nowrap' }} data-testid="current-user">
                {user.displayName ?? user.username}
              </Typography.Text>
              <DownOutlined style={{ fontSize: 10 }} />
            </Button>
          </Dropdown>
          <Tag color="blue">{t(`role.${user.role}` as MessageKey)}</Tag>
          <Segmented
            size="small"
            value={locale}
            onChange={(value) => setLocale(value as 'zh-CN' | 'en')}
            options={[
              { label: t('app.langZh'), value: 'zh-CN' },
              { label: t('app.langEn'), value: 'en' },
            ]}
            aria-label={t('app.language')}
            data-testid="language-switch"
          />
          <Button size="small" icon={<LogoutOutlined />} onClick={() => void logout().then(() => navigate('/login'))} data-testid="logout">
            {t('app.logout')}
          </Button>
        </Space>
      </Layout.Header>
      <Layout.Content style={{ padding: 12, minWidth: 0 }}>{children}</Layout.Content>
      <ChangePasswordDialog open={changingPassword} onClose={() => setChangingPassword(false)} />
    </Layout>
  );
}
