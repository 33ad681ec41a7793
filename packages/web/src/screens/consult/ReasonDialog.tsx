import { useState } from 'react';
import { Alert, Form, Input, Modal } from 'antd';
import { useT } from '../../i18n/i18n.tsx';
import { refusalText } from '../admin/refusal.ts';

/**
 * A short text asked for before an action (a reason to decline or refuse, an outcome, a
 * follow-up note); a refusal of the server stays in the dialog.
 */
export function ReasonDialog({ title, label, required = true, okDanger, testId, onClose, onSubmit }: { title: string; label: string; required?: boolean; okDanger?: boolean; testId: string; onClose: () => void; onSubmit: (text: string) => Promise<unknown> }) {
  const t = useT();
  const [form] = Form.useForm<{ text?: string }>();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const submit = async () => {
    const values = await form.validateFields();
    setBusy(true);
    setError(undefined);
    try {
      await onSubmit((values.text ?? '').trim());
      onClose();
    } catch (caught) {
      setError(refusalText(t, caught));
    } finally {
      setBusy(false);
    }
  };
  return (
    <Modal open title={title} onCancel={onClose} onOk={() => void submit()} confirmLoading={busy} okText={t('app.confirm')} cancelText={t('app.cancel')} okButtonProps={{ danger: okDanger, ...({ 'data-testid': `${testId}-ok` } as Record<string, string>) }} destroyOnHidden>
      {error && <Alert type="error" showIcon title={error} style={{ marginBottom: 8 }} data-testid={`${testId}-error`} />}
      <Form form={form} layout="vertical">
        <Form.Item name="text" label={label} rules={required ? [{ required: true, whitespace: true, message: t('consult.reasonRequired') }] : []}>
          <Input.TextArea rows={3} maxLength={2000} data-testid={`${testId}-text`} />
        </Form.Item>
      </Form>
    </Modal>
  );
}

/** Lines of a text area as a list: trimmed, empty ones dropped. */
export function linesOf(text: string | undefined): string[] {
  return (text ?? '')
    .split(/[\n,，;；\s]+/)
    .map((line) => line.trim())
    .filter(Boolean);
}

/** Lines of a text area, keeping the spaces inside a line (decisions, free text). */
export function textLinesOf(text: string | undefined): string[] {
  return (text ?? '')
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean);
}
