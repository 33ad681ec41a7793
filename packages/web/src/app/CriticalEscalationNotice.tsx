import { App, Button } from 'antd';
import { useNavigate } from 'react-router-dom';
import { CRITICAL_FLAGGERS } from '../api/critical-findings.ts';
import { useI18n } from '../i18n/i18n.tsx';
import { useUser } from './auth.tsx';
import { useLiveEvents } from './live-events.tsx';

/**
 * The reading centre hears when a township leaves a 危急值 unacknowledged (the escalation,
 * critical-findings/): on whatever screen its radiologists are, a notice that stays until
 * closed, with the way to the request, so that someone telephones the township.
 */
export function CriticalEscalationNotice() {
  const { t, locale } = useI18n();
  const user = useUser();
  const navigate = useNavigate();
  const { notification } = App.useApp();
  useLiveEvents((event) => {
    if (event.type !== 'critical-finding.escalated' || !CRITICAL_FLAGGERS.includes(user.role)) return;
    if (event.payload.requestingInstitutionId === user.institutionId) return;
    const key = `critical-escalated-${String(event.payload.criticalFindingId)}`;
    const requestId = String(event.payload.requestId ?? '');
    notification.warning({
      key,
      title: t('critical.escalatedToCentre', { count: Number(event.payload.escalations ?? 1) }),
      description: String((locale === 'zh-CN' ? event.payload.categoryZh : event.payload.categoryEn) ?? ''),
      duration: false,
      placement: 'bottomRight',
      actions: (
        <Button
          size="small"
          type="primary"
          onClick={() => {
            notification.destroy(key);
            navigate(`/reading/${requestId}`);
          }}
          data-testid="critical-escalation-open"
        >
          {t('critical.openRequest')}
        </Button>
      ),
      props: { 'data-testid': 'critical-escalation-notice' } as object,
    });
  });
  return null;
}
