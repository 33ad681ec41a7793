/**
 * GET /metadata: what this façade does (R4 §3.1.0.13), readable without authentication so
 * clients can discover the server before they log in. Lists only what is implemented:
 * DiagnosticReport is left out until reports exist (its routes answer 501).
 */
import type { FastifyInstance } from 'fastify';
import type { FhirContext } from './fhir-context.ts';
import { FHIR_JSON } from './fhir-context.ts';
import { IMAGING_STUDY_SEARCH_PARAMS } from './imaging-study-routes.ts';
import { PATIENT_SEARCH_PARAMS } from './patient.ts';

const SEARCH_PARAM_TYPES: Record<string, { type: string; documentation: string }> = {
  _id: { type: 'token', documentation: 'logical id; ImagingStudy: the Study Instance UID' },
  identifier: { type: 'token', documentation: 'ImagingStudy: urn:dicom:uid|urn:oid:<Study Instance UID>, or an accession number alone; Patient: the DICOM Patient ID alone (every institution and issuer using it), or urn:yunying:institution:<institution>:patient-id[:<issuer>]|<Patient ID> for one patient' },
  patient: { type: 'reference', documentation: 'Patient/<id>' },
  subject: { type: 'reference', documentation: 'Patient/<id>' },
  started: { type: 'date', documentation: 'study date; prefixes eq, ge, gt, le, lt; date precision only' },
  modality: { type: 'token', documentation: 'DICOM modality code (system http://dicom.nema.org/resources/ontology/DCM); comma for any of several' },
  name: { type: 'string', documentation: 'start of the family or given name, any of alphabetic, ideographic (汉字) or phonetic' },
};

function resource(type: string, searchParams: readonly string[]) {
  return {
    type,
    interaction: [{ code: 'read' }, { code: 'search-type' }],
    searchParam: [...searchParams, '_count', '_offset'].map((name) => ({ name, ...(SEARCH_PARAM_TYPES[name] ?? { type: 'number', documentation: 'paging' }) })),
  };
}

export function capabilityStatement(baseUrl: string, date: string) {
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date,
    publisher: 'Yunying',
    kind: 'instance',
    software: { name: 'Yunying 云影' },
    implementation: { description: 'Yunying FHIR R4 façade over the imaging archive (read-only)', url: baseUrl },
    fhirVersion: '4.0.1',
    format: [FHIR_JSON, 'json'],
    rest: [{
      mode: 'server',
      security: { description: 'Authorization: Bearer <token> from POST /api/v1/auth/login; results are limited to the studies the caller may see' },
      resource: [resource('ImagingStudy', IMAGING_STUDY_SEARCH_PARAMS), resource('Patient', PATIENT_SEARCH_PARAMS)],
    }],
  };
}

export function registerMetadata(app: FastifyInstance, ctx: FhirContext): void {
  // kind "instance": this describes the running server, so its date is when it started.
  const date = new Date().toISOString();
  app.get('/metadata', async (request, reply) => ctx.send(request, reply, 200, capabilityStatement(ctx.fhirBase(request), date)));
}
