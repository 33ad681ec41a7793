import { sql, type Kysely } from 'kysely';
import { ROLES } from '../access/role-names.ts';
import { serviceKey, type YunyingModule } from '../modules/module.ts';
import { IngestCompressionSettings, registerIngestCompressionRoutes } from './ingest-compression.ts';
import { registerSettingsRoutes } from './settings-routes.ts';
import { SettingsService } from './settings-service.ts';
import { openSettingsStore } from './settings-store.ts';

declare module '../access/permissions.ts' {
  interface ModulePermissions {
    'settings:read': true;
  }
}

/** The administrator's settings, for the modules listed after this one (reading: the SLA). */
export const SETTINGS = serviceKey<SettingsService>('settings');

/** People's roles read the settings (pick lists, SLA); device accounts have no forms to fill. */
const PEOPLE = ROLES.filter((role) => role !== 'gateway' && role !== 'modality');

/** Administrator settings (issue 14, item 11): pick lists and the reading SLA, kept in admin_settings; compression on ingest (issue 15). */
export const settingsModule: YunyingModule = {
  name: 'settings',
  permissions: [{ name: 'settings:read', zh: '读取管理员设置（设备类型与检查部位选择列表、诊断时限）', en: 'read the administrator’s settings (modality and body-part pick lists, reading SLA)', roles: PEOPLE }],
  migrations: {
    '0018-admin-settings': {
      async up(db: Kysely<unknown>) {
        await db.schema
          .createTable('admin_settings')
          .addColumn('scope', 'text', (column) => column.notNull())
          .addColumn('name', 'text', (column) => column.notNull())
          .addColumn('value', 'text', (column) => column.notNull())
          .addColumn('updated_at', 'text', (column) => column.notNull())
          .addColumn('updated_by', 'text', (column) => column.notNull())
          .addPrimaryKeyConstraint('admin_settings_pk', ['scope', 'name'])
          .execute();
      },
      async down(db: Kysely<unknown>) {
        await sql`drop table if exists admin_settings`.execute(db);
      },
    },
  },
  async register({ http, archive, config, callers, services }) {
    const settings = new SettingsService({ store: archive.stores.open(openSettingsStore), access: archive.accessStore, unitOfWork: archive.unitOfWork }, { sla: config.slaMinutes });
    services.provide(SETTINGS, settings);
    await registerSettingsRoutes(http, { settings, resolveCaller: callers.rest });
    // compression on ingest (issue 15 item 1): off unless an administrator chooses it per institution
    const ingestCompression = new IngestCompressionSettings({ store: archive.stores.open(openSettingsStore), access: archive.accessStore, unitOfWork: archive.unitOfWork });
    archive.setIngestCompression(ingestCompression);
    await registerIngestCompressionRoutes(http, { settings: ingestCompression, resolveCaller: callers.rest });
  },
};
