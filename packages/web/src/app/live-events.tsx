import { createContext, useContext, useEffect, useRef, useState, type ReactNode } from 'react';
import { currentToken } from '../api/session.ts';
import type { LiveEvent } from '../api/types.ts';

/** The notification types the screens react to (server: reading-service.ts). */
export const LIVE_EVENT_TYPES = [
  'reading-request.created',
  'reading-request.ready',
  'reading-request.claimed',
  'reading-request.released',
  'retake.requested',
  'report.submitted',
  'report.returned',
  'report.signed',
  'report.amended',
] as const;

type Listener = (event: LiveEvent) => void;

interface LiveEventsValue {
  connected: boolean;
  subscribe(listener: Listener): () => void;
}

const LiveEventsContext = createContext<LiveEventsValue | undefined>(undefined);

/**
 * One EventSource per signed-in tab on GET /api/v1/events (the token in the query: an
 * EventSource cannot send headers). It reconnects by itself and resumes after the last id.
 */
export function LiveEventsProvider({ children }: { children: ReactNode }) {
  const listeners = useRef(new Set<Listener>());
  const [connected, setConnected] = useState(false);
  const [value] = useState<LiveEventsValue>(() => ({
    connected: false,
    subscribe(listener) {
      listeners.current.add(listener);
      return () => listeners.current.delete(listener);
    },
  }));

  useEffect(() => {
    const token = currentToken();
    if (!token) return;
    const source = new EventSource(`/api/v1/events?access_token=${encodeURIComponent(token)}`);
    const deliver = (message: MessageEvent<string>) => {
      let event: LiveEvent;
      try {
        event = JSON.parse(message.data) as LiveEvent;
      } catch {
        return;
      }
      for (const listener of [...listeners.current]) listener(event);
    };
    for (const type of LIVE_EVENT_TYPES) source.addEventListener(type, deliver as EventListener);
    source.onopen = () => setConnected(true);
    source.onerror = () => setConnected(source.readyState === EventSource.OPEN);
    return () => {
      source.close();
      setConnected(false);
    };
  }, []);

  return <LiveEventsContext.Provider value={{ ...value, connected }}>{children}</LiveEventsContext.Provider>;
}

/** Calls `onEvent` for every live notification while the component is mounted. */
export function useLiveEvents(onEvent: Listener): { connected: boolean } {
  const context = useContext(LiveEventsContext);
  const latest = useRef(onEvent);
  latest.current = onEvent;
  useEffect(() => context?.subscribe((event) => latest.current(event)), [context]);
  return { connected: context?.connected ?? false };
}
