import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import type { HttpCallerResolver } from '../access/http-caller.ts';
import type { SettingsService } from './settings-service.ts';

export interface SettingsRouteOptions {
  settings: SettingsService;
  resolveCaller: HttpCallerResolver;
}

const ID = '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$';
/** an institution id, or '*' for the platform default */
const SCOPE = '^(\\*|[A-Za-z0-9][A-Za-z0-9._-]{0,63})$';
// Codes are checked by the service (INVALID_PICK_LIST names the entry); the schema bounds the size only.
const Codes = Type.Array(Type.String({ maxLength: 64 }), { maxItems: 200 });
const PickListQuery = Type.Object({ institutionId: Type.Optional(Type.String({ pattern: SCOPE })) }, { additionalProperties: false });
const PickListBody = Type.Object(
  {
    institutionId: Type.Optional(Type.String({ pattern: SCOPE, description: "the institution whose lists these are; omitted or '*': the platform default" })),
    modalities: Codes,
    bodyParts: Codes,
  },
  { additionalProperties: false },
);
const InstitutionParams = Type.Object({ institutionId: Type.String({ pattern: ID }) });
// Ranges and order are checked by the service (INVALID_SLA says which).
const SlaBody = Type.Object({ emergency: Type.Integer(), urgent: Type.Integer(), routine: Type.Integer() }, { additionalProperties: false });

const tags = { tags: ['administration'], security: [{ bearer: [] }] };

/**
 * The administrator's settings: modality and body-part pick lists (the township request form,
 * template management) and the reading SLA per priority. Reads are open to every signed-in
 * person's role (settings:read), writes need platform:manage.
 */
export async function registerSettingsRoutes(app: FastifyInstance, options: SettingsRouteOptions): Promise<void> {
  const { settings, resolveCaller } = options;

  app.get('/api/v1/settings/pick-lists', { config: { permission: 'settings:read' }, schema: { ...tags, querystring: PickListQuery } }, async (request) =>
    settings.pickLists(await resolveCaller(request), (request.query as Static<typeof PickListQuery>).institutionId),
  );
  app.put('/api/v1/settings/pick-lists', { config: { permission: 'platform:manage' }, schema: { ...tags, body: PickListBody } }, async (request) => {
    const { institutionId, modalities, bodyParts } = request.body as Static<typeof PickListBody>;
    return settings.setPickLists(await resolveCaller(request), institutionId, { modalities, bodyParts });
  });
  app.delete('/api/v1/settings/pick-lists/:institutionId', { config: { permission: 'platform:manage' }, schema: { ...tags, params: InstitutionParams } }, async (request) =>
    settings.resetPickLists(await resolveCaller(request), (request.params as Static<typeof InstitutionParams>).institutionId),
  );

  app.get('/api/v1/settings/sla', { config: { permission: 'settings:read' }, schema: { ...tags } }, async (request) => {
    await resolveCaller(request);
    return settings.sla();
  });
  app.put('/api/v1/settings/sla', { config: { permission: 'platform:manage' }, schema: { ...tags, body: SlaBody } }, async (request) => settings.setSla(await resolveCaller(request), request.body as Static<typeof SlaBody>));
}
