// Flat ESLint config: typescript-eslint with type information, plus the architecture rule that
// keeps the session core free of Nest, Express and store clients.
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'libs/session/dist/**', 'node_modules/**', 'coverage/**', '**/*.js', '**/*.mjs', '**/*.cjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      globals: { ...globals.node, ...globals.jest },
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports', disallowTypeAnnotations: false }],
      '@typescript-eslint/no-explicit-any': 'error',
      eqeqeq: ['error', 'always', { null: 'ignore' }],
    },
  },
  {
    files: ['libs/session/src/core/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [
          { group: ['@nestjs/*', 'express', 'express/*', 'fastify', 'redis', 'ioredis', 'pg', 'mysql2', 'mysql2/*', 'memjs'], message: 'core/ is framework- and client-free: move Nest/Express/store code to nest/ or stores/.' },
          { group: ['../nest/*', '../stores/*'], message: 'core/ must not depend on nest/ or stores/.' },
        ],
      }],
    },
  },
  {
    files: ['libs/session/src/stores/**/*.ts'],
    rules: {
      // Store clients are optional peer dependencies: only their types may be imported.
      '@typescript-eslint/no-restricted-imports': ['error', {
        paths: ['redis', 'ioredis', 'pg', 'mysql2', 'mysql2/promise', 'memjs'].map((name) => ({
          name, allowTypeImports: true, message: 'Store clients are optional peers: import their types only.',
        })),
      }],
    },
  },
  {
    files: ['**/*.spec.ts', '**/*.e2e-spec.ts', 'test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/unbound-method': 'off',
      '@typescript-eslint/require-await': 'off',
    },
  },
);
