import type { Kysely } from 'kysely';
import type { StoreOpener } from '../store/store-opener.ts';

/**
 * The administrator's settings (migration 0018-admin-settings): one JSON value per scope and
 * name. The scope is an institution id, or PLATFORM_SCOPE for the platform-wide value
 * (an institution id starts with a letter or digit, so it can never be '*').
 * Generic on purpose: other features keep their settings here under their own names.
 */
export interface SettingsTables {
  admin_settings: { scope: string; name: string; value: string; updated_at: string; updated_by: string };
}

export const PLATFORM_SCOPE = '*';

export interface SettingRow {
  scope: string;
  name: string;
  value: unknown;
  updatedAt: string;
  updatedBy: string;
}

export interface SettingsStore {
  get(scope: string, name: string): Promise<SettingRow | undefined>;
  /** every scope's value of one setting */
  list(name: string): Promise<SettingRow[]>;
  put(scope: string, name: string, value: unknown, updatedBy: string): Promise<void>;
  remove(scope: string, name: string): Promise<boolean>;
}

type Row = SettingsTables['admin_settings'];
const toSetting = (row: Row): SettingRow => ({ scope: row.scope, name: row.name, value: JSON.parse(row.value) as unknown, updatedAt: row.updated_at, updatedBy: row.updated_by });

export const openSettingsStore: StoreOpener<SettingsStore, SettingsTables> = (db: Kysely<SettingsTables>) => ({
  async get(scope, name) {
    const row = await db.selectFrom('admin_settings').selectAll().where('scope', '=', scope).where('name', '=', name).executeTakeFirst();
    return row ? toSetting(row) : undefined;
  },
  async list(name) {
    return (await db.selectFrom('admin_settings').selectAll().where('name', '=', name).orderBy('scope').execute()).map(toSetting);
  },
  async put(scope, name, value, updatedBy) {
    const row: Row = { scope, name, value: JSON.stringify(value), updated_at: new Date().toISOString(), updated_by: updatedBy };
    await db
      .insertInto('admin_settings')
      .values(row)
      .onConflict((conflict) => conflict.columns(['scope', 'name']).doUpdateSet({ value: row.value, updated_at: row.updated_at, updated_by: row.updated_by }))
      .execute();
  },
  async remove(scope, name) {
    const result = await db.deleteFrom('admin_settings').where('scope', '=', scope).where('name', '=', name).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  },
});
