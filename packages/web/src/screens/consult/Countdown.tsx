import { Tag } from 'antd';
import { useNow } from '../../app/use-now.ts';
import { formatDuration } from '../../app/format.ts';
import { useT } from '../../i18n/i18n.tsx';
import type { ConsultationView } from '../../api/consultations.ts';

/** statuses after which the time limit no longer runs */
const SETTLED = new Set(['answered', 'closed', 'cancelled', 'declined']);

/** The time left until a consultation's dueAt; red once overdue (the server's `overdue` or the clock). */
export function ConsultationCountdown({ consultation }: { consultation: Pick<ConsultationView, 'dueAt' | 'overdue' | 'status'> }) {
  const t = useT();
  const now = useNow(1000);
  if (SETTLED.has(consultation.status)) {
    return (
      <Tag data-testid="consultation-countdown" data-overdue="false">
        {t('consult.countdown.done')}
      </Tag>
    );
  }
  const seconds = (Date.parse(consultation.dueAt) - now) / 1000;
  const overdue = consultation.overdue || seconds < 0;
  return (
    <Tag color={overdue ? 'red' : seconds < 3600 ? 'orange' : 'blue'} data-testid="consultation-countdown" data-overdue={String(overdue)}>
      {overdue ? t('consult.countdown.overdue', { time: formatDuration(seconds) }) : t('consult.countdown.left', { time: formatDuration(seconds) })}
    </Tag>
  );
}
