import { lazy, Suspense, type ReactNode } from 'react';
import { BrowserRouter, Navigate, Route, Routes, useLocation } from 'react-router-dom';
import { App as AntApp, ConfigProvider, Spin } from 'antd';
import zhCNLocale from 'antd/locale/zh_CN';
import enUSLocale from 'antd/locale/en_US';
import dayjs from 'dayjs';
import 'dayjs/locale/zh-cn';
import { I18nProvider, useI18n } from '../i18n/i18n.tsx';
import { AuthProvider, useAuth } from './auth.tsx';
import { homePathOf } from './home-path.ts';
import { AppShell } from './AppShell.tsx';
import { LoginPage } from '../screens/LoginPage.tsx';
import { LiveEventsProvider } from './live-events.tsx';
import { CriticalEscalationNotice } from './CriticalEscalationNotice.tsx';
import { loadReadingPage } from './reading-page-chunk.ts';
import './app.css';

const WorklistPage = lazy(() => import('../screens/WorklistPage.tsx'));
const ReadingPage = lazy(loadReadingPage);
const TownshipPage = lazy(() => import('../screens/TownshipPage.tsx'));
const AdminPage = lazy(() => import('../screens/AdminPage.tsx'));
const StatisticsPage = lazy(() => import('../screens/StatisticsPage.tsx'));
const AuditPage = lazy(() => import('../screens/AuditPage.tsx'));
const CriticalFindingsStats = lazy(() => import('../screens/statistics/CriticalFindingsStats.tsx'));
const TemplatesPage = lazy(() => import('../screens/reading/TemplateManager.tsx'));
const NoHomePage = lazy(() => import('../screens/NoHomePage.tsx'));
const PatientsPage = lazy(() => import('../screens/PatientsPage.tsx'));
const ConsultationsPage = lazy(() => import('../screens/consult/ConsultationsPage.tsx'));
const ConsultationDetailPage = lazy(() => import('../screens/consult/ConsultationDetail.tsx'));
const MdtSessionsPage = lazy(() => import('../screens/consult/MdtSessionsPage.tsx'));
const ReferralsPage = lazy(() => import('../screens/consult/ReferralsPage.tsx'));
const ConsultationStats = lazy(() => import('../screens/consult/ConsultationStats.tsx'));

export function App() {
  return (
    <I18nProvider>
      <LocalisedApp />
    </I18nProvider>
  );
}

function LocalisedApp() {
  const { locale } = useI18n();
  dayjs.locale(locale === 'zh-CN' ? 'zh-cn' : 'en');
  return (
    <ConfigProvider locale={locale === 'zh-CN' ? zhCNLocale : enUSLocale} theme={{ token: { colorPrimary: '#1668dc', borderRadius: 4 } }}>
      <AntApp>
        <AuthProvider>
          <BrowserRouter>
            <AppRoutes />
          </BrowserRouter>
        </AuthProvider>
      </AntApp>
    </ConfigProvider>
  );
}

const fallback = <Spin size="large" style={{ display: 'block', margin: '20vh auto' }} />;

function RequireUser({ children }: { children: ReactNode }) {
  const { user } = useAuth();
  const location = useLocation();
  if (user === undefined) return fallback;
  if (user === null) return <Navigate to="/login" replace state={{ from: location.pathname }} />;
  return (
    <LiveEventsProvider>
      <CriticalEscalationNotice />
      <AppShell>
        <Suspense fallback={fallback}>{children}</Suspense>
      </AppShell>
    </LiveEventsProvider>
  );
}

function AppRoutes() {
  const { user } = useAuth();
  return (
    <Routes>
      <Route path="/login" element={user ? <Navigate to={homePathOf(user.role)} replace /> : <LoginPage />} />
      <Route path="/worklist" element={<RequireUser><WorklistPage mode="worklist" /></RequireUser>} />
      <Route path="/review" element={<RequireUser><WorklistPage mode="review" /></RequireUser>} />
      <Route path="/reading/:id" element={<RequireUser><ReadingPage /></RequireUser>} />
      <Route path="/township" element={<RequireUser><TownshipPage /></RequireUser>} />
      <Route path="/admin" element={<RequireUser><AdminPage /></RequireUser>} />
      <Route path="/statistics" element={<RequireUser><StatisticsPage /></RequireUser>} />
      <Route path="/critical-findings" element={<RequireUser><CriticalFindingsStats /></RequireUser>} />
      <Route path="/audit" element={<RequireUser><AuditPage /></RequireUser>} />
      <Route path="/templates" element={<RequireUser><TemplatesPage /></RequireUser>} />
      <Route path="/patients" element={<RequireUser><PatientsPage /></RequireUser>} />
      <Route path="/consultations" element={<RequireUser><ConsultationsPage /></RequireUser>} />
      <Route path="/consultations/:id" element={<RequireUser><ConsultationDetailPage /></RequireUser>} />
      <Route path="/mdt" element={<RequireUser><MdtSessionsPage /></RequireUser>} />
      <Route path="/referrals" element={<RequireUser><ReferralsPage /></RequireUser>} />
      <Route path="/consult-statistics" element={<RequireUser><ConsultationStats /></RequireUser>} />
      <Route path="/none" element={<RequireUser><NoHomePage /></RequireUser>} />
      <Route path="*" element={user === undefined ? fallback : <Navigate to={user ? homePathOf(user.role) : '/login'} replace />} />
    </Routes>
  );
}
