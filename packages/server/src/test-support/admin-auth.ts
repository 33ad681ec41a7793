/** The administrator every test server is started with, and requests made as that user. */
export const TEST_ADMIN_PASSWORD = 'test-admin-Passw0rd';

export const ADMIN_AUTH = `Basic ${Buffer.from(`admin:${TEST_ADMIN_PASSWORD}`).toString('base64')}`;

/** fetch options with the administrator's HTTP Basic credentials added. */
export function withAdmin(init: RequestInit = {}): RequestInit {
  return { ...init, headers: { ...(init.headers as Record<string, string> | undefined), authorization: ADMIN_AUTH } };
}
