import { randomUUID } from 'node:crypto';
import { actsForEveryInstitution, hasPermission, type Caller } from '../access/caller.ts';
import { conflict, forbidden, notFound } from '../errors.ts';
import type { ProductivityStore, ReportPhraseTable } from '../store/productivity-store.ts';
import type { ReportTemplateTable } from '../store/schema.ts';
import type { UnitOfWork } from '../store/unit-of-work.ts';
import { productivityStore } from '../store/productivity-store.ts';
import { STARTER_PHRASES } from './starter-phrases.ts';

/** Where a template or phrase is seen: every reader of an institution, or its owner only. */
export type LibraryScope = 'institution' | 'personal';

export interface TemplateInput {
  scope: LibraryScope;
  modality: string;
  bodyPart: string;
  name: string;
  findings: string;
  impression: string;
  /** an administrator names the institution; everyone else writes for their own */
  institutionId?: string;
}

export interface PhraseInput {
  scope: LibraryScope;
  group: string;
  trigger?: string | null;
  text: string;
  institutionId?: string;
}

export interface TemplateView {
  id: string;
  scope: string;
  owner: string | null;
  institutionId: string | null;
  modality: string;
  bodyPart: string;
  name: string;
  findings: string;
  impression: string;
  updatedAt: string;
}

export interface PhraseView {
  id: string;
  scope: string;
  owner: string | null;
  institutionId: string | null;
  group: string;
  trigger: string | null;
  text: string;
  updatedAt: string;
}

export interface ReportLibraryDependencies {
  /** the store on the process-wide handle (reads) */
  store: ProductivityStore;
  /** changes commit with their audit record */
  unitOfWork: UnitOfWork;
}

type Scoped = Pick<ReportTemplateTable, 'scope' | 'owner' | 'institution_id'>;

/**
 * The report library (模板与常用语): templates and phrases in three scopes. The starter set
 * ('system') is shared and read-only; an institution's are seen by its users and kept by
 * those who hold templates:manage there (the reading centre's lead, an administrator); a
 * personal one is seen and kept by its owner alone: to anyone else it does not exist.
 * Every change is audited.
 */
export class ReportLibrary {
  private readonly deps: ReportLibraryDependencies;

  constructor(deps: ReportLibraryDependencies) {
    this.deps = deps;
  }

  /** Seeds the starter phrases (idempotent, safe from several processes). */
  async seedPhrases(): Promise<void> {
    const now = new Date().toISOString();
    await this.deps.store.insertPhrases(STARTER_PHRASES.map((phrase) => ({ id: phrase.id, scope: 'system', institution_id: null, owner: null, group_name: phrase.group, trigger: phrase.trigger ?? null, text: phrase.text, created_at: now, updated_at: now, updated_by: null })));
  }

  // ------------------------------------------------------------ templates

  async createTemplate(caller: Caller, input: TemplateInput): Promise<TemplateView> {
    const institutionId = this.targetInstitution(caller, input.scope, input.institutionId);
    const now = new Date().toISOString();
    const row: ReportTemplateTable = {
      id: randomUUID(),
      scope: input.scope,
      owner: input.scope === 'personal' ? caller.name : null,
      institution_id: institutionId,
      modality: input.modality.trim().toUpperCase(),
      body_part: input.bodyPart.trim().toUpperCase(),
      name: input.name.trim(),
      findings: input.findings,
      impression: input.impression,
      created_at: now,
      updated_at: now,
      updated_by: caller.name,
    };
    await this.deps.unitOfWork.run(async (tx) => {
      await tx.open(productivityStore).insertTemplate(row);
      tx.audit.record({ action: 'template.created', caller, objectType: 'template', objectId: row.id, details: { scope: row.scope, institutionId: row.institution_id, modality: row.modality, bodyPart: row.body_part, name: row.name } });
    });
    return templateView(row);
  }

  async updateTemplate(caller: Caller, id: string, input: Omit<TemplateInput, 'scope' | 'institutionId'>): Promise<TemplateView> {
    const row = await this.deps.store.findTemplate(id);
    this.requireKeeper(caller, row, `template ${id}`);
    const changes = { modality: input.modality.trim().toUpperCase(), body_part: input.bodyPart.trim().toUpperCase(), name: input.name.trim(), findings: input.findings, impression: input.impression, updated_at: new Date().toISOString(), updated_by: caller.name };
    await this.deps.unitOfWork.run(async (tx) => {
      if (!(await tx.open(productivityStore).updateTemplate(id, changes))) throw notFound(`template ${id}`);
      tx.audit.record({ action: 'template.updated', caller, objectType: 'template', objectId: id, details: { scope: row!.scope, institutionId: row!.institution_id, name: changes.name, before: { modality: row!.modality, bodyPart: row!.body_part, name: row!.name } } });
    });
    return templateView({ ...row!, ...changes });
  }

  async deleteTemplate(caller: Caller, id: string): Promise<void> {
    const row = await this.deps.store.findTemplate(id);
    this.requireKeeper(caller, row, `template ${id}`);
    await this.deps.unitOfWork.run(async (tx) => {
      if (!(await tx.open(productivityStore).deleteTemplate(id))) throw notFound(`template ${id}`);
      tx.audit.record({ action: 'template.deleted', caller, objectType: 'template', objectId: id, details: { scope: row!.scope, institutionId: row!.institution_id, name: row!.name } });
    });
  }

  // ------------------------------------------------------------ phrases

  /** The shared phrases, the caller's institution's and the caller's own, by group. */
  async phrases(caller: Caller, institutionId?: string): Promise<PhraseView[]> {
    // an administrator may list any institution's (they keep them); everyone else their own institution's
    const institution = institutionId && actsForEveryInstitution(caller) ? institutionId : caller.institutionId;
    return (await this.deps.store.listPhrases({ institutionId: institution, owner: caller.name })).map(phraseView);
  }

  async createPhrase(caller: Caller, input: PhraseInput): Promise<PhraseView> {
    const institutionId = this.targetInstitution(caller, input.scope, input.institutionId);
    const now = new Date().toISOString();
    const row: ReportPhraseTable = { id: randomUUID(), scope: input.scope, owner: input.scope === 'personal' ? caller.name : null, institution_id: institutionId, group_name: input.group.trim(), trigger: normaliseTrigger(input.trigger), text: input.text, created_at: now, updated_at: now, updated_by: caller.name };
    await this.deps.unitOfWork.run(async (tx) => {
      await tx.open(productivityStore).insertPhrases([row]);
      tx.audit.record({ action: 'phrase.created', caller, objectType: 'phrase', objectId: row.id, details: { scope: row.scope, institutionId: row.institution_id, group: row.group_name, trigger: row.trigger } });
    });
    return phraseView(row);
  }

  async updatePhrase(caller: Caller, id: string, input: Omit<PhraseInput, 'scope' | 'institutionId'>): Promise<PhraseView> {
    const row = await this.deps.store.findPhrase(id);
    this.requireKeeper(caller, row, `phrase ${id}`);
    const changes = { group_name: input.group.trim(), trigger: normaliseTrigger(input.trigger), text: input.text, updated_at: new Date().toISOString(), updated_by: caller.name };
    await this.deps.unitOfWork.run(async (tx) => {
      if (!(await tx.open(productivityStore).updatePhrase(id, changes))) throw notFound(`phrase ${id}`);
      tx.audit.record({ action: 'phrase.updated', caller, objectType: 'phrase', objectId: id, details: { scope: row!.scope, institutionId: row!.institution_id, group: changes.group_name, trigger: changes.trigger } });
    });
    return phraseView({ ...row!, ...changes });
  }

  async deletePhrase(caller: Caller, id: string): Promise<void> {
    const row = await this.deps.store.findPhrase(id);
    this.requireKeeper(caller, row, `phrase ${id}`);
    await this.deps.unitOfWork.run(async (tx) => {
      if (!(await tx.open(productivityStore).deletePhrase(id))) throw notFound(`phrase ${id}`);
      tx.audit.record({ action: 'phrase.deleted', caller, objectType: 'phrase', objectId: id, details: { scope: row!.scope, institutionId: row!.institution_id, group: row!.group_name } });
    });
  }

  // ------------------------------------------------------------ scope

  /** The institution a new entry belongs to; institution scope needs templates:manage. */
  private targetInstitution(caller: Caller, scope: LibraryScope, named: string | undefined): string {
    if (scope === 'institution' && !hasPermission(caller, 'templates:manage')) throw forbidden(`the role ${caller.role} may not keep the institution's templates and phrases (needs templates:manage)`);
    if (named && named !== caller.institutionId) {
      if (scope === 'personal' || !actsForEveryInstitution(caller)) throw forbidden('templates and phrases are kept for the own institution');
      return named;
    }
    return caller.institutionId;
  }

  /**
   * The caller may change this entry: 404 for what they cannot see (another's personal
   * entry, another institution's), 409 for the read-only starter set, 403 for an
   * institution's entry without templates:manage.
   */
  private requireKeeper(caller: Caller, row: Scoped | undefined, what: string): asserts row is Scoped {
    if (!row) throw notFound(what);
    const everywhere = actsForEveryInstitution(caller);
    if (row.scope === 'personal') {
      if (row.owner !== caller.name) throw notFound(what);
      return;
    }
    if (row.scope === 'institution') {
      if (row.institution_id !== caller.institutionId && !everywhere) throw notFound(what);
      if (!hasPermission(caller, 'templates:manage')) throw forbidden(`the role ${caller.role} may not change the institution's templates and phrases (needs templates:manage)`);
      return;
    }
    throw conflict('TEMPLATE_READ_ONLY', `${what} belongs to the starter set and cannot be changed; save a copy as your own`);
  }
}

function normaliseTrigger(trigger: string | null | undefined): string | null {
  const value = trigger?.trim().toLowerCase();
  return value ? value : null;
}

export function templateView(row: ReportTemplateTable): TemplateView {
  return { id: row.id, scope: row.scope, owner: row.owner, institutionId: row.institution_id, modality: row.modality, bodyPart: row.body_part, name: row.name, findings: row.findings, impression: row.impression, updatedAt: row.updated_at ?? row.created_at };
}

function phraseView(row: ReportPhraseTable): PhraseView {
  return { id: row.id, scope: row.scope, owner: row.owner, institutionId: row.institution_id, group: row.group_name, trigger: row.trigger, text: row.text, updatedAt: row.updated_at };
}
