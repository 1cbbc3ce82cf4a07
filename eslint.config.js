// ESLint flat config: typescript-eslint's recommended rules over src, test, bench and demo, and the
// import directions between the folders of src/ (docs/layers.md says why each is allowed).
//
// The boundary rule is eslint-plugin-boundaries: it classifies every file of src/ into an element
// (a folder or a file) and checks each import against an allow-list, so a new folder or an import
// nobody allowed fails lint (default: disallow). import-x's `no-restricted-paths` and core
// `no-restricted-imports` are deny-lists, which a new crossing passes silently; boundaries is built
// for exactly this job and is maintained (v7, 2026). eslint-import-resolver-typescript maps the
// `./x.js` specifiers of NodeNext ESM to the `.ts` files, so every relative import is resolved.
import tseslint from 'typescript-eslint'
import boundaries from 'eslint-plugin-boundaries'

/** The layers of src/ that are folders (every file below the folder belongs to it). */
export const ELEMENTS = [
  { type: 'domain', pattern: 'src/domain', partialMatch: false },
  { type: 'util', pattern: 'src/util', partialMatch: false },
  { type: 'log', pattern: 'src/log', partialMatch: false },
  { type: 'metrics', pattern: 'src/metrics', partialMatch: false },
  { type: 'admission', pattern: 'src/admission', partialMatch: false },
  { type: 'facts', pattern: 'src/facts', partialMatch: false },
  { type: 'policy', pattern: 'src/policy', partialMatch: false },
  { type: 'http', pattern: 'src/http', partialMatch: false },
  { type: 'tls', pattern: 'src/tls', partialMatch: false },
  { type: 'config', pattern: 'src/config', partialMatch: false },
  { type: 'drift', pattern: 'src/drift', partialMatch: false },
  { type: 'commands', pattern: 'src/commands', partialMatch: false },
]
/** Layers that are one file, and the sequencer's steps (files inside a folder layer). */
export const FILES = [
  { category: 'gather', pattern: 'src/facts/gather.ts' },
  { category: 'decide', pattern: 'src/policy/decide.ts' },
  { category: 'patch', pattern: 'src/admission/patch.ts' },
  { category: 'pipeline', pattern: 'src/pipeline.ts' },
  { category: 'cli', pattern: 'src/cli.ts' },
  { category: 'errors', pattern: 'src/errors.ts' },
]

/** Leaves every layer may use: shared types, coded errors, small utilities. */
const BASE = ['domain', 'errors', 'util']

/**
 * Who may import whom: an import between two layers not allowed here is an error. Kept in step with
 * docs/layers.md. Imports inside one folder are not checked.
 */
export const ALLOWED = {
  domain: [],
  errors: [],
  util: ['errors'],
  log: [],
  metrics: [],
  admission: [...BASE],
  facts: [...BASE],
  policy: [...BASE],
  pipeline: [...BASE, 'admission', 'facts', 'policy', 'log'],
  http: [...BASE, 'admission', 'pipeline', 'metrics'],
  tls: [...BASE],
  config: [...BASE, 'facts'],
  drift: [...BASE, 'facts', 'pipeline', 'metrics'],
  commands: [...BASE, 'admission', 'facts', 'policy', 'pipeline', 'http', 'tls', 'config', 'log', 'metrics', 'drift'],
  cli: [...BASE, 'commands'],
}

/** The steps of the one sequence: only src/pipeline.ts runs them (so `check` cannot repeat it). */
export const STEPS = ['gather', 'decide', 'patch']

const CATEGORIES = new Set(FILES.map((f) => f.category))
const layer = (name) => (CATEGORIES.has(name) ? { file: { categories: name } } : { element: { type: name } })

export const boundaryRules = {
  'boundaries/dependencies': [
    'error',
    {
      default: 'disallow',
      // Later policies win over earlier ones.
      policies: [
        ...Object.entries(ALLOWED).map(([from, allow]) => ({ from: layer(from), allow: allow.map((to) => ({ to: layer(to) })) })),
        { disallow: STEPS.map((to) => ({ to: layer(to) })), message: 'only src/pipeline.ts runs the steps gather -> decide -> patch' },
        { from: layer('pipeline'), allow: STEPS.map((to) => ({ to: layer(to) })) },
      ],
    },
  ],
  // Every file of src/ belongs to a layer above.
  'boundaries/no-unknown-files': 'error',
}

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.tap/**', 'coverage/**', 'bench/results/**', 'test/fixtures/**', 'charts/**'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      // `_`-prefixed names are deliberately unused (callbacks with a fixed signature).
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      '@typescript-eslint/no-unused-expressions': ['error', { allowTernary: true }],
      // `declare namespace Tap { type Test = ... }` names tap's Test type in test files.
      '@typescript-eslint/no-namespace': ['error', { allowDeclarations: true }],
    },
  },
  {
    // Tests and benchmarks probe untyped JSON (AdmissionReviews, registry and apiserver answers).
    files: ['test/**/*.ts', 'bench/**/*.ts', 'demo/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    // Only the composition root touches `process` (env, argv, signals, exit).
    files: ['src/**/*.ts'],
    ignores: ['src/cli.ts'],
    rules: {
      'no-restricted-globals': ['error', { name: 'process', message: 'only src/cli.ts touches process: pass what you need as an argument' }],
      'no-restricted-imports': ['error', { paths: [{ name: 'node:process', message: 'only src/cli.ts touches process' }, { name: 'process', message: 'only src/cli.ts touches process' }] }],
    },
  },
  {
    files: ['src/**/*.ts'],
    plugins: { boundaries },
    settings: {
      'boundaries/elements': ELEMENTS,
      'boundaries/files': FILES,
      'boundaries/include': ['src/**/*.ts'],
      'import/resolver': { typescript: { project: './tsconfig.json' } },
    },
    rules: boundaryRules,
  },
)
