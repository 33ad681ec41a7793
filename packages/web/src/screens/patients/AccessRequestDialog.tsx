import { useState } from 'react';
import { Alert, Checkbox, Form, Input, Modal, Typography } from 'antd';
import { requestStudyAccess, type AccessGrant, type TimelineEntry } from '../../api/recognition.ts';
import { formatDicomDate } from '../../app/format.ts';
import { useT } from '../../i18n/i18n.tsx';
import { refusalText } from '../admin/refusal.ts';

/**
 * 申请调阅: another institution's exam opens for the caller alone, for a limited time, once
 * they give a reason; 紧急调阅 (break-glass) is the emergency form of it, audited afterwards.
 */
export function AccessRequestDialog({ personId, entry, onClose, onGranted }: { personId: string; entry: TimelineEntry; onClose: () => void; onGranted: (grant: AccessGrant) => void }) {
  const t = useT();
  const [form] = Form.useForm<{ reason: string; emergency: boolean }>();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const submit = async () => {
    const values = await form.validateFields();
    setBusy(true);
    setError(undefined);
    try {
      onGranted(await requestStudyAccess(personId, { studyInstanceUid: entry.studyInstanceUid, reason: values.reason.trim(), emergency: values.emergency === true }));
    } catch (caught) {
      setError(refusalText(t, caught));
    } finally {
      setBusy(false);
    }
  };
  return (
    <Modal
      open
      title={t('patients.requestAccess.title', { institution: entry.institutionName ?? entry.institutionId, date: formatDicomDate(entry.studyDate) })}
      onCancel={onClose}
      onOk={() => void submit()}
      confirmLoading={busy}
      okText={t('patients.requestAccess')}
      okButtonProps={{ 'data-testid': 'access-request-ok' } as Record<string, string>}
    >
      {error && <Alert type="error" showIcon title={error} style={{ marginBottom: 8 }} data-testid="access-request-error" />}
      <Form form={form} layout="vertical" initialValues={{ emergency: false }} data-testid="access-request-form">
        <Form.Item name="reason" label={t('patients.requestAccess.reason')} rules={[{ required: true, whitespace: true, message: t('patients.requestAccess.reasonRequired') }]}>
          <Input.TextArea rows={3} maxLength={500} data-testid="access-request-reason" />
        </Form.Item>
        <Form.Item name="emergency" valuePropName="checked" style={{ marginBottom: 4 }}>
          <Checkbox data-testid="access-request-emergency">{t('patients.requestAccess.emergency')}</Checkbox>
        </Form.Item>
        <Typography.Text type="secondary">{t('patients.requestAccess.emergencyHint')}</Typography.Text>
      </Form>
    </Modal>
  );
}
