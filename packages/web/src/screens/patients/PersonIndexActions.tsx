import { useState } from 'react';
import { Alert, App, Button, Form, Input, Modal, Select, Space, Typography } from 'antd';
import { mergePerson, unlinkIdentity, unmergePerson, type PersonView } from '../../api/recognition.ts';
import { useT, type MessageKey } from '../../i18n/i18n.tsx';
import { refusalText } from '../admin/refusal.ts';

type Action = 'merge' | 'unmerge' | 'unlink';
/** a person id as the server issues it */
const PERSON_ID_PATTERN = /^psn-[0-9a-f-]{36}$/;

/** The administrator's corrections to the patient index: merge another person into this one, undo a merge, unlink a local identity; each with a reason (audited). */
export function PersonIndexActions({ person, onChanged }: { person: PersonView; onChanged: (person: PersonView) => void }) {
  const t = useT();
  const { message } = App.useApp();
  const [action, setAction] = useState<Action>();
  return (
    <div data-testid="person-index-actions">
      <Space wrap>
        <Typography.Text strong>{t('patients.admin')}</Typography.Text>
        {(['merge', 'unmerge', 'unlink'] as const).map((name) => (
          <Button key={name} size="small" danger={name !== 'merge'} onClick={() => setAction(name)} data-testid={`person-${name}`}>
            {t(`patients.admin.${name}` as MessageKey)}
          </Button>
        ))}
      </Space>
      {action && (
        <PersonIndexDialog
          person={person}
          action={action}
          onClose={() => setAction(undefined)}
          onDone={(next) => {
            setAction(undefined);
            message.success(t('patients.admin.done'));
            onChanged(next);
          }}
        />
      )}
    </div>
  );
}

function PersonIndexDialog({ person, action, onClose, onDone }: { person: PersonView; action: Action; onClose: () => void; onDone: (person: PersonView) => void }) {
  const t = useT();
  const [form] = Form.useForm<{ personId?: string; identityId?: string; reason: string }>();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const submit = async () => {
    const values = await form.validateFields();
    setBusy(true);
    setError(undefined);
    const reason = values.reason.trim();
    try {
      if (action === 'unlink') onDone(await unlinkIdentity(person.id, values.identityId!, reason));
      else if (action === 'merge') onDone(await mergePerson(person.id, values.personId!.trim(), reason));
      else onDone(await unmergePerson(person.id, values.personId!.trim(), reason));
    } catch (caught) {
      setError(refusalText(t, caught));
    } finally {
      setBusy(false);
    }
  };
  const identityOptions = person.identifiers.map((identifier) => ({ value: identifier.id, label: `${identifier.institutionName ?? identifier.institutionId} · ${identifier.patientId}` }));
  return (
    <Modal open title={t(`patients.admin.${action}` as MessageKey)} onCancel={onClose} onOk={() => void submit()} confirmLoading={busy} okButtonProps={{ danger: action !== 'merge', ...({ 'data-testid': 'person-index-ok' } as Record<string, string>) }}>
      {error && <Alert type="error" showIcon title={error} style={{ marginBottom: 8 }} data-testid="person-index-error" />}
      <Form form={form} layout="vertical" data-testid="person-index-form">
        {action === 'unlink' ? (
          <Form.Item name="identityId" label={t('patients.admin.identity')} rules={[{ required: true, message: t('admin.required') }]}>
            <Select options={identityOptions} data-testid="person-index-identity" />
          </Form.Item>
        ) : (
          <Form.Item name="personId" label={t('patients.admin.personId')} rules={[{ required: true, message: t('admin.required') }, { pattern: PERSON_ID_PATTERN, message: t('patients.admin.personIdInvalid') }]}>
            <Input maxLength={40} data-testid="person-index-person-id" />
          </Form.Item>
        )}
        <Form.Item name="reason" label={t('patients.admin.reason')} rules={[{ required: true, whitespace: true, message: t('patients.admin.reasonRequired') }]}>
          <Input.TextArea rows={2} maxLength={500} data-testid="person-index-reason" />
        </Form.Item>
      </Form>
    </Modal>
  );
}
