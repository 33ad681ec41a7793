import { useState } from 'react';
import { Alert, Form, Input, Modal, Radio, Select } from 'antd';
import { recordRecognition, type RecognitionDecision, type RecognitionRecord, type TimelineEntry } from '../../api/recognition.ts';
import { formatDicomDate } from '../../app/format.ts';
import { usePickLists } from '../../app/pick-lists.ts';
import { useCodeLabels } from '../../i18n/codes.ts';
import { useT } from '../../i18n/i18n.tsx';
import { refusalText } from '../admin/refusal.ts';
import { ExamItemInput } from './ExamItemInput.tsx';

interface RecognitionForm {
  decision: RecognitionDecision;
  reason: string;
  avoidedExamItem?: string;
  avoidedBodyParts?: string[];
}

/** 记录互认: the clinician's decision on a prior exam (recognised instead of repeated, or not), with what was not re-examined. */
export function RecognitionDialog({ entry, onClose, onRecorded }: { entry: TimelineEntry; onClose: () => void; onRecorded: (record: RecognitionRecord) => void }) {
  const t = useT();
  const codes = useCodeLabels();
  const pickLists = usePickLists();
  const [form] = Form.useForm<RecognitionForm>();
  const decision = Form.useWatch('decision', form);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const submit = async () => {
    const values = await form.validateFields();
    setBusy(true);
    setError(undefined);
    try {
      const recognised = values.decision === 'recognised';
      onRecorded(
        await recordRecognition({
          studyInstanceUid: entry.studyInstanceUid,
          decision: values.decision,
          reason: values.reason.trim(),
          avoidedExamItem: recognised ? values.avoidedExamItem?.trim() || undefined : undefined,
          avoidedBodyParts: recognised && values.avoidedBodyParts?.length ? values.avoidedBodyParts : undefined,
        }),
      );
    } catch (caught) {
      setError(refusalText(t, caught));
    } finally {
      setBusy(false);
    }
  };
  const bodyPartOptions = [...new Set([...entry.bodyParts, ...pickLists.bodyParts])].map((code) => ({ value: code, label: codes.bodyParts([code]) }));
  return (
    <Modal
      open
      title={t('patients.recognition.title', { institution: entry.institutionName ?? entry.institutionId, date: formatDicomDate(entry.studyDate) })}
      onCancel={onClose}
      onOk={() => void submit()}
      confirmLoading={busy}
      okText={t('app.save')}
      okButtonProps={{ 'data-testid': 'recognition-ok' } as Record<string, string>}
    >
      {error && <Alert type="error" showIcon title={error} style={{ marginBottom: 8 }} data-testid="recognition-error" />}
      <Form form={form} layout="vertical" initialValues={{ decision: 'recognised', avoidedBodyParts: entry.bodyParts }} data-testid="recognition-form">
        <Form.Item name="decision" label={t('patients.recognition.decision')} rules={[{ required: true }]}>
          <Radio.Group
            optionType="button"
            buttonStyle="solid"
            options={[
              { value: 'recognised', label: <span data-testid="recognition-recognised">{t('patients.recognition.recognised')}</span> },
              { value: 'not-recognised', label: <span data-testid="recognition-not-recognised">{t('patients.recognition.not-recognised')}</span> },
            ]}
          />
        </Form.Item>
        <Form.Item name="reason" label={t('patients.recognition.reason')} rules={[{ required: true, whitespace: true, message: t('patients.recognition.reasonRequired') }]}>
          <Input.TextArea rows={2} maxLength={500} data-testid="recognition-reason" />
        </Form.Item>
        {decision !== 'not-recognised' && (
          <>
            <Form.Item name="avoidedExamItem" label={t('patients.recognition.avoidedExamItem')}>
              <ExamItemInput testId="recognition-avoided-item" />
            </Form.Item>
            <Form.Item name="avoidedBodyParts" label={t('patients.recognition.avoidedBodyParts')}>
              <Select mode="tags" options={bodyPartOptions} optionFilterProp="label" data-testid="recognition-avoided-body-parts" />
            </Form.Item>
          </>
        )}
      </Form>
    </Modal>
  );
}
