import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import type { AccessService } from '../access/access-service.ts';
import { bearerTokenOf, type HttpCallerResolver } from '../access/http-caller.ts';

export interface AuthRouteOptions {
  access: AccessService;
  resolveCaller: HttpCallerResolver;
}

const LoginBody = Type.Object({ username: Type.String({ minLength: 1, maxLength: 64 }), password: Type.String({ minLength: 1, maxLength: 256 }) }, { additionalProperties: false });
const PasswordBody = Type.Object({ currentPassword: Type.String({ minLength: 1, maxLength: 256 }), newPassword: Type.String({ minLength: 1, maxLength: 256 }) }, { additionalProperties: false });

/** Login (design.md public contract), logout, who am I, change my password. */
export async function registerAuthRoutes(app: FastifyInstance, options: AuthRouteOptions): Promise<void> {
  const { access, resolveCaller } = options;

  app.post('/api/v1/auth/login', { schema: { tags: ['auth'], body: LoginBody } }, async (request, reply) => {
    const { username, password } = request.body as Static<typeof LoginBody>;
    const result = await access.login(username, password, { via: 'rest', remoteAddress: request.ip });
    // Tokens never sit in a shared cache.
    return reply.header('Cache-Control', 'no-store').send(result);
  });

  app.post('/api/v1/auth/logout', { schema: { tags: ['auth'] } }, async (request, reply) => {
    await resolveCaller(request);
    const token = bearerTokenOf(request);
    // audited (user.logged-out): an auditor sees when a session ended by the user's own hand
    if (token) await access.logout(token, { via: 'rest', remoteAddress: request.ip });
    return reply.status(204).send();
  });

  app.get('/api/v1/auth/me', { schema: { tags: ['auth'] } }, async (request) => access.describeSelf(await resolveCaller(request)));

  app.post('/api/v1/auth/password', { schema: { tags: ['auth'], body: PasswordBody } }, async (request, reply) => {
    const { currentPassword, newPassword } = request.body as Static<typeof PasswordBody>;
    await access.changeOwnPassword(await resolveCaller(request), currentPassword, newPassword);
    return reply.status(204).send();
  });
}
