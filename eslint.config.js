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
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/apps/*', '@telemetryhub/hub', '@telemetryhub/task-processor'],
              message: 'apps never import apps',
            },
          ],
        },
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
