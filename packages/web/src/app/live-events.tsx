import { createContext, useContext, useEffect, useRef, useState, type ReactNode } from 'react';
import { currentToken } from '../api/session.ts';
import type { LiveEvent, Role } from '../api/types.ts';
import { useAuth } from './auth.tsx';

/**
 * The notification types the screens react to (server: reading-service.ts; the study ones
 * from events/study-arrival-consumer.ts: a study's first instance stored, the study no
 * longer growing).
 */
export const LIVE_EVENT_TYPES = [
  'study.stored',
  'study.settled',
  'reading-request.created',
  'reading-request.ready',
  'reading-request.claimed',
  'reading-request.released',
  'retake.requested',
  'report.submitted',
  'report.returned',
  'report.signed',
  'report.amended',
  // critical findings (危急值): the township banner, the reading page's panel
  'critical-finding.flagged',
  'critical-finding.escalated',
  'critical-finding.acknowledged',
] as const;

/**
 * The roles the server streams to (server roles.ts, patients:read): the notifications name
 * patients. Any other role's screen opens no stream, which the server would refuse (403).
 */
const RECEIVES_LIVE_EVENTS: readonly Role[] = ['technologist', 'radiologist', 'reviewing-radiologist', 'expert', 'clinician', 'qc-officer', 'administrator'];

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

  const role = useAuth().user?.role;

  useEffect(() => {
    const token = currentToken();
    if (!token || !role || !RECEIVES_LIVE_EVENTS.includes(role)) return;
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
  }, [role]);

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
