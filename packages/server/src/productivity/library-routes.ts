import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import type { HttpCallerResolver } from '../access/http-caller.ts';
import type { ReportService } from '../reports/report-service.ts';
import type { ReportLibrary } from './report-library.ts';

const EntryId = Type.Object({ id: Type.String({ pattern: '^[0-9a-z-]{1,100}$' }) });
const ReportId = Type.Object({ id: Type.String({ pattern: '^[0-9a-f-]{36}$' }) });
const Scope = Type.Union([Type.Literal('institution'), Type.Literal('personal')]);
const Code = (max: number) => Type.String({ minLength: 1, maxLength: max, pattern: '^[A-Za-z0-9_ -]+$' });
const Text = (min: number, max: number) => Type.String({ minLength: min, maxLength: max });

const TemplateFields = {
  modality: Code(16),
  bodyPart: Code(64),
  name: Text(1, 100),
  findings: Text(0, 20000),
  impression: Text(0, 8000),
};
const TemplateBody = Type.Object({ scope: Scope, ...TemplateFields, institutionId: Type.Optional(Type.String({ maxLength: 64 })) }, { additionalProperties: false });
const TemplatePatch = Type.Object(TemplateFields, { additionalProperties: false });
const PhraseFields = {
  group: Text(1, 50),
  trigger: Type.Optional(Type.Union([Type.String({ maxLength: 20, pattern: '^[A-Za-z0-9]*$' }), Type.Null()])),
  text: Text(1, 2000),
};
const PhraseBody = Type.Object({ scope: Scope, ...PhraseFields, institutionId: Type.Optional(Type.String({ maxLength: 64 })) }, { additionalProperties: false });
const PhrasePatch = Type.Object(PhraseFields, { additionalProperties: false });
const PhraseQuery = Type.Object({ institutionId: Type.Optional(Type.String({ maxLength: 64, description: 'an administrator lists that institution’s phrases (others: their own)' })) }, { additionalProperties: false });

/**
 * The report library over REST (templates and phrases: no patient data; the service applies
 * the scope) and a report's attachments (patient data: the report's visibility applies).
 * GET /api/v1/report-templates stays with the reading routes.
 */
export async function registerLibraryRoutes(app: FastifyInstance, options: { library: ReportLibrary; reports: ReportService; resolveCaller: HttpCallerResolver }): Promise<void> {
  const { library, reports, resolveCaller } = options;
  const tags = ['report library'];
  const id = (params: unknown) => (params as Static<typeof EntryId>).id;

  app.post('/api/v1/report-templates', { config: { permission: 'templates:write' }, schema: { tags, body: TemplateBody } }, async (request, reply) => reply.status(201).send(await library.createTemplate(await resolveCaller(request), request.body as Static<typeof TemplateBody>)));
  app.put('/api/v1/report-templates/:id', { config: { permission: 'templates:write' }, schema: { tags, params: EntryId, body: TemplatePatch } }, async (request) => library.updateTemplate(await resolveCaller(request), id(request.params), request.body as Static<typeof TemplatePatch>));
  app.delete('/api/v1/report-templates/:id', { config: { permission: 'templates:write' }, schema: { tags, params: EntryId } }, async (request, reply) => {
    await library.deleteTemplate(await resolveCaller(request), id(request.params));
    return reply.status(204).send();
  });

  app.get('/api/v1/report-phrases', { config: { permission: 'templates:write' }, schema: { tags, querystring: PhraseQuery } }, async (request) => library.phrases(await resolveCaller(request), (request.query as Static<typeof PhraseQuery>).institutionId));
  app.post('/api/v1/report-phrases', { config: { permission: 'templates:write' }, schema: { tags, body: PhraseBody } }, async (request, reply) => reply.status(201).send(await library.createPhrase(await resolveCaller(request), request.body as Static<typeof PhraseBody>)));
  app.put('/api/v1/report-phrases/:id', { config: { permission: 'templates:write' }, schema: { tags, params: EntryId, body: PhrasePatch } }, async (request) => library.updatePhrase(await resolveCaller(request), id(request.params), request.body as Static<typeof PhrasePatch>));
  app.delete('/api/v1/report-phrases/:id', { config: { permission: 'templates:write' }, schema: { tags, params: EntryId } }, async (request, reply) => {
    await library.deletePhrase(await resolveCaller(request), id(request.params));
    return reply.status(204).send();
  });

  // measurements and key images: they are saved with the draft (PUT …/report), read here
  app.get('/api/v1/reports/:id/attachments', { config: { permission: 'patients:read' }, schema: { tags: ['remote diagnosis'], params: ReportId } }, async (request) => reports.attachments(await resolveCaller(request), (request.params as Static<typeof ReportId>).id));
}
