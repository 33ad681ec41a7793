import { useCallback, useEffect, useState } from 'react';
import { Alert, App, Button, Form, InputNumber, Space, Typography } from 'antd';
import { api } from '../../api/client.ts';
import { PRIORITIES, type Priority } from '../../api/types.ts';
import { formatDateTime } from '../../app/format.ts';
import { PriorityTag } from '../../app/request-tags.tsx';
import { useT } from '../../i18n/i18n.tsx';
import { refusalText } from './refusal.ts';

type Sla = Record<Priority, number>;
interface SlaView extends Sla {
  source: 'settings' | 'config';
  updatedAt?: string;
  updatedBy?: string;
}

const MAX_MINUTES = 7 * 24 * 60;

/** The reading SLA per priority (minutes from images complete to a signed report), platform-wide. */
export function SlaTab() {
  const t = useT();
  const { message } = App.useApp();
  const [form] = Form.useForm<Sla>();
  const [view, setView] = useState<SlaView>();
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);

  const show = useCallback(
    (answer: SlaView) => {
      setView(answer);
      form.setFieldsValue({ emergency: answer.emergency, urgent: answer.urgent, routine: answer.routine });
    },
    [form],
  );
  useEffect(() => {
    api.get<SlaView>('/api/v1/settings/sla').then(show, (caught: unknown) => setError(refusalText(t, caught)));
  }, [show, t]);

  const save = async () => {
    const values = await form.validateFields();
    setBusy(true);
    setError(undefined);
    try {
      show(await api.put<SlaView>('/api/v1/settings/sla', values));
      message.success(t('admin.saved'));
    } catch (caught) {
      setError(refusalText(t, caught));
    } finally {
      setBusy(false);
    }
  };

  // emergency ≤ urgent ≤ routine, said in the form before the server says it
  const ordered = ({ getFieldValue }: { getFieldValue: (name: Priority) => unknown }) => ({
    validator: async () => {
      const [e, u, r] = PRIORITIES.map((p) => Number(getFieldValue(p)));
      if (Number.isFinite(e) && Number.isFinite(u) && Number.isFinite(r) && !(e! <= u! && u! <= r!)) throw new Error(t('admin.sla.order'));
    },
  });
  return (
    <div data-testid="sla-tab" style={{ maxWidth: 640 }}>
      <Typography.Paragraph type="secondary">{t('admin.sla.hint')}</Typography.Paragraph>
      {view && (
        <Typography.Paragraph type="secondary" data-testid="sla-source">
          {view.source === 'config' ? t('admin.sla.source.config') : t('admin.sla.source.settings', { user: view.updatedBy ?? '', time: view.updatedAt ? formatDateTime(view.updatedAt) : '' })}
        </Typography.Paragraph>
      )}
      {error && <Alert type="error" showIcon title={error} style={{ marginBottom: 8 }} data-testid="sla-error" />}
      <Form form={form} layout="horizontal" labelCol={{ flex: '120px' }}>
        {PRIORITIES.map((priority) => (
          <Form.Item key={priority} name={priority} label={<PriorityTag priority={priority} />} dependencies={PRIORITIES.filter((p) => p !== priority)} rules={[{ required: true, message: t('admin.required') }, ordered]}>
            <InputNumber min={1} max={MAX_MINUTES} precision={0} addonAfter={t('admin.sla.minutes')} style={{ width: 200 }} data-testid={`sla-${priority}`} />
          </Form.Item>
        ))}
      </Form>
      <Space>
        <Button type="primary" loading={busy} onClick={() => void save()} data-testid="sla-save">
          {t('app.save')}
        </Button>
      </Space>
    </div>
  );
}
