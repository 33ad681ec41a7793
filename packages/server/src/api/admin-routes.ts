import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import type { AccessService, InstitutionTier } from '../access/access-service.ts';
import { INSTITUTION_TIERS } from '../access/access-service.ts';
import type { HttpCallerResolver } from '../access/http-caller.ts';
import { ROLES } from '../access/roles.ts';

export interface AdminRouteOptions {
  access: AccessService;
  resolveCaller: HttpCallerResolver;
}

const AE_TITLE = '^[\\x20-\\x5b\\x5d-\\x7e]{1,16}$';
const ID = '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$';

const InstitutionBody = Type.Object(
  {
    id: Type.String({ pattern: ID }),
    name: Type.String({ minLength: 1, maxLength: 200 }),
    tier: Type.Optional(Type.Union(INSTITUTION_TIERS.map((tier) => Type.Literal(tier)))),
    grade: Type.Optional(Type.Union([Type.Literal(1), Type.Literal(2), Type.Literal(3)])),
    regionCode: Type.Optional(Type.String({ pattern: '^[0-9]{2,12}$' })),
    parentId: Type.Optional(Type.String({ pattern: ID })),
  },
  { additionalProperties: false },
);
const InstitutionPatch = Type.Partial(Type.Omit(InstitutionBody, ['id']), { additionalProperties: false });
const IdParams = Type.Object({ id: Type.String({ pattern: ID }) });
const MemberParams = Type.Object({ id: Type.String({ pattern: ID }), memberId: Type.String({ pattern: ID }) });

const RoleSchema = Type.Union(ROLES.map((role) => Type.Literal(role)));
const UserBody = Type.Object(
  {
    username: Type.String({ minLength: 1, maxLength: 64 }),
    password: Type.String({ minLength: 1, maxLength: 256 }),
    role: RoleSchema,
    institutionId: Type.String({ pattern: ID }),
    displayName: Type.Optional(Type.String({ maxLength: 100 })),
  },
  { additionalProperties: false },
);
const UserPatch = Type.Object(
  {
    password: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
    role: Type.Optional(RoleSchema),
    institutionId: Type.Optional(Type.String({ pattern: ID })),
    displayName: Type.Optional(Type.Union([Type.String({ maxLength: 100 }), Type.Null()])),
    enabled: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
const UsernameParams = Type.Object({ username: Type.String({ minLength: 1, maxLength: 64 }) });
const UserQuery = Type.Object({ institutionId: Type.Optional(Type.String({ pattern: ID })) }, { additionalProperties: false });

const AeBody = Type.Object(
  {
    institutionId: Type.String({ pattern: ID }),
    host: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })),
    port: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535 })),
    description: Type.Optional(Type.String({ maxLength: 200 })),
  },
  { additionalProperties: false },
);
const DicomNodeBody = Type.Object(
  {
    host: Type.String({ minLength: 1, maxLength: 255 }),
    port: Type.Integer({ minimum: 1, maximum: 65535 }),
    institutionId: Type.Optional(Type.String({ pattern: ID, description: "required to change an AE that exists (409 INSTITUTION_REQUIRED without); a new node without it joins the caller's institution" })),
  },
  { additionalProperties: false },
);
const AeTitleParams = Type.Object({ aeTitle: Type.String({ pattern: AE_TITLE }) });
const GrantBody = Type.Object({ institutionId: Type.String({ pattern: ID }), reason: Type.String({ minLength: 1, maxLength: 200 }) }, { additionalProperties: false });
const StudyParams = Type.Object({ study: Type.String({ pattern: '^[0-9.]{1,64}$' }) });

const tags = (tag: string) => ({ tags: [tag], security: [{ bearer: [] }] });

/**
 * Administration (design.md: administrators manage institutions, users, AE titles):
 * /api/v1/institutions, /users, /application-entities and the older /dicom-nodes (C-MOVE
 * destinations). Permission checks and audit records are in AccessService.
 */
export async function registerAdminRoutes(app: FastifyInstance, options: AdminRouteOptions): Promise<void> {
  const { access, resolveCaller } = options;

  app.get('/api/v1/institutions', { config: { permission: 'platform:manage' }, schema: { ...tags('administration') } }, async (request) => access.listInstitutions(await resolveCaller(request)));
  app.post('/api/v1/institutions', { config: { permission: 'platform:manage' }, schema: { ...tags('administration'), body: InstitutionBody } }, async (request, reply) => {
    const body = request.body as Static<typeof InstitutionBody>;
    return reply.status(201).send(await access.createInstitution(await resolveCaller(request), { ...body, tier: body.tier as InstitutionTier | undefined }));
  });
  app.get('/api/v1/institutions/:id', { config: { permission: 'platform:manage' }, schema: { ...tags('administration'), params: IdParams } }, async (request) => access.getInstitution(await resolveCaller(request), (request.params as Static<typeof IdParams>).id));
  app.patch('/api/v1/institutions/:id', { config: { permission: 'platform:manage' }, schema: { ...tags('administration'), params: IdParams, body: InstitutionPatch } }, async (request) => {
    const body = request.body as Static<typeof InstitutionPatch>;
    return access.updateInstitution(await resolveCaller(request), (request.params as Static<typeof IdParams>).id, { ...body, tier: body.tier as InstitutionTier | undefined });
  });
  app.put('/api/v1/institutions/:id/members/:memberId', { config: { permission: 'platform:manage' }, schema: { ...tags('administration'), params: MemberParams } }, async (request, reply) => {
    const { id, memberId } = request.params as Static<typeof MemberParams>;
    await access.addAllianceMember(await resolveCaller(request), id, memberId);
    return reply.status(204).send();
  });
  app.delete('/api/v1/institutions/:id/members/:memberId', { config: { permission: 'platform:manage' }, schema: { ...tags('administration'), params: MemberParams } }, async (request, reply) => {
    const { id, memberId } = request.params as Static<typeof MemberParams>;
    await access.removeAllianceMember(await resolveCaller(request), id, memberId);
    return reply.status(204).send();
  });

  app.get('/api/v1/users', { config: { permission: 'platform:manage' }, schema: { ...tags('administration'), querystring: UserQuery } }, async (request) => access.listUsers(await resolveCaller(request), (request.query as Static<typeof UserQuery>).institutionId));
  app.post('/api/v1/users', { config: { permission: 'platform:manage' }, schema: { ...tags('administration'), body: UserBody } }, async (request, reply) => reply.status(201).send(await access.createUser(await resolveCaller(request), request.body as Static<typeof UserBody>)));
  app.get('/api/v1/users/:username', { config: { permission: 'platform:manage' }, schema: { ...tags('administration'), params: UsernameParams } }, async (request) => access.getUser(await resolveCaller(request), (request.params as Static<typeof UsernameParams>).username));
  app.patch('/api/v1/users/:username', { config: { permission: 'platform:manage' }, schema: { ...tags('administration'), params: UsernameParams, body: UserPatch } }, async (request) =>
    access.updateUser(await resolveCaller(request), (request.params as Static<typeof UsernameParams>).username, request.body as Static<typeof UserPatch>),
  );
  app.post('/api/v1/users/:username/revoke-sessions', { config: { permission: 'platform:manage' }, schema: { ...tags('administration'), params: UsernameParams } }, async (request) => ({
    revoked: await access.revokeSessions(await resolveCaller(request), (request.params as Static<typeof UsernameParams>).username),
  }));

  app.get('/api/v1/application-entities', { config: { permission: 'platform:manage' }, schema: { ...tags('administration') } }, async (request) => access.listAes(await resolveCaller(request)));
  app.put('/api/v1/application-entities/:aeTitle', { config: { permission: 'platform:manage' }, schema: { ...tags('administration'), params: AeTitleParams, body: AeBody } }, async (request) =>
    access.registerAe(await resolveCaller(request), { aeTitle: (request.params as Static<typeof AeTitleParams>).aeTitle, ...(request.body as Static<typeof AeBody>) }),
  );
  app.delete('/api/v1/application-entities/:aeTitle', { config: { permission: 'platform:manage' }, schema: { ...tags('administration'), params: AeTitleParams } }, async (request, reply) => {
    await access.removeAe(await resolveCaller(request), (request.params as Static<typeof AeTitleParams>).aeTitle);
    return reply.status(204).send();
  });

  // C-MOVE destinations, as the archive core published them: AEs with an address.
  app.get('/api/v1/dicom-nodes', { config: { permission: 'platform:manage' }, schema: { ...tags('administration') } }, async (request) => (await access.listAes(await resolveCaller(request))).filter((ae) => ae.host !== undefined));
  app.put('/api/v1/dicom-nodes/:aeTitle', { config: { permission: 'platform:manage' }, schema: { ...tags('administration'), params: AeTitleParams, body: DicomNodeBody } }, async (request) => {
    const caller = await resolveCaller(request);
    const body = request.body as Static<typeof DicomNodeBody>;
    return access.registerDicomNode(caller, { aeTitle: (request.params as Static<typeof AeTitleParams>).aeTitle, host: body.host, port: body.port, institutionId: body.institutionId });
  });
  app.delete('/api/v1/dicom-nodes/:aeTitle', { config: { permission: 'platform:manage' }, schema: { ...tags('administration'), params: AeTitleParams } }, async (request, reply) => {
    await access.removeAe(await resolveCaller(request), (request.params as Static<typeof AeTitleParams>).aeTitle);
    return reply.status(204).send();
  });

  app.post('/api/v1/studies/:study/grants', { config: { permission: 'studies:manage' }, schema: { ...tags('studies'), params: StudyParams, body: GrantBody } }, async (request, reply) => {
    const body = request.body as Static<typeof GrantBody>;
    await access.grantStudy(await resolveCaller(request), (request.params as Static<typeof StudyParams>).study, body.institutionId, body.reason);
    return reply.status(204).send();
  });
}
