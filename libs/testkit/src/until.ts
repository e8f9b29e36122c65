/**
 * Polls `cond` until it holds (a throw counts as "not yet"), for tests that wait on real servers and processes.
 * Rejects naming `what` when `timeoutMs` passes.
 */
export async function until(
  what: string,
  cond: () => boolean | Promise<boolean>,
  timeoutMs = 15_000,
  intervalMs = 25,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (
      await Promise.resolve()
        .then(cond)
        .catch(() => false)
    )
      return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
