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
