import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import { api } from '../api/client.ts';
import { UNAUTHORIZED_EVENT, clearToken, currentToken, storeToken } from '../api/session.ts';
import type { LoginResult, PublicUser } from '../api/types.ts';

interface AuthValue {
  /** undefined while the stored token is being checked */
  user: PublicUser | null | undefined;
  login(username: string, password: string): Promise<PublicUser>;
  logout(): Promise<void>;
  /** set when the server ended the session (401) rather than the user */
  expired: boolean;
}

const AuthContext = createContext<AuthValue | undefined>(undefined);
const USER_KEY = 'yunying.user';

export function AuthProvider({ children }: { children: ReactNode }) {
  const [user, setUser] = useState<PublicUser | null | undefined>(() => {
    if (!currentToken()) return null;
    const cached = sessionStorage.getItem(USER_KEY);
    return cached ? (JSON.parse(cached) as PublicUser) : undefined;
  });
  const [expired, setExpired] = useState(false);

  useEffect(() => {
    // A reload keeps the tab's token: check that it is still good.
    if (!currentToken()) return;
    api
      .get<PublicUser>('/api/v1/auth/me')
      .then((me) => {
        sessionStorage.setItem(USER_KEY, JSON.stringify(me));
        setUser(me);
      })
      .catch(() => {
        clearToken();
        setUser(null);
      });
  }, []);

  useEffect(() => {
    const onUnauthorized = () => {
      sessionStorage.removeItem(USER_KEY);
      setExpired(true);
      setUser(null);
    };
    window.addEventListener(UNAUTHORIZED_EVENT, onUnauthorized);
    return () => window.removeEventListener(UNAUTHORIZED_EVENT, onUnauthorized);
  }, []);

  const login = useCallback(async (username: string, password: string) => {
    const result = await api.post<LoginResult>('/api/v1/auth/login', { username, password });
    storeToken(result.token);
    sessionStorage.setItem(USER_KEY, JSON.stringify(result.user));
    setExpired(false);
    setUser(result.user);
    return result.user;
  }, []);

  const logout = useCallback(async () => {
    try {
      await api.post('/api/v1/auth/logout');
    } catch {
      // the token may be gone already
    }
    clearToken();
    sessionStorage.removeItem(USER_KEY);
    setUser(null);
  }, []);

  const value = useMemo(() => ({ user, login, logout, expired }), [user, login, logout, expired]);
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

export function useAuth(): AuthValue {
  const value = useContext(AuthContext);
  if (!value) throw new Error('useAuth outside AuthProvider');
  return value;
}

/** The signed-in user (inside the authenticated part of the app). */
export function useUser(): PublicUser {
  const { user } = useAuth();
  if (!user) throw new Error('no user');
  return user;
}
