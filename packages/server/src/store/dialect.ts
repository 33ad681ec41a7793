/** The SQL dialects the index runs on. Its own module so that migrations.ts and database.ts need not import each other. */
export type SqlDialectName = 'sqlite' | 'postgres';
