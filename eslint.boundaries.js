// @ts-check
/**
 * Which package may use which, by the Nx tags in each package.json (`nx.tags`): the rule
 * `@nx/enforce-module-boundaries` in eslint.config.js applies these, and tests/architecture checks them on a
 * deliberate violation.
 *
 * - `type:app` (hub, task-processor, cli) uses libraries only: apps never import apps.
 * - `type:lib` uses libraries only: never an app, never the test kit.
 * - `type:testkit` (dev servers and test helpers) uses nothing of ours, so every package's tests can use it
 *   without a cycle.
 * - scopes: each app uses the shared libraries and its own; shared libraries use shared ones only.
 * - tests (`*.test.ts`, test-support files) may also use the test kit.
 *
 * @param {{ tests: boolean }} opts
 */
export function depConstraints({ tests }) {
  const testkit = tests ? ['type:testkit'] : [];
  const devScope = tests ? ['scope:dev'] : [];
  return [
    { sourceTag: 'type:app', onlyDependOnLibsWithTags: ['type:lib', ...testkit] },
    { sourceTag: 'type:lib', onlyDependOnLibsWithTags: ['type:lib', ...testkit] },
    { sourceTag: 'type:testkit', onlyDependOnLibsWithTags: [] },
    { sourceTag: 'scope:shared', onlyDependOnLibsWithTags: ['scope:shared', ...devScope] },
    { sourceTag: 'scope:hub', onlyDependOnLibsWithTags: ['scope:hub', 'scope:shared', ...devScope] },
    { sourceTag: 'scope:processor', onlyDependOnLibsWithTags: ['scope:processor', 'scope:shared', ...devScope] },
    { sourceTag: 'scope:cli', onlyDependOnLibsWithTags: ['scope:cli', 'scope:shared', ...devScope] },
    { sourceTag: 'scope:dev', onlyDependOnLibsWithTags: [] },
  ];
}
