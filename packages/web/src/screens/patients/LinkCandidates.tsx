import { useState } from 'react';
import { App, Button, List, Space, Typography } from 'antd';
import { decideCandidate, type LinkCandidate, type PersonView } from '../../api/recognition.ts';
import { formatDicomDate } from '../../app/format.ts';
import { useCodeLabels } from '../../i18n/codes.ts';
import { useT, type MessageKey } from '../../i18n/i18n.tsx';
import { refusalText } from '../admin/refusal.ts';
import { displayNames } from './PersonResults.tsx';

const MATCH_FIELDS = new Set(['name', 'birthDate', 'sex']);

/**
 * Probable links of the person (name + birth date + sex at another institution): never linked
 * automatically; a clinician or administrator confirms or rejects each one.
 */
export function LinkCandidates({ person, mayDecide, onChanged }: { person: PersonView; mayDecide: boolean; onChanged: (person: PersonView) => void }) {
  const t = useT();
  const codes = useCodeLabels();
  const { message } = App.useApp();
  const [busy, setBusy] = useState<string>();
  if (person.candidates.length === 0) return null;
  const decide = async (candidate: LinkCandidate, decision: 'confirm' | 'reject') => {
    setBusy(candidate.id);
    try {
      onChanged(await decideCandidate(person.id, candidate.id, decision));
      message.success(t(decision === 'confirm' ? 'patients.candidates.confirmed' : 'patients.candidates.rejected'));
    } catch (caught) {
      message.error(refusalText(t, caught));
    } finally {
      setBusy(undefined);
    }
  };
  const fieldName = (field: string) => (MATCH_FIELDS.has(field) ? t(`patients.candidates.field.${field}` as MessageKey) : field);
  return (
    <List<LinkCandidate>
      size="small"
      header={<Typography.Text strong>{t('patients.candidates')}</Typography.Text>}
      bordered
      dataSource={person.candidates}
      data-testid="link-candidates"
      renderItem={(candidate) => (
        <List.Item
          data-testid="link-candidate"
          data-candidate-id={candidate.id}
          actions={
            mayDecide
              ? [
                  <Button key="confirm" size="small" type="primary" loading={busy === candidate.id} onClick={() => void decide(candidate, 'confirm')} data-testid="candidate-confirm">
                    {t('patients.candidates.confirm')}
                  </Button>,
                  <Button key="reject" size="small" danger disabled={busy === candidate.id} onClick={() => void decide(candidate, 'reject')} data-testid="candidate-reject">
                    {t('patients.candidates.reject')}
                  </Button>,
                ]
              : []
          }
        >
          <Space wrap>
            <Typography.Text strong>{displayNames(candidate)}</Typography.Text>
            <span>{codes.sex(candidate.sex)}</span>
            <span>{formatDicomDate(candidate.birthDate)}</span>
            <span>{candidate.institutionName ?? <span data-identifier>{candidate.institutionId}</span>}</span>
            <Typography.Text type="secondary">{t('patients.candidates.matchedOn', { fields: codes.list(candidate.matchedOn.map(fieldName)) })}</Typography.Text>
          </Space>
        </List.Item>
      )}
    />
  );
}
