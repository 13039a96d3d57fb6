// One lint config for the whole tree. The restricted-syntax rules keep time and randomness injectable:
// only src/core/clock.ts may read the wall clock or the random source.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const clockRules = {
  'no-restricted-syntax': [
    'error',
    {
      selector: "CallExpression[callee.object.name='Date'][callee.property.name='now']",
      message: 'Use the injected Clock (src/core/clock.ts) instead of Date.now().',
    },
    {
      selector: "NewExpression[callee.name='Date'][arguments.length=0]",
      message: 'Use the injected Clock (src/core/clock.ts) instead of new Date().',
    },
    {
      selector: "CallExpression[callee.object.name='Math'][callee.property.name='random']",
      message: 'Use the injected Random (src/core/clock.ts) instead of Math.random().',
    },
  ],
};

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['src/**/*.ts'],
    rules: {
      ...clockRules,
      'max-len': [
        'error',
        {
          code: 100,
          ignoreUrls: true,
          ignoreStrings: true,
          ignoreTemplateLiterals: true,
          ignoreRegExpLiterals: true,
        },
      ],
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
    },
  },
  {
    files: ['scripts/**/*.mjs', 'eslint.config.js'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } },
  },
  {
    files: ['src/core/clock.ts', 'src/**/*.test.ts', 'src/test-support/**', 'src/bench/**'],
    rules: { 'no-restricted-syntax': 'off' },
  },
);
