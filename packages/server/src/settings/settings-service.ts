import { BODY_PARTS } from '@yunying/dicom/body-parts';
import { actsForEveryInstitution, canSeeInstitution, requirePermission, type Caller } from '../access/caller.ts';
import { notFound, YunyingError } from '../errors.ts';
import type { AccessStore } from '../store/access-store.ts';
import type { UnitOfWork } from '../store/unit-of-work.ts';
import { PRIORITIES, type SlaMinutes } from '../reading/sla.ts';
import { openSettingsStore, PLATFORM_SCOPE, type SettingsStore } from './settings-store.ts';

/** Setting names in admin_settings (settings-store.ts). */
export const PICK_LISTS = 'pick-lists';
export const READING_SLA = 'reading-sla';

/** The modalities a township request form and template management offer before an administrator chooses. */
export const DEFAULT_MODALITIES: readonly string[] = ['DX', 'CR', 'CT', 'MR', 'US', 'MG', 'XA', 'RF', 'NM', 'PT', 'ES'];
/** Body parts: every Body Part Examined defined term the platform names (@yunying/dicom/body-parts). */
export const DEFAULT_BODY_PARTS: readonly string[] = Object.keys(BODY_PARTS);

export interface PickLists {
  modalities: string[];
  bodyParts: string[];
}

export interface PickListsView extends PickLists {
  /** the institution asked about, or '*' for the platform default */
  institutionId: string;
  /** where the lists come from: the institution's own, the platform default, or the built-in one */
  source: 'institution' | 'platform' | 'default';
  updatedAt?: string;
  updatedBy?: string;
}

export interface SlaView extends SlaMinutes {
  /** the administrator's value, or the configuration's (YUNYING_SLA_*_MINUTES) */
  source: 'settings' | 'config';
  updatedAt?: string;
  updatedBy?: string;
}

export interface SettingsDependencies {
  /** the process-wide settings store (reads) */
  store: SettingsStore;
  access: Pick<AccessStore, 'findInstitution'>;
  /** writes commit with their audit record */
  unitOfWork: UnitOfWork;
}

const CODE = /^[A-Z0-9_]{1,16}$/;
const MAX_ITEMS = 100;
/** a week: longer allowances are a backlog, not an SLA */
export const MAX_SLA_MINUTES = 7 * 24 * 60;

/**
 * The administrator's settings: the modality and body-part pick lists (per institution, with
 * a platform default) and the reading SLA per priority. Every write is audited in the
 * transaction that makes it.
 */
export class SettingsService {
  private readonly deps: SettingsDependencies;
  private readonly configSla: SlaMinutes;

  constructor(deps: SettingsDependencies, options: { sla: SlaMinutes }) {
    this.deps = deps;
    this.configSla = options.sla;
  }

  // Pick lists

  /** Any signed-in caller reads the lists of an institution in its scope (its own by default) or the platform default ('*'). */
  async pickLists(caller: Caller, institutionId: string = caller.institutionId): Promise<PickListsView> {
    if (institutionId !== PLATFORM_SCOPE) await this.requireVisibleInstitution(caller, institutionId);
    const own = institutionId === PLATFORM_SCOPE ? undefined : await this.deps.store.get(institutionId, PICK_LISTS);
    const setting = own ?? (await this.deps.store.get(PLATFORM_SCOPE, PICK_LISTS));
    const lists = setting ? readPickLists(setting.value) : undefined;
    if (!setting || !lists) return { institutionId, source: 'default', modalities: [...DEFAULT_MODALITIES], bodyParts: [...DEFAULT_BODY_PARTS] };
    return { institutionId, source: own ? 'institution' : 'platform', ...lists, updatedAt: setting.updatedAt, updatedBy: setting.updatedBy };
  }

  /** Sets an institution's lists, or (institutionId '*' or omitted) the platform default. */
  async setPickLists(caller: Caller, institutionId: string | undefined, input: PickLists): Promise<PickListsView> {
    requirePermission(caller, 'platform:manage');
    const scope = await this.writableScope(caller, institutionId);
    const lists: PickLists = { modalities: normalisedCodes(input.modalities, 'modalities'), bodyParts: normalisedCodes(input.bodyParts, 'bodyParts') };
    const before = await this.deps.store.get(scope, PICK_LISTS);
    await this.deps.unitOfWork.run(async (tx) => {
      await tx.open(openSettingsStore).put(scope, PICK_LISTS, lists, caller.name);
      tx.audit.record({ action: 'settings.updated', caller, objectType: 'institution', objectId: scope, details: { setting: PICK_LISTS, before: before?.value ?? null, after: lists } });
    });
    return this.pickLists(caller, scope);
  }

  /** The institution's own lists removed: it uses the platform default again. */
  async resetPickLists(caller: Caller, institutionId: string): Promise<PickListsView> {
    requirePermission(caller, 'platform:manage');
    const scope = await this.writableScope(caller, institutionId);
    const before = await this.deps.store.get(scope, PICK_LISTS);
    if (!before) throw notFound(`pick lists of ${scope}`);
    await this.deps.unitOfWork.run(async (tx) => {
      await tx.open(openSettingsStore).remove(scope, PICK_LISTS);
      tx.audit.record({ action: 'settings.reset', caller, objectType: 'institution', objectId: scope, details: { setting: PICK_LISTS, before: before.value } });
    });
    return this.pickLists(caller, scope);
  }

  // Reading SLA

  /** The allowances the SLA computation uses now (reading/request-service.ts reads them at each deadline). */
  async slaMinutes(): Promise<SlaMinutes> {
    const setting = await this.deps.store.get(PLATFORM_SCOPE, READING_SLA);
    return (setting && readSla(setting.value)) ?? { ...this.configSla };
  }

  async sla(): Promise<SlaView> {
    const setting = await this.deps.store.get(PLATFORM_SCOPE, READING_SLA);
    const stored = setting ? readSla(setting.value) : undefined;
    if (!setting || !stored) return { ...this.configSla, source: 'config' };
    return { ...stored, source: 'settings', updatedAt: setting.updatedAt, updatedBy: setting.updatedBy };
  }

  /** Platform-wide: one regional SLA, as the commission sets it. */
  async setSla(caller: Caller, input: SlaMinutes): Promise<SlaView> {
    requirePermission(caller, 'platform:manage');
    if (!actsForEveryInstitution(caller)) throw new YunyingError('FORBIDDEN', 'the reading SLA is a platform setting');
    const sla = validSla(input);
    const before = await this.sla();
    await this.deps.unitOfWork.run(async (tx) => {
      await tx.open(openSettingsStore).put(PLATFORM_SCOPE, READING_SLA, sla, caller.name);
      tx.audit.record({ action: 'settings.updated', caller, details: { setting: READING_SLA, before: { emergency: before.emergency, urgent: before.urgent, routine: before.routine, source: before.source }, after: sla } });
    });
    return this.sla();
  }

  private async writableScope(caller: Caller, institutionId: string | undefined): Promise<string> {
    if (institutionId === undefined || institutionId === PLATFORM_SCOPE) {
      if (!actsForEveryInstitution(caller)) throw new YunyingError('FORBIDDEN', 'the platform default is a platform setting');
      return PLATFORM_SCOPE;
    }
    await this.requireVisibleInstitution(caller, institutionId);
    return institutionId;
  }

  /** 404 alike for an institution that does not exist and one outside the caller's scope. */
  private async requireVisibleInstitution(caller: Caller, institutionId: string): Promise<void> {
    if (!canSeeInstitution(caller, institutionId) || !(await this.deps.access.findInstitution(institutionId))) throw notFound(`institution ${institutionId}`);
  }
}

/** Trimmed, upper case, each once, in the order given; INVALID_PICK_LIST when empty, too long or not a code. */
function normalisedCodes(values: readonly string[], list: 'modalities' | 'bodyParts'): string[] {
  const codes = [...new Set(values.map((value) => value.trim().toUpperCase()).filter(Boolean))];
  if (codes.length === 0) throw new YunyingError('INVALID_PICK_LIST', `${list}: the list is empty`, { details: { list, reason: 'empty' } });
  if (codes.length > MAX_ITEMS) throw new YunyingError('INVALID_PICK_LIST', `${list}: at most ${MAX_ITEMS} entries`, { details: { list, reason: 'too-many', max: MAX_ITEMS } });
  const bad = codes.find((code) => !CODE.test(code));
  if (bad !== undefined) throw new YunyingError('INVALID_PICK_LIST', `${list}: "${bad}" is not a DICOM code (1-16 capital letters, digits or underscore)`, { details: { list, reason: 'code', value: bad } });
  return codes;
}

function validSla(input: SlaMinutes): SlaMinutes {
  for (const priority of PRIORITIES) {
    const minutes = input[priority];
    if (!Number.isInteger(minutes) || minutes < 1 || minutes > MAX_SLA_MINUTES) {
      throw new YunyingError('INVALID_SLA', `${priority}: the allowance is a whole number of minutes from 1 to ${MAX_SLA_MINUTES}`, { details: { priority, reason: 'range', max: MAX_SLA_MINUTES } });
    }
  }
  if (!(input.emergency <= input.urgent && input.urgent <= input.routine)) {
    throw new YunyingError('INVALID_SLA', 'an emergency allowance is no longer than an urgent one, an urgent one no longer than a routine one', { details: { reason: 'order' } });
  }
  return { emergency: input.emergency, urgent: input.urgent, routine: input.routine };
}

function readPickLists(value: unknown): PickLists | undefined {
  const lists = value as Partial<PickLists> | null;
  if (!lists || !Array.isArray(lists.modalities) || !Array.isArray(lists.bodyParts)) return undefined;
  return { modalities: lists.modalities.map(String), bodyParts: lists.bodyParts.map(String) };
}

function readSla(value: unknown): SlaMinutes | undefined {
  const sla = value as Partial<SlaMinutes> | null;
  if (!sla || !PRIORITIES.every((priority) => Number.isInteger(sla[priority]))) return undefined;
  return { emergency: sla.emergency!, urgent: sla.urgent!, routine: sla.routine! };
}
