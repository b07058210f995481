// ESLint 9 flat config: eslint's and typescript-eslint's recommended rules, plus the type-aware
// rules about promises. Those need the TypeScript program, so every linted file must belong to
// tsconfig.json. The strict no-unsafe-* family is left off: knex hands back `any` for raw
// results, and the stores narrow those by hand at one place each.
import eslint from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  // examples/quickstart is plain JavaScript, the README's first example, and test/support/nestjs-app.mjs
  // a plain-JavaScript Nest app: test/package-install runs both against the packed tarball.
  {
    ignores: [
      'dist/**',
      'test/orms/*.js',
      'node_modules/**',
      'coverage/**',
      'eslint.config.js',
      'examples/quickstart/**',
      'test/support/nestjs-app.mjs',
    ],
  },
  eslint.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      // A promise nobody awaits loses its rejection and its ordering: every one must be awaited,
      // returned, or marked `void` on purpose. node:test's test()/describe() are safe to float.
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['test', 'it', 'describe', 'suite', 'before', 'after'] }],
        },
      ],
      // An async function where a void callback is expected (an event handler, setTimeout) rejects into nowhere.
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/only-throw-error': 'error',
      // Passing on a caught `unknown` unchanged is fine; inventing a non-Error reason is not.
      '@typescript-eslint/prefer-promise-reject-errors': ['error', { allowThrowingUnknown: true }],
      // Prettier wraps code at 140; what it cannot wrap (a comment, a long string or template literal)
      // must not pass 140 either: split such a string into `+`-joined pieces that keep its exact text.
      // Only a URL, which cannot be split without breaking it, may run longer.
      'max-len': ['error', { code: 140, ignoreUrls: true }],
      // `_`-prefixed names are deliberately unused (a required parameter, a skipped tuple slot).
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
    },
  },
);
