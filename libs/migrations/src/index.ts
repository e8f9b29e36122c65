export { loadMigrations, SQL_DIR, type Migration } from './migrations.js';
export { migrate, type MigrateOptions, type MigrateResult, type MigrationLog } from './migrate.js';
