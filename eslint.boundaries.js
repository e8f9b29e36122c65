// @ts-check
/**
 * Which package may use which, by the Nx tags in each package.json (`nx.tags`): the rule
 * `@nx/enforce-module-boundaries` in eslint.config.js applies these, and tests/architecture checks them on a
 * deliberate violation.
 *
 * - `type:app` (hub, task-processor, cli) uses libraries only: apps never import apps.
 * - `type:lib` uses libraries only: never an app, never the test kit.
 * - `type:testkit` (dev servers and test helpers) uses nothing of ours, so every package's tests can use it
 *   without a cycle.
 * - scopes: each app uses the shared libraries and its own; shared libraries use shared ones only.
 * - tests (`*.test.ts`, test-support files) may also use the test kit.
 *
 * @param {{ tests: boolean }} opts
 */
export function depConstraints({ tests }) {
  const testkit = tests ? ['type:testkit'] : [];
  const devScope = tests ? ['scope:dev'] : [];
  return [
    { sourceTag: 'type:app', onlyDependOnLibsWithTags: ['type:lib', ...testkit] },
    { sourceTag: 'type:lib', onlyDependOnLibsWithTags: ['type:lib', ...testkit] },
    { sourceTag: 'type:testkit', onlyDependOnLibsWithTags: [] },
    { sourceTag: 'scope:shared', onlyDependOnLibsWithTags: ['scope:shared', ...devScope] },
    { sourceTag: 'scope:hub', onlyDependOnLibsWithTags: ['scope:hub', 'scope:shared', ...devScope] },
    { sourceTag: 'scope:processor', onlyDependOnLibsWithTags: ['scope:processor', 'scope:shared', ...devScope] },
    { sourceTag: 'scope:cli', onlyDependOnLibsWithTags: ['scope:cli', 'scope:shared', ...devScope] },
    { sourceTag: 'scope:dev', onlyDependOnLibsWithTags: [] },
  ];
}

/**
 * The task-processor's folders, lowest first: a folder may import the folders before it, never one after it, nor
 * the composition files at the top (main.ts, build.ts, app.ts, config.ts, version.ts). So the graph is one-way by
 * construction; tests/architecture checks that every folder is listed. The hub's follow the same rule.
 */
export const PROCESSOR_LAYERS = [
  'domain', // the task and its readings as every stage sees them
  'metrics', // the processor's Prometheus metrics
  'privacy', // device pseudonymisation
  'store', // PostgreSQL: pool, partitions, raw readings, rollups, latest values
  'stats', // per-batch statistics and their table
  'alerts', // threshold rules, alert table, rules file, webhooks
  'outliers', // the outlier detector and its state
  'late', // event-time watermarks: which readings are late corrections
  'expired', // readings older than the expiry horizon: set aside whole, listed, replayed
  'devices', // device rows and metadata
  'fold', // rollups, outliers and devices folded once per interval
  'decode', // envelope and payload decoding, in worker threads
  'handlers', // what each task type does with its readings
  'consume', // the queue consumer: fetch, decode, handle, settle
  'api', // the query, expired-readings and dead-letter HTTP routes
];

/** The hub's folders, lowest first, by the same rule. */
export const HUB_LAYERS = [
  'metrics', // the hub's Prometheus metrics
  'spool', // the hub's use of the segment log: tasks kept on disk while Redis is away
  'buffer', // the bounded ring buffer of readings
  'control', // device states and the /status /start /stop /reset control
  'drivers', // serial, I2C and simulated sensors
  'ingest', // HTTP and MQTT ingest
  'publish', // batches to Redis, to the spool when Redis is away, and back
];

/** The files at the top of each app's src/: they compose the folders and nothing imports them. */
export const COMPOSITION_FILES = ['main', 'build', 'app', 'config', 'version'];

/**
 * One ESLint config block per layer of `layers` under `srcDir`, forbidding imports of later layers and of the
 * composition files (tests are exempt: a test may wire several layers together).
 *
 * @param {string} srcDir
 * @param {string[]} layers
 * @param {string[]} compositionFiles
 */
export function layerRules(srcDir, layers, compositionFiles) {
  return layers.map((layer, i) => {
    const later = layers.slice(i + 1);
    const patterns = [
      {
        regex: `^(\\.\\./)+(${compositionFiles.join('|')})\\.js$`,
        message: `${layer}/ is below the composition (main, app, config): pass what it needs in`,
      },
    ];
    if (later.length) {
      patterns.push({
        regex: `^(\\.\\./)+(${later.join('|')})/`,
        message: `${layer}/ may import only the folders before it: ${layers.slice(0, i).join(', ') || 'none'} (eslint.boundaries.js)`,
      });
    }
    return {
      files: [`${srcDir}/${layer}/**/*.ts`],
      ignores: ['**/*.test.ts', '**/*.test-support.ts'],
      rules: { 'no-restricted-imports': ['error', { patterns }] },
    };
  });
}
