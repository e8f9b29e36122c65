/**
 * A container HEALTHCHECK without curl: `node libs/service-kit/dist/health/probe-cli.js <url> [timeoutMs]` exits 0 when
 * the URL answers 2xx within the timeout (default 2000 ms), 1 otherwise, printing what it saw. The images run it
 * against the app's own `/health`.
 */
export async function probe(url: string, timeoutMs = 2000): Promise<{ ok: boolean; detail: string }> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    await res.arrayBuffer();
    return { ok: res.ok, detail: `${url} → ${res.status}` };
  } catch (err) {
    const e = err as Error & { cause?: { code?: string } };
    return { ok: false, detail: `${url} → ${e.cause?.code ?? e.name}: ${e.message}` };
  }
}

const invokedDirectly = process.argv[1] !== undefined && import.meta.url.endsWith(process.argv[1].replace(/\\/g, '/'));
if (invokedDirectly) {
  const [url, timeout] = process.argv.slice(2);
  if (!url || url === '--help') {
    console.error('usage: node probe-cli.js <url> [timeoutMs]   exits 0 on a 2xx answer, 1 otherwise');
    process.exit(url ? 0 : 2);
  }
  const { ok, detail } = await probe(url, timeout ? Number(timeout) : undefined);
  (ok ? console.log : console.error)(detail);
  process.exit(ok ? 0 : 1);
}
