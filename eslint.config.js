// @ts-check
// ESLint: the recommended JavaScript rules and typescript-eslint's type-aware recommended rules
// for the TypeScript, the same without type information for the plain JavaScript, and
// eslint-config-prettier last so that nothing here argues with Prettier about layout.
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import { defineConfig, globalIgnores } from 'eslint/config';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default defineConfig(
  globalIgnores(['dist/', 'node_modules/', '.stack/', '.tap/', 'coverage/', 'bench/results/', 'examples/**/node_modules/', 'examples/**/dist/']),
  {
    files: ['pipeline/**/*.ts', 'operators/**/*.ts', 'sinks/**/*.ts', 'bench/**/*.ts', 'test/**/*.ts', 'examples/custom-chain/*.ts'],
    extends: [js.configs.recommended, tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: {
        // Each file is checked against the nearest tsconfig.json that includes it.
        projectService: true,
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/prefer-promise-reject-errors': [
        'error',
        {
          // The Kafka client's errors are Errors at runtime (util.inherits), but typed as a plain interface.
          allow: [{ from: 'package', package: '@confluentinc/kafka-javascript', name: 'LibrdKafkaError' }],
          // Passing on a reason we were handed (a caught error, an abort signal's reason) makes no new non-Error; as only-throw-error allows.
          allowThrowingAny: true,
          allowThrowingUnknown: true,
        },
      ],
      // A `_` name is a binding left unused on purpose (a for-of that only counts), as tsc's noUnusedLocals allows.
      '@typescript-eslint/no-unused-vars': ['error', { varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['test/**/*.ts'],
    rules: {
      // tap queues every subtest `t.test()` starts and reports its failure; the promise it returns is only for awaiting it.
      '@typescript-eslint/no-floating-promises': ['error', { allowForKnownSafeCalls: [{ from: 'package', package: '@tapjs/test', name: 'test' }] }],
      // tap ends a subtest when the promise its function returns settles (a plain function would need t.end()), so test functions are async with or without an await.
      '@typescript-eslint/require-await': 'off',
    },
  },
  {
    // The example imports docpipe by its package name, which its own tsconfig.json resolves only
    // once the packed tarball is installed next to it (test/package.test.ts does that). For lint,
    // tsconfig.examples.json maps those names to the sources instead.
    files: ['examples/custom-chain/*.ts'],
    languageOptions: {
      parserOptions: { projectService: false, project: './tsconfig.examples.json' },
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    extends: [js.configs.recommended, tseslint.configs.disableTypeChecked],
    languageOptions: { globals: globals.node },
  },
  prettier,
);
