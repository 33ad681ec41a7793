import { Tag } from 'antd';
import type { ConsultationStatus, ConsultationType, ReferralDirection, ReferralStatus } from '../../api/consultations.ts';
import { useT, type MessageKey } from '../../i18n/i18n.tsx';

const TYPE_COLORS: Record<ConsultationType, string> = { emergency: 'red', difficult: 'purple', routine: 'blue' };
const STATUS_COLORS: Partial<Record<ConsultationStatus, string>> = { requested: 'orange', accepted: 'cyan', 'in-progress': 'processing', answered: 'green', closed: 'default', cancelled: 'default', declined: 'red' };
const REFERRAL_COLORS: Partial<Record<ReferralStatus, string>> = { requested: 'orange', accepted: 'cyan', refused: 'red', completed: 'green' };

export function ConsultationTypeTag({ type }: { type: ConsultationType }) {
  const t = useT();
  return (
    <Tag color={TYPE_COLORS[type]} data-testid="consultation-type-tag" data-type={type}>
      {t(`consult.type.${type}` as MessageKey)}
    </Tag>
  );
}

export function ConsultationStatusTag({ status }: { status: ConsultationStatus }) {
  const t = useT();
  return (
    <Tag color={STATUS_COLORS[status]} data-testid="consultation-status" data-status={status}>
      {t(`consult.status.${status}` as MessageKey)}
    </Tag>
  );
}

export function ReferralStatusTag({ status }: { status: ReferralStatus }) {
  const t = useT();
  return (
    <Tag color={REFERRAL_COLORS[status]} data-testid="referral-status" data-status={status}>
      {t(`referral.status.${status}` as MessageKey)}
    </Tag>
  );
}

export function ReferralDirectionTag({ direction }: { direction: ReferralDirection }) {
  const t = useT();
  return (
    <Tag color={direction === 'up' ? 'volcano' : 'geekblue'} data-direction={direction}>
      {t(`referral.direction.${direction}` as MessageKey)}
    </Tag>
  );
}
