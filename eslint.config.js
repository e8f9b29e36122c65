// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';
import nx from '@nx/eslint-plugin';
import { depConstraints } from './eslint.boundaries.js';

// The Nx rule reads the project graph; computing it in-process leaves no Nx daemon running after a lint.
process.env.NX_DAEMON ??= 'false';

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
    // Nothing below main.ts / config reads the environment (STYLE.md "Config").
    files: ['apps/*/src/**/*.ts'],
    ignores: ['apps/*/src/main.ts', 'apps/*/src/**/*.test.ts'],
    rules: {
      'no-restricted-properties': ['error', { object: 'process', property: 'env', message: 'read config in main.ts' }],
    },
  },
);
