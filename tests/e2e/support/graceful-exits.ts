import assert from 'node:assert/strict';
import type { LocalPipeline } from '../../../scripts/local-pipeline.js';

/** Asserts that the hub and the processor of a stopped pipeline both drained and exited 0 on SIGTERM. */
export async function assertBothExitedCleanly(pipeline: Pick<LocalPipeline, 'hub' | 'processor'>): Promise<void> {
  const exits = await Promise.all([pipeline.hub.exitPromise, pipeline.processor.exitPromise]);
  assert.deepEqual(
    exits.map((e) => e.code),
    [0, 0],
    'both apps drained and exited 0 on SIGTERM',
  );
}
