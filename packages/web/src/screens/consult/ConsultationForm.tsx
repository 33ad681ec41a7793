import { useEffect, useMemo, useState } from 'react';
import { Alert, Form, Input, Modal, Radio, Select } from 'antd';
import { CONSULTATION_TYPES, consultationsApi, type ConsultationAgreement, type ConsultationType, type ConsultationView, type DutyRosterEntry } from '../../api/consultations.ts';
import { useUser } from '../../app/auth.tsx';
import { useT, type MessageKey } from '../../i18n/i18n.tsx';
import { refusalText } from '../admin/refusal.ts';
import { linesOf } from './ReasonDialog.tsx';

interface FormValues {
  type: ConsultationType;
  studies: string;
  question: string;
  clinicalSummary: string;
  invitedInstitutionId?: string;
  invitedExperts?: string[];
}

/**
 * 发起会诊: the type (普通/疑难/急会诊), the studies (Study Instance UIDs from the worklist or
 * entered), the question and the clinical summary, and optionally the expert institution
 * (one with an active agreement) and the experts; without experts the server invites those
 * on duty.
 */
export function ConsultationForm({ initialStudies, onClose, onCreated }: { initialStudies?: string[]; onClose: () => void; onCreated: (consultation: ConsultationView) => void }) {
  const t = useT();
  const user = useUser();
  const [form] = Form.useForm<FormValues>();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const [agreements, setAgreements] = useState<ConsultationAgreement[]>([]);
  const [roster, setRoster] = useState<DutyRosterEntry[]>([]);
  const institutionId = Form.useWatch('invitedInstitutionId', form);

  useEffect(() => {
    consultationsApi
      .agreements()
      .then((list) => {
        const own = list.filter((agreement) => !agreement.endedAt && agreement.requestingInstitutionId === user.institutionId);
        setAgreements(own);
        // one expert institution to ask: chosen already (its experts on duty are then offered)
        const institutions = [...new Set(own.map((agreement) => agreement.expertInstitutionId))];
        if (institutions.length === 1 && !form.getFieldValue('invitedInstitutionId')) form.setFieldValue('invitedInstitutionId', institutions[0]);
      })
      .catch(() => setAgreements([]));
  }, [user.institutionId, form]);
  useEffect(() => {
    if (!institutionId) {
      setRoster([]);
      return;
    }
    const now = new Date().toISOString();
    consultationsApi
      .dutyRoster({ institutionId, from: now, to: now })
      .then(setRoster)
      .catch(() => setRoster([]));
  }, [institutionId]);

  const institutionOptions = useMemo(() => [...new Set(agreements.map((agreement) => agreement.expertInstitutionId))].map((id) => ({ value: id, label: <span data-identifier>{id}</span> })), [agreements]);
  const expertOptions = useMemo(() => [...new Map(roster.map((entry) => [entry.username, entry])).values()].map((entry) => ({ value: entry.username, label: entry.displayName ?? entry.username })), [roster]);

  const submit = async () => {
    const values = await form.validateFields();
    setBusy(true);
    setError(undefined);
    try {
      const created = await consultationsApi.create({
        type: values.type,
        studyInstanceUids: linesOf(values.studies),
        question: values.question.trim(),
        clinicalSummary: values.clinicalSummary.trim(),
        ...(values.invitedInstitutionId ? { invitedInstitutionId: values.invitedInstitutionId } : {}),
        ...(values.invitedExperts?.length ? { invitedExperts: values.invitedExperts } : {}),
      });
      onCreated(created);
    } catch (caught) {
      setError(refusalText(t, caught));
    } finally {
      setBusy(false);
    }
  };

  return (
    <Modal open width={680} title={t('consult.create')} onCancel={onClose} onOk={() => void submit()} confirmLoading={busy} okText={t('consult.create')} cancelText={t('app.cancel')} okButtonProps={{ 'data-testid': 'consultation-submit' } as Record<string, string>} destroyOnHidden>
      {error && <Alert type="error" showIcon title={error} style={{ marginBottom: 8 }} data-testid="consultation-form-error" />}
      <Form form={form} layout="vertical" initialValues={{ type: 'routine', studies: (initialStudies ?? []).join('\n') }} data-testid="consultation-form">
        <Form.Item name="type" label={t('consult.type')} rules={[{ required: true }]}>
          <Radio.Group optionType="button" buttonStyle="solid" options={CONSULTATION_TYPES.map((type) => ({ value: type, label: t(`consult.type.${type}` as MessageKey) }))} data-testid="consultation-type" />
        </Form.Item>
        <Form.Item name="studies" label={t('consult.studies')} extra={t('consult.studiesHint')} rules={[{ validator: async (_, value: string | undefined) => { if (linesOf(value).length === 0) throw new Error(t('consult.studiesRequired')); } }]}>
          <Input.TextArea rows={2} data-testid="consultation-studies" />
        </Form.Item>
        <Form.Item name="question" label={t('consult.question')} rules={[{ required: true, whitespace: true, message: t('consult.questionRequired') }]}>
          <Input.TextArea rows={2} maxLength={2000} data-testid="consultation-question" />
        </Form.Item>
        <Form.Item name="clinicalSummary" label={t('consult.clinicalSummary')} rules={[{ required: true, whitespace: true, message: t('consult.clinicalSummaryRequired') }]}>
          <Input.TextArea rows={3} maxLength={4000} data-testid="consultation-summary" />
        </Form.Item>
        <Form.Item name="invitedInstitutionId" label={t('consult.invitedInstitution')} extra={t('consult.invitedInstitutionHint')}>
          <Select allowClear options={institutionOptions} data-testid="consultation-institution" />
        </Form.Item>
        <Form.Item name="invitedExperts" label={t('consult.invitedExperts')} extra={t('consult.invitedExpertsHint')}>
          <Select mode="tags" options={expertOptions} tokenSeparators={[',', ' ']} data-testid="consultation-experts" />
        </Form.Item>
      </Form>
    </Modal>
  );
}
