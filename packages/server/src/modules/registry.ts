/**
 * Puts the listed modules together: one set of migrations with the core list, one list of
 * permissions, their routes and services registered in list order, their feed consumers.
 */
import type { SqlDialectName } from '../store/database.ts';
import type { MigrationSet, ModuleConsumer, ModuleContext, PermissionDeclaration, ServiceKey, ServiceRegistry, YunyingModule } from './module.ts';

/** Two modules with one name would be two registrations of one folder. */
export function checkModuleList(modules: readonly YunyingModule[]): void {
  const seen = new Set<string>();
  for (const module of modules) {
    if (seen.has(module.name)) throw new Error(`module ${module.name} is listed twice`);
    seen.add(module.name);
  }
}

/**
 * The modules' migrations for one dialect, to run with the core list (store/database.ts
 * merges them and refuses a name given twice). A name two modules share is an error here,
 * naming both.
 */
export function moduleMigrations(modules: readonly YunyingModule[]): (dialect: SqlDialectName) => MigrationSet {
  return (dialect) => {
    const merged: Record<string, MigrationSet[string]> = {};
    const owner = new Map<string, string>();
    for (const module of modules) {
      const own = typeof module.migrations === 'function' ? module.migrations(dialect) : (module.migrations ?? {});
      for (const [name, migration] of Object.entries(own)) {
        const previous = owner.get(name);
        if (previous) throw new Error(`migration ${name} is declared by modules ${previous} and ${module.name}`);
        owner.set(name, module.name);
        merged[name] = migration;
      }
    }
    return merged;
  };
}

/** Every module's permissions, each once: a name two modules declare is an error. */
export function modulePermissions(modules: readonly YunyingModule[]): PermissionDeclaration[] {
  const owner = new Map<string, string>();
  const all: PermissionDeclaration[] = [];
  for (const module of modules) {
    for (const permission of module.permissions ?? []) {
      const previous = owner.get(permission.name);
      if (previous) throw new Error(`permission ${permission.name} is declared by modules ${previous} and ${module.name}`);
      owner.set(permission.name, module.name);
      all.push(permission);
    }
  }
  return all;
}

/** Services by key: a module gets only what a module listed before it provided. */
export function createServiceRegistry(): ServiceRegistry {
  const services = new Map<string, unknown>();
  return {
    provide<T>(key: ServiceKey<T>, service: T) {
      if (services.has(key.name)) throw new Error(`service ${key.name} is provided twice`);
      services.set(key.name, service);
    },
    get<T>(key: ServiceKey<T>): T {
      if (!services.has(key.name)) throw new Error(`service ${key.name} is not provided: its module is missing from the list or listed after the module that needs it`);
      return services.get(key.name) as T;
    },
    has: (key) => services.has(key.name),
  };
}

/**
 * Registers the modules in list order (routes, services), then collects their feed
 * consumers, once every service they may use exists. A consumer group is one cursor, so
 * two consumers with one group name are an error.
 */
export async function registerModules(modules: readonly YunyingModule[], ctx: ModuleContext): Promise<ModuleConsumer[]> {
  checkModuleList(modules);
  for (const module of modules) await module.register?.(ctx);
  const consumers = modules.flatMap((module) => module.consumers?.(ctx) ?? []);
  const groups = new Set<string>();
  for (const consumer of consumers) {
    if (groups.has(consumer.group)) throw new Error(`feed consumer group ${consumer.group} is registered twice`);
    groups.add(consumer.group);
  }
  return consumers;
}
