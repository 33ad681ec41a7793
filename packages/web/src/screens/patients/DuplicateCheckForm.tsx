import { useState } from 'react';
import { Alert, Button, Form, InputNumber, Select, Typography } from 'antd';
import { checkDuplicates, type DuplicateMatch, type PersonView } from '../../api/recognition.ts';
import { duplicateCheckPatient } from './duplicate-check-patient.ts';
import { usePickLists } from '../../app/pick-lists.ts';
import { useCodeLabels } from '../../i18n/codes.ts';
import { useT } from '../../i18n/i18n.tsx';
import { refusalText } from '../admin/refusal.ts';
import { ExamItemInput } from './ExamItemInput.tsx';
import { DuplicateMatchesTable } from './DuplicateMatchesTable.tsx';

interface CheckForm {
  modality: string;
  bodyPart?: string;
  examItem?: string;
  withinDays?: number;
}

/** 重复检查核查: before an order, has the selected person had a comparable exam recently, and may it be recognised? */
export function DuplicateCheckForm({ person, searchedNationalId }: { person: PersonView; searchedNationalId: string | undefined }) {
  const t = useT();
  const codes = useCodeLabels();
  const pickLists = usePickLists();
  const [form] = Form.useForm<CheckForm>();
  const [matches, setMatches] = useState<DuplicateMatch[]>();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const patient = duplicateCheckPatient(person, searchedNationalId);
  const check = async () => {
    const values = await form.validateFields();
    if (!patient) return;
    setBusy(true);
    setError(undefined);
    try {
      const answer = await checkDuplicates({ patient, modality: values.modality, bodyPart: values.bodyPart || undefined, examItem: values.examItem?.trim() || undefined, withinDays: values.withinDays ?? undefined });
      setMatches(answer.matches);
    } catch (caught) {
      setError(refusalText(t, caught));
      setMatches(undefined);
    } finally {
      setBusy(false);
    }
  };
  return (
    <div data-testid="duplicate-check">
      <Typography.Paragraph type="secondary">{t('patients.duplicate.hint')}</Typography.Paragraph>
      {!patient && <Alert type="warning" showIcon title={t('patients.duplicate.noIdentifier')} style={{ marginBottom: 8 }} />}
      <Form form={form} layout="inline" initialValues={{ withinDays: 30 }} onFinish={() => void check()} disabled={!patient}>
        <Form.Item name="modality" label={t('patients.modality')} rules={[{ required: true, message: t('admin.required') }]}>
          <Select showSearch style={{ width: 110 }} options={pickLists.modalities.map((code) => ({ value: code, label: code }))} data-testid="duplicate-modality" />
        </Form.Item>
        <Form.Item name="bodyPart" label={t('patients.bodyParts')}>
          <Select allowClear showSearch optionFilterProp="label" style={{ width: 150 }} options={pickLists.bodyParts.map((code) => ({ value: code, label: codes.bodyParts([code]) }))} data-testid="duplicate-body-part" />
        </Form.Item>
        <Form.Item name="examItem" label={t('patients.duplicate.examItem')}>
          <ExamItemInput width={180} testId="duplicate-exam-item" />
        </Form.Item>
        <Form.Item name="withinDays" label={t('patients.duplicate.withinDays')}>
          <InputNumber min={1} max={3650} precision={0} style={{ width: 90 }} data-testid="duplicate-within-days" />
        </Form.Item>
        <Form.Item>
          <Button type="primary" htmlType="submit" loading={busy} data-testid="duplicate-submit">
            {t('patients.duplicate.check')}
          </Button>
        </Form.Item>
      </Form>
      {error && <Alert type="error" showIcon title={error} style={{ marginTop: 8 }} data-testid="duplicate-error" />}
      {matches && (
        <div style={{ marginTop: 8 }}>
          <DuplicateMatchesTable matches={matches} />
        </div>
      )}
    </div>
  );
}
