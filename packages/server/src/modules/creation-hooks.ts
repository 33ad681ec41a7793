import type { Caller } from '../access/caller.ts';

/**
 * What later modules add to the creation of a record an earlier module owns (an order, a
 * reading request): the recognition module checks a resident ID given with it and answers
 * with the duplicate-exam warnings. The owning module runs `validate` before it writes
 * anything (a throw refuses the creation) and `after` once it committed; what `after`
 * returns joins the answer's fields. Registered through the owner's service key, as the
 * report documents take their supplements (reports/module.ts).
 */
export interface CreationHook<Facts> {
  validate?(facts: Facts): void;
  after(caller: Caller, facts: Facts): Promise<Record<string, unknown>>;
}

export class CreationHooks<Facts> {
  private readonly hooks: CreationHook<Facts>[] = [];

  add(hook: CreationHook<Facts>): void {
    this.hooks.push(hook);
  }

  validate(facts: Facts): void {
    for (const hook of this.hooks) hook.validate?.(facts);
  }

  async after(caller: Caller, facts: Facts): Promise<Record<string, unknown>> {
    const fields: Record<string, unknown> = {};
    for (const hook of this.hooks) Object.assign(fields, await hook.after(caller, facts));
    return fields;
  }
}

/** The facts of a created order or reading request that the hooks see. */
export interface ExamCreatedFacts {
  institutionId: string;
  studyInstanceUid: string;
  /** known for an order; a reading request's comes with its images */
  patient?: { patientId: string; issuerOfPatientId?: string; name?: string; sex?: string; birthDate?: string };
  nationalId?: string;
  modality?: string;
  bodyParts: readonly string[];
  examItems: readonly string[];
}
