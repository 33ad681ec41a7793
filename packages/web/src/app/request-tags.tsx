import { Tag } from 'antd';
import type { Priority, RequestStatus } from '../api/types.ts';
import { useT, type MessageKey } from '../i18n/i18n.tsx';
import { formatDuration } from './format.ts';

const PRIORITY_COLOURS: Record<Priority, string> = { emergency: 'red', urgent: 'orange', routine: 'default' };
const STATUS_COLOURS: Record<RequestStatus, string> = {
  'awaiting-images': 'default',
  pending: 'blue',
  claimed: 'geekblue',
  submitted: 'purple',
  signed: 'green',
  'retake-requested': 'volcano',
  cancelled: 'default',
};

export function PriorityTag({ priority }: { priority: Priority }) {
  const t = useT();
  return (
    <Tag color={PRIORITY_COLOURS[priority] ?? 'default'} data-priority={priority} style={{ fontWeight: priority === 'routine' ? 400 : 600 }}>
      {t(`priority.${priority}` as MessageKey)}
    </Tag>
  );
}

export function StatusTag({ status }: { status: RequestStatus }) {
  const t = useT();
  return (
    <Tag color={STATUS_COLOURS[status] ?? 'default'} data-status={status}>
      {t(`status.${status}` as MessageKey)}
    </Tag>
  );
}

/** Time left until the SLA deadline, or how long it is overdue; `now` ticks every second. */
export function SlaCountdown({ dueAt, now, open }: { dueAt: string | null; now: number; open: boolean }) {
  const t = useT();
  if (!dueAt || !open) return <span>—</span>;
  const remaining = (Date.parse(dueAt) - now) / 1000;
  if (remaining < 0)
    return (
      <span className="yy-sla-overdue" data-testid="sla" data-overdue="true">
        {t('worklist.overdue', { time: formatDuration(remaining) })}
      </span>
    );
  return (
    <span className={remaining < 600 ? 'yy-sla-soon' : 'yy-sla-ok'} data-testid="sla" data-overdue="false">
      {t('worklist.remaining', { time: formatDuration(remaining) })}
    </span>
  );
}

export function isOpenStatus(status: RequestStatus): boolean {
  return status !== 'signed' && status !== 'cancelled';
}
