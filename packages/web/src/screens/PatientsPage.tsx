import { useState } from 'react';
import { Alert, Card, Space } from 'antd';
import { searchPatients, type PatientSearch, type PersonView } from '../api/recognition.ts';
import { useUser } from '../app/auth.tsx';
import { useT } from '../i18n/i18n.tsx';
import { refusalText } from './admin/refusal.ts';
import { PatientSearchForm } from './patients/PatientSearchForm.tsx';
import { PersonResults } from './patients/PersonResults.tsx';
import { PersonSummary } from './patients/PersonSummary.tsx';
import { LinkCandidates } from './patients/LinkCandidates.tsx';
import { PersonIndexActions } from './patients/PersonIndexActions.tsx';
import { PatientTimeline } from './patients/PatientTimeline.tsx';
import { DuplicateCheckForm } from './patients/DuplicateCheckForm.tsx';

/** Roles that decide on probable links (candidates). */
const CANDIDATE_DECIDERS = new Set(['clinician', 'administrator']);

/**
 * 患者互认 (issue 17): the clinician's home. Search a person of the region, see their imaging
 * timeline across institutions, request access to another institution's exam, open it in the
 * viewer, record that it is recognised instead of repeated, and check for duplicates before
 * an order. Administrators also correct the patient index (merge, unmerge, unlink).
 */
export default function PatientsPage() {
  const t = useT();
  const user = useUser();
  const [persons, setPersons] = useState<PersonView[]>();
  const [selected, setSelected] = useState<PersonView>();
  /** the resident ID the last search was by: the duplicate check asks with it (persons only carry it masked) */
  const [searchedNationalId, setSearchedNationalId] = useState<string>();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();

  const search = async (query: PatientSearch) => {
    setBusy(true);
    setError(undefined);
    try {
      const found = await searchPatients(query);
      setPersons(found);
      setSearchedNationalId('nationalId' in query ? query.nationalId : undefined);
      setSelected(found.length === 1 ? found[0] : undefined);
    } catch (caught) {
      setError(refusalText(t, caught));
    } finally {
      setBusy(false);
    }
  };
  const changed = (person: PersonView) => {
    setSelected(person);
    setPersons((current) => current?.map((row) => (row.id === person.id ? person : row)));
  };

  return (
    <Space direction="vertical" size={12} style={{ width: '100%' }} data-testid="patients-page">
      <Card size="small" title={t('patients.title')}>
        <PatientSearchForm busy={busy} onSearch={(query) => void search(query)} />
        {error && <Alert type="error" showIcon title={error} style={{ marginTop: 8 }} data-testid="patients-error" />}
        {persons && (
          <div style={{ marginTop: 12 }}>
            <PersonResults persons={persons} selectedId={selected?.id} onSelect={setSelected} />
          </div>
        )}
      </Card>
      {selected && (
        <>
          <Card size="small" title={t('patients.selected')}>
            <Space direction="vertical" size={12} style={{ width: '100%' }}>
              <PersonSummary person={selected} />
              <LinkCandidates person={selected} mayDecide={CANDIDATE_DECIDERS.has(user.role)} onChanged={changed} />
              {user.role === 'administrator' && <PersonIndexActions person={selected} onChanged={changed} />}
            </Space>
          </Card>
          <Card size="small" title={t('patients.timeline')}>
            <PatientTimeline key={`${selected.id}:${selected.identifiers.length}`} person={selected} />
          </Card>
          <Card size="small" title={t('patients.duplicate')}>
            <DuplicateCheckForm key={selected.id} person={selected} searchedNationalId={searchedNationalId} />
          </Card>
        </>
      )}
    </Space>
  );
}
