// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';
import nx from '@nx/eslint-plugin';
import { COMPOSITION_FILES, HUB_LAYERS, PROCESSOR_LAYERS, depConstraints, layerRules } from './eslint.boundaries.js';

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', '.data/**', '.nx/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: globals.node },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      // An inner declaration hiding an outer one once made a cache silently receive nothing.
      '@typescript-eslint/no-shadow': 'error',
    },
  },
  {
    // Package boundaries by the Nx tags in each package.json (eslint.boundaries.js says which tag may use which).
    // The rule reads Nx's cached project graph and skips itself without one: `npm run lint` refreshes it first.
    files: ['apps/**/*.ts', 'libs/**/*.ts'],
    plugins: { '@nx': nx },
    rules: {
      '@nx/enforce-module-boundaries': [
        'error',
        { enforceBuildableLibDependency: false, depConstraints: depConstraints({ tests: false }) },
      ],
    },
  },
  {
    // Tests, and the helpers beside them, may also use the test kit.
    files: ['apps/**/*.test.ts', 'libs/**/*.test.ts', '**/*.test-support.ts'],
    plugins: { '@nx': nx },
    rules: {
      '@nx/enforce-module-boundaries': [
        'error',
        { enforceBuildableLibDependency: false, depConstraints: depConstraints({ tests: true }) },
      ],
    },
  },
  // Each app's folders form a one-way graph (eslint.boundaries.js lists them lowest first).
  ...layerRules('apps/task-processor/src', PROCESSOR_LAYERS, COMPOSITION_FILES),
  ...layerRules('apps/hub/src', HUB_LAYERS, COMPOSITION_FILES),
  {
    // The queue's drivers share types through driver.ts and task.ts, not through one another's internals.
    files: ['libs/queue/src/bullmq/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ regex: '(^|/)redis-list/', message: 'share it through ../driver.js or ../task.js' }] },
      ],
    },
  },
  {
    // Only main.ts reads the environment: everything below gets its settings passed in, so tests can set them.
    files: ['apps/*/src/**/*.ts'],
    ignores: ['apps/*/src/main.ts', 'apps/*/src/**/*.test.ts'],
    rules: {
      'no-restricted-properties': ['error', { object: 'process', property: 'env', message: 'read config in main.ts' }],
    },
  },
);
