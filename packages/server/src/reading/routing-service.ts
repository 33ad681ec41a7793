import { randomUUID } from 'node:crypto';
import type { AuditRecorder } from '../access/audit-event.ts';
import { requirePermission, type Caller } from '../access/caller.ts';
import { badRequest, notFound } from '../errors.ts';
import type { AccessStore } from '../store/access-store.ts';
import type { ReadingRequestRow, ReadingStore, RoutingRuleRow } from '../store/reading-store.ts';
import type { RequestService } from './request-service.ts';
import { isPriority } from './sla.ts';

export interface RoutingRuleInput {
  name: string;
  position?: number;
  sourceInstitutionId?: string;
  modality?: string;
  bodyPart?: string;
  timeFrom?: string;
  timeTo?: string;
  readingInstitutionId: string;
  priority?: string;
}

/** A rule's changes: a field set to null is cleared (the rule then matches any value). */
export interface RoutingRuleChanges {
  name?: string;
  position?: number;
  enabled?: boolean;
  sourceInstitutionId?: string | null;
  modality?: string | null;
  bodyPart?: string | null;
  timeFrom?: string | null;
  timeTo?: string | null;
  readingInstitutionId?: string;
  priority?: string;
}

export interface RoutingDependencies {
  store: Pick<ReadingStore, 'studiesFacts' | 'listRules' | 'insertRule' | 'updateRule' | 'deleteRule'>;
  access: Pick<AccessStore, 'findInstitution'>;
  audit: AuditRecorder;
  requests: Pick<RequestService, 'openRoutedRequests'>;
}

/**
 * Routing rules (e.g. all DR from township X to county hospital Y, nights to the county
 * hospital): administrators manage them; each newly stored study is matched against them
 * and the first that matches opens its reading request.
 */
export class RoutingService {
  private readonly deps: RoutingDependencies;
  /** IANA time zone of routing rules' time windows */
  private readonly timeZone: string;

  constructor(deps: RoutingDependencies, options: { timeZone: string }) {
    this.deps = deps;
    this.timeZone = options.timeZone;
  }

  /**
   * Called after an instance of a study is stored; the first enabled rule that matches
   * creates the request. A study with any request already is left alone.
   */
  async routeStudy(studyInstanceUid: string, at = new Date()): Promise<ReadingRequestRow | undefined> {
    return (await this.routeStudies([studyInstanceUid], at))[0];
  }

  /**
   * routeStudy for the new studies of one feed read (routing-consumer.ts): the rules and
   * the studies' facts read once, and the requests opened in one transaction. Returns the
   * requests opened.
   */
  async routeStudies(studyInstanceUids: readonly string[], at = new Date()): Promise<ReadingRequestRow[]> {
    if (studyInstanceUids.length === 0) return [];
    const rules = (await this.deps.store.listRules()).filter((rule) => rule.enabled === 1);
    if (rules.length === 0) return [];
    const facts = await this.deps.store.studiesFacts(studyInstanceUids);
    // A rule's time window is local time; the clock is read once for the batch.
    const hhmm = rules.some((rule) => rule.time_from && rule.time_to) ? localTime(at, this.timeZone) : '';
    const routes = [];
    for (const studyInstanceUid of new Set(studyInstanceUids)) {
      const studyFacts = facts.get(studyInstanceUid);
      if (!studyFacts) continue;
      const rule = rules.find((candidate) => ruleMatches(candidate, studyFacts, hhmm));
      if (!rule) continue;
      const priority = rule.priority;
      if (!isPriority(priority)) continue;
      routes.push({ rule: { ...rule, priority }, facts: studyFacts, studyInstanceUid });
    }
    return this.deps.requests.openRoutedRequests(routes);
  }

  async listRules(caller: Caller): Promise<RoutingRuleRow[]> {
    requirePermission(caller, 'routing:manage');
    return this.deps.store.listRules();
  }

  async createRule(caller: Caller, input: RoutingRuleInput): Promise<RoutingRuleRow> {
    requirePermission(caller, 'routing:manage');
    const priority = input.priority ?? 'routine';
    if (!isPriority(priority)) throw badRequest('INVALID_PRIORITY', 'priority is routine, urgent or emergency');
    for (const institutionId of [input.readingInstitutionId, input.sourceInstitutionId]) if (institutionId && !(await this.deps.access.findInstitution(institutionId))) throw notFound(`institution ${institutionId}`);
    const row: RoutingRuleRow = { id: randomUUID(), name: input.name, position: input.position ?? 100, enabled: 1, source_institution_id: input.sourceInstitutionId ?? null, modality: input.modality?.toUpperCase() ?? null, body_part: input.bodyPart?.toUpperCase() ?? null, time_from: input.timeFrom ?? null, time_to: input.timeTo ?? null, reading_institution_id: input.readingInstitutionId, priority, created_at: new Date().toISOString() };
    await this.deps.store.insertRule(row);
    await this.deps.audit.record({ action: 'routing-rule.created', caller, objectType: 'institution', objectId: input.readingInstitutionId, details: { ...row } });
    return row;
  }

  async updateRule(caller: Caller, id: string, changes: RoutingRuleChanges): Promise<RoutingRuleRow> {
    requirePermission(caller, 'routing:manage');
    const before = (await this.deps.store.listRules()).find((rule) => rule.id === id);
    if (!before) throw notFound(`routing rule ${id}`);
    if (changes.priority !== undefined && !isPriority(changes.priority)) throw badRequest('INVALID_PRIORITY', 'priority is routine, urgent or emergency');
    for (const institutionId of [changes.readingInstitutionId, changes.sourceInstitutionId]) if (institutionId && !(await this.deps.access.findInstitution(institutionId))) throw notFound(`institution ${institutionId}`);
    const set: Partial<RoutingRuleRow> = {
      ...(changes.name !== undefined ? { name: changes.name } : {}),
      ...(changes.position !== undefined ? { position: changes.position } : {}),
      ...(changes.enabled !== undefined ? { enabled: changes.enabled ? 1 : 0 } : {}),
      ...(changes.sourceInstitutionId !== undefined ? { source_institution_id: changes.sourceInstitutionId } : {}),
      ...(changes.modality !== undefined ? { modality: changes.modality?.toUpperCase() || null } : {}),
      ...(changes.bodyPart !== undefined ? { body_part: changes.bodyPart?.toUpperCase() || null } : {}),
      ...(changes.timeFrom !== undefined ? { time_from: changes.timeFrom } : {}),
      ...(changes.timeTo !== undefined ? { time_to: changes.timeTo } : {}),
      ...(changes.readingInstitutionId !== undefined ? { reading_institution_id: changes.readingInstitutionId } : {}),
      ...(changes.priority !== undefined ? { priority: changes.priority } : {}),
    };
    if (!(await this.deps.store.updateRule(id, set))) throw notFound(`routing rule ${id}`);
    const after = { ...before, ...set };
    await this.deps.audit.record({ action: 'routing-rule.updated', caller, objectType: 'institution', objectId: after.reading_institution_id, details: { id, before, changes: set } });
    return after;
  }

  async deleteRule(caller: Caller, id: string): Promise<void> {
    requirePermission(caller, 'routing:manage');
    if (!(await this.deps.store.deleteRule(id))) throw notFound(`routing rule ${id}`);
    await this.deps.audit.record({ action: 'routing-rule.deleted', caller, details: { id } });
  }
}

function ruleMatches(rule: RoutingRuleRow, facts: { institution_id: string; modalities_in_study: string | null; body_part_examined: string | null }, hhmm: string): boolean {
  if (rule.enabled !== 1) return false;
  if (rule.source_institution_id && rule.source_institution_id !== facts.institution_id) return false;
  if (rule.modality && !(facts.modalities_in_study ?? '').split('\\').includes(rule.modality)) return false;
  if (rule.body_part && (facts.body_part_examined ?? '').toUpperCase() !== rule.body_part) return false;
  if (rule.time_from && rule.time_to) {
    const inside = rule.time_from <= rule.time_to ? hhmm >= rule.time_from && hhmm < rule.time_to : hhmm >= rule.time_from || hhmm < rule.time_to;
    if (!inside) return false;
  }
  return true;
}

/** Intl.DateTimeFormat by time zone: building one costs far more than formatting with it. */
const hourMinuteFormats = new Map<string, Intl.DateTimeFormat>();

/** "HH:MM" of an instant in a time zone (routing windows are local: night shifts). */
export function localTime(at: Date, timeZone: string): string {
  let format = hourMinuteFormats.get(timeZone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-GB', { timeZone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
    hourMinuteFormats.set(timeZone, format);
  }
  return format.format(at);
}
