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

// The layering of ARCHITECTURE section 3: what each folder under src/ may import. Tests and the
// test support may import anything; cli, server and bench sit on top of everything.
const FOLDERS = [
  'core',
  'formats',
  'dictionary',
  'pipeline',
  'detect',
  'audit',
  'store',
  'sources',
  'resilience',
  'billing',
  'migration',
  'server',
  'cli',
  'simulator',
  'bench',
  'test-support',
  'report',
  'api',
];
const MAY_IMPORT = {
  core: [],
  formats: ['core'],
  dictionary: ['core'],
  detect: ['core'],
  audit: ['core'],
  store: ['core'],
  sources: ['core'],
  resilience: ['core'],
  billing: ['core'],
  pipeline: ['core', 'formats', 'dictionary', 'detect', 'audit'],
  migration: ['core', 'store', 'billing'],
  simulator: ['core', 'formats'],
  report: ['core'],
};

function layering(folder) {
  const forbidden = FOLDERS.filter((other) => other !== folder && !MAY_IMPORT[folder].includes(other));
  const allowed = MAY_IMPORT[folder].length === 0 ? 'nothing' : MAY_IMPORT[folder].join(', ');
  return {
    files: [`src/${folder}/**/*.ts`],
    ignores: ['src/**/*.test.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: `^(\\.\\./)+(${forbidden.join('|')})/`,
              message: `src/${folder}/ may import ${allowed} (ARCHITECTURE section 3).`,
            },
          ],
        },
      ],
    },
  };
}

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
  ...Object.keys(MAY_IMPORT).map(layering),
  {
    files: ['src/core/clock.ts', 'src/**/*.test.ts', 'src/test-support/**', 'src/bench/**'],
    rules: { 'no-restricted-syntax': 'off' },
  },
);
