/** The administrator every test server is started with, and requests made as that user. */
export const TEST_ADMIN_PASSWORD = 'test-admin-Passw0rd';

/**
 * scrypt at N = 2^15 (the cost before issue 12) instead of the production 2^17: suites create
 * and log in many users, a quarter of the time each. Only test servers set it; bench/ does not.
 */
export const TEST_PASSWORD_HASH_COST_LOG2 = '15';

export const ADMIN_AUTH = `Basic ${Buffer.from(`admin:${TEST_ADMIN_PASSWORD}`).toString('base64')}`;

/** fetch options with the administrator's HTTP Basic credentials added. */
export function withAdmin(init: RequestInit = {}): RequestInit {
  return { ...init, headers: { ...(init.headers as Record<string, string> | undefined), authorization: ADMIN_AUTH } };
}
