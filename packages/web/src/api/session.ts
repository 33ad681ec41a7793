/** The bearer token of this tab (sessionStorage: gone when the tab closes). */
const TOKEN_KEY = 'yunying.token';

export function currentToken(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function storeToken(token: string): void {
  sessionStorage.setItem(TOKEN_KEY, token);
}

export function clearToken(): void {
  sessionStorage.removeItem(TOKEN_KEY);
}

export function authorizationHeader(): string {
  return `Bearer ${currentToken() ?? ''}`;
}

/** Fired on any 401: the app goes back to the login screen. */
export const UNAUTHORIZED_EVENT = 'yunying:unauthorized';
