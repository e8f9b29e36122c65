// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

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
    // Module boundaries: nothing in apps/ or libs/ imports an app (bench/ and tests/ measure apps from outside).
    files: ['apps/**/*.ts', 'libs/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              // A regex: gitignore-style groups do not match relative paths that start with '../'.
              regex: '(^|/)apps/|(^|/)(hub|task-processor|cli)/src/|^@telemetryhub/(hub|task-processor|cli)$',
              message: 'apps never import apps: move shared code to libs/',
            },
          ],
        },
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
