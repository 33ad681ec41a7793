import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import type { HttpCallerResolver } from '../access/http-caller.ts';
import type { ESignature } from '../reports/e-signature.ts';

const PinBody = Type.Object(
  {
    /** the signer's login password: a session alone cannot set the PIN it would sign with */
    currentPassword: Type.String({ minLength: 1, maxLength: 256 }),
    /** six digits; null removes the PIN */
    pin: Type.Union([Type.Null(), Type.String({ maxLength: 16 })]),
  },
  { additionalProperties: false },
);

/**
 * The signer's own signing PIN (签名 PIN, reports/e-signature.ts): whether one is set, and
 * setting or removing it with the password. For those who sign (report:sign).
 */
export async function registerSigningRoutes(app: FastifyInstance, options: { eSignature: ESignature; resolveCaller: HttpCallerResolver }): Promise<void> {
  const { eSignature, resolveCaller } = options;
  const tags = ['auth'];
  app.get('/api/v1/auth/signing-pin', { config: { permission: 'report:sign' }, schema: { tags } }, async (request) => eSignature.pinStatus(await resolveCaller(request)));
  app.put('/api/v1/auth/signing-pin', { config: { permission: 'report:sign' }, schema: { tags, body: PinBody } }, async (request) => {
    const { currentPassword, pin } = request.body as Static<typeof PinBody>;
    return eSignature.setPin(await resolveCaller(request), currentPassword, pin);
  });
}
