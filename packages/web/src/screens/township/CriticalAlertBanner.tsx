import { useCallback, useEffect, useRef, useState } from 'react';
import { Alert, App, Button, DatePicker, Form, Input, Modal, Radio, Space, Tag, Typography, type ButtonProps } from 'antd';
import { AlertOutlined } from '@ant-design/icons';
import dayjs, { type Dayjs } from 'dayjs';
import { CRITICAL_ACKNOWLEDGERS, CRITICAL_EVENT_TYPES, INFORMED_VIA, criticalApi, type CriticalFinding, type InformedVia } from '../../api/critical-findings.ts';
import { useI18n, type MessageKey } from '../../i18n/i18n.tsx';
import { useUser } from '../../app/auth.tsx';
import { useLiveEvents } from '../../app/live-events.tsx';
import { formatDateTime, formatPersonName } from '../../app/format.ts';

/** While an alert stays unacknowledged, the screen beeps again this often. */
const REMINDER_BEEP_MS = 60_000;
let beeps = 0;

/**
 * Three short tones through Web Audio (no sound file to ship or cache). A screen that has not
 * been clicked yet may have its audio suspended by the browser's autoplay policy; the banner
 * stays whatever the sound does.
 */
export function beep(times = 3): void {
  const Context = window.AudioContext ?? (window as unknown as { webkitAudioContext?: typeof AudioContext }).webkitAudioContext;
  if (!Context) return;
  try {
    const context = new Context();
    void context.resume().catch(() => undefined);
    for (let i = 0; i < times; i++) {
      const oscillator = context.createOscillator();
      const gain = context.createGain();
      oscillator.type = 'square';
      oscillator.frequency.value = 880;
      gain.gain.value = 0.12;
      oscillator.connect(gain).connect(context.destination);
      const start = context.currentTime + i * 0.35;
      oscillator.start(start);
      oscillator.stop(start + 0.2);
    }
    setTimeout(() => void context.close().catch(() => undefined), times * 350 + 400);
    beeps += 1;
  } catch {
    // no audio device: the banner is the alert
  }
}

/** The category's name in the screen's language. */
export function useCategoryLabel(): (finding: Pick<CriticalFinding, 'categoryZh' | 'categoryEn'>) => string {
  const { locale } = useI18n();
  return (finding) => (locale === 'zh-CN' ? finding.categoryZh : finding.categoryEn);
}

/**
 * The township's 危急值 banner: every open critical finding of the institution, in red at
 * the top of the screen, with a sound when one arrives (or is escalated), live over the
 * event stream without 刷新. Someone there acknowledges it, saying how the clinician was told.
 */
export function CriticalAlertBanner() {
  const { t } = useI18n();
  const user = useUser();
  const { notification, message } = App.useApp();
  const categoryLabel = useCategoryLabel();
  const [open, setOpen] = useState<CriticalFinding[]>([]);
  const [acknowledging, setAcknowledging] = useState<CriticalFinding>();
  const [beepCount, setBeepCount] = useState(beeps);

  const load = useCallback(async () => {
    try {
      const rows = await criticalApi.list({ status: 'open', limit: 50 });
      setOpen(rows.filter((row) => row.requestingInstitutionId === user.institutionId));
    } catch (caught) {
      message.error(caught instanceof Error ? caught.message : String(caught));
    }
  }, [user.institutionId, message]);
  useEffect(() => void load(), [load]);

  const sound = useCallback(() => {
    beep();
    setBeepCount(beeps);
  }, []);
  useLiveEvents((event) => {
    if (!(CRITICAL_EVENT_TYPES as readonly string[]).includes(event.type)) return;
    if (event.payload.requestingInstitutionId !== user.institutionId) return;
    if (event.type === 'critical-finding.flagged' || event.type === 'critical-finding.escalated') {
      sound();
      notification.error({ title: t(event.type === 'critical-finding.flagged' ? 'critical.newAlert' : 'critical.escalatedAlert'), placement: 'bottomRight', duration: 8 });
    }
    void load();
  });

  // A reminder tone while something stays unacknowledged.
  const hasOpen = open.length > 0;
  const reminder = useRef<ReturnType<typeof setInterval>>(undefined);
  useEffect(() => {
    if (!hasOpen) return;
    reminder.current = setInterval(sound, REMINDER_BEEP_MS);
    return () => clearInterval(reminder.current);
  }, [hasOpen, sound]);

  const mayAcknowledge = CRITICAL_ACKNOWLEDGERS.includes(user.role);
  if (open.length === 0 && !acknowledging) return null;
  return (
    <div data-testid="critical-alerts" data-beeps={beepCount} role="alert">
      <Space direction="vertical" style={{ width: '100%' }} size={6}>
        {open.map((finding) => (
          <Alert
            key={finding.id}
            type="error"
            showIcon
            icon={<AlertOutlined />}
            data-testid="critical-alert"
            data-finding-id={finding.id}
            style={{ borderWidth: 2, borderColor: '#cf1322' }}
            title={
              <Space wrap size={8}>
                <Typography.Text strong style={{ color: '#cf1322', fontSize: 18 }}>
                  {t('critical.banner')}
                </Typography.Text>
                <Typography.Text strong style={{ fontSize: 16 }}>
                  {formatPersonName(finding.patient?.name)}
                </Typography.Text>
                {finding.modality && <Tag>{finding.modality}</Tag>}
                <Typography.Text strong style={{ fontSize: 16 }} data-testid="critical-alert-category">
                  {categoryLabel(finding)}
                </Typography.Text>
                {finding.escalations > 0 && <Tag color="red">{t('critical.reminder', { count: finding.escalations })}</Tag>}
              </Space>
            }
            description={
              <Space direction="vertical" size={2}>
                {finding.note && <span style={{ whiteSpace: 'pre-wrap' }}>{finding.note}</span>}
                <Typography.Text type="secondary">{t('critical.bannerMeta', { institution: finding.readingInstitutionName ?? '', doctor: finding.flaggedByName ?? finding.flaggedBy, time: formatDateTime(finding.flaggedAt) })}</Typography.Text>
              </Space>
            }
            action={
              mayAcknowledge && (
                <Button danger type="primary" size="large" onClick={() => setAcknowledging(finding)} data-testid="critical-acknowledge">
                  {t('critical.acknowledge')}
                </Button>
              )
            }
          />
        ))}
      </Space>
      {acknowledging && (
        <AcknowledgeModal
          finding={acknowledging}
          onClose={() => setAcknowledging(undefined)}
          onDone={() => {
            setAcknowledging(undefined);
            void load();
          }}
        />
      )}
    </div>
  );
}

interface AckForm {
  receivedBy: string;
  informedVia: InformedVia;
  clinicianName?: string;
  informedAt: Dayjs;
  note?: string;
}

/** 确认接收: who received it, how and when the clinician was told. */
export function AcknowledgeModal({ finding, onClose, onDone }: { finding: CriticalFinding; onClose: () => void; onDone: () => void }) {
  const { t } = useI18n();
  const user = useUser();
  const { message } = App.useApp();
  const categoryLabel = useCategoryLabel();
  const [form] = Form.useForm<AckForm>();
  const [saving, setSaving] = useState(false);
  const submit = async () => {
    const values = await form.validateFields();
    setSaving(true);
    try {
      await criticalApi.acknowledge(finding.id, {
        receivedBy: values.receivedBy.trim(),
        informedVia: values.informedVia,
        ...(values.clinicianName?.trim() ? { clinicianName: values.clinicianName.trim() } : {}),
        informedAt: (values.informedAt ?? dayjs()).toDate().toISOString(),
        ...(values.note?.trim() ? { note: values.note.trim() } : {}),
      });
      message.success(t('critical.acknowledged'));
      onDone();
    } catch (caught) {
      message.error(caught instanceof Error ? caught.message : String(caught));
    } finally {
      setSaving(false);
    }
  };
  return (
    <Modal open title={`${t('critical.ackTitle')} · ${categoryLabel(finding)}`} onCancel={onClose} onOk={() => void submit()} okText={t('critical.acknowledge')} confirmLoading={saving} okButtonProps={{ danger: true, 'data-testid': 'critical-ack-submit' } as ButtonProps} destroyOnHidden>
      <Form<AckForm> form={form} layout="vertical" initialValues={{ receivedBy: user.displayName ?? user.username, informedVia: 'phone', informedAt: dayjs() }} data-testid="critical-ack-form">
        <Form.Item name="receivedBy" label={t('critical.receivedBy')} rules={[{ required: true, whitespace: true, message: t('critical.required') }]}>
          <Input maxLength={64} data-testid="critical-ack-received-by" />
        </Form.Item>
        <Form.Item name="informedVia" label={t('critical.informedVia')} rules={[{ required: true, message: t('critical.required') }]}>
          <Radio.Group optionType="button" options={INFORMED_VIA.map((value) => ({ value, label: t(`critical.via.${value}` as MessageKey) }))} data-testid="critical-ack-via" />
        </Form.Item>
        <Form.Item name="clinicianName" label={t('critical.clinician')}>
          <Input maxLength={64} data-testid="critical-ack-clinician" />
        </Form.Item>
        <Form.Item name="informedAt" label={t('critical.informedAt')} rules={[{ required: true, message: t('critical.required') }]}>
          <DatePicker showTime={{ format: 'HH:mm' }} format="YYYY-MM-DD HH:mm" disabledDate={(date) => date.isAfter(dayjs(), 'day')} allowClear={false} />
        </Form.Item>
        <Form.Item name="note" label={t('critical.ackNote')}>
          <Input.TextArea rows={2} maxLength={1000} />
        </Form.Item>
      </Form>
    </Modal>
  );
}
