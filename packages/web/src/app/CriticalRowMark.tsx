import { useCallback, useEffect, useState } from 'react';
import { Tag, Tooltip } from 'antd';
import { AlertOutlined } from '@ant-design/icons';
import { CRITICAL_EVENT_TYPES, CRITICAL_READERS, criticalApi, type CriticalFinding } from '../api/critical-findings.ts';
import { useI18n } from '../i18n/i18n.tsx';
import { useUser } from './auth.tsx';
import { useLiveEvents } from './live-events.tsx';

/**
 * The critical findings (危急值) of the requests a list shows, by request id: a worklist or
 * township row carries a red 危急值 mark (open) or a grey one (acknowledged), so a request
 * with a critical finding stands out wherever it is listed. Kept current from the live stream.
 */
export function useCriticalMarks(): ReadonlyMap<string, CriticalFinding[]> {
  const user = useUser();
  const allowed = CRITICAL_READERS.includes(user.role);
  const [marks, setMarks] = useState<ReadonlyMap<string, CriticalFinding[]>>(new Map());
  const load = useCallback(async () => {
    if (!allowed) return;
    try {
      const findings = await criticalApi.list({ limit: 500 });
      const byRequest = new Map<string, CriticalFinding[]>();
      for (const finding of findings) byRequest.set(finding.requestId, [...(byRequest.get(finding.requestId) ?? []), finding]);
      setMarks(byRequest);
    } catch {
      // the mark is a help, not the alert itself (the banner and the reading page carry it)
    }
  }, [allowed]);
  useEffect(() => void load(), [load]);
  useLiveEvents((event) => {
    if ((CRITICAL_EVENT_TYPES as readonly string[]).includes(event.type)) void load();
  });
  return marks;
}

export function CriticalRowMark({ findings }: { findings: readonly CriticalFinding[] | undefined }) {
  const { t, locale } = useI18n();
  if (!findings || findings.length === 0) return null;
  const open = findings.some((finding) => finding.status === 'open');
  const names = findings.map((finding) => (locale === 'en' ? finding.categoryEn : finding.categoryZh)).join('、');
  return (
    <Tooltip title={`${names} · ${open ? t('critical.markOpen') : t('critical.markAcknowledged')}`}>
      <Tag color={open ? 'red' : 'default'} icon={<AlertOutlined />} data-testid="critical-row-mark" data-open={String(open)} style={{ marginInlineStart: 6 }}>
        {t('critical.title')}
      </Tag>
    </Tooltip>
  );
}
