import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CORE_PERMISSIONS, definePermissions, permissionCatalog, roleHasPermission, ROLE_PERMISSIONS, type Permission } from './permissions.ts';
import { ROLES } from './role-names.ts';

declare module './permissions.ts' {
  interface ModulePermissions {
    'test:grade': true;
  }
}

test('every role of the table holds only catalog permissions, and every permission has its zh and en text', () => {
  for (const role of ROLES) for (const permission of ROLE_PERMISSIONS[role]) assert.ok(Object.hasOwn(CORE_PERMISSIONS, permission), `${role}: ${permission}`);
  for (const declaration of permissionCatalog()) assert.ok(declaration.zh && declaration.en, declaration.name);
});

test('a module declares its own permission with the roles that hold it', () => {
  const grade = { name: 'test:grade' as Permission, zh: '评分', en: 'grade', roles: ['qc-officer'] as const };
  assert.equal(roleHasPermission('qc-officer', 'test:grade'), false);
  definePermissions([grade]);
  definePermissions([{ ...grade }]); // the same again (a second server in one process)
  assert.equal(roleHasPermission('qc-officer', 'test:grade'), true);
  assert.equal(roleHasPermission('radiologist', 'test:grade'), false);
  assert.ok(permissionCatalog().some((declaration) => declaration.name === 'test:grade'));
  assert.throws(() => definePermissions([{ ...grade, roles: ['radiologist'] }]), /declared twice/);
  assert.throws(() => definePermissions([{ name: 'report:sign', zh: '签发', en: 'sign' }]), /core permission/);
});
