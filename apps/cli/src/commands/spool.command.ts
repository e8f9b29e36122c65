import { inspectSpool, type SpoolReport } from '@telemetryhub/spool';
import { UsageError } from '../usage-error.js';

export const SPOOL_HELP = `  spool stats [--dir D]              what the hub's disk spool holds (pending tasks and bytes, segments, quarantine)
  spool validate [--dir D]           check every record's checksum; exit 1 if any is damaged or torn
                                     (D: default $SPOOL_DIR, else data/hub-spool; read-only, safe while the hub runs)`;

export async function spoolCommand(
  sub: string | undefined,
  dir: string,
  json: boolean,
  out: (line: string) => void,
): Promise<number> {
  if (sub !== 'stats' && sub !== 'validate') {
    throw new UsageError(sub ? `unknown spool command "${sub}"` : 'spool needs a command: stats or validate');
  }
  let report: SpoolReport;
  try {
    report = await inspectSpool(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT')
      throw new Error(`no spool at ${dir} (set --dir or SPOOL_DIR)`);
    throw err;
  }
  const damaged = report.segments.flatMap((s) => s.damage.map((d) => ({ file: s.file, ...d })));
  if (json) out(JSON.stringify(sub === 'stats' ? report : { dir, ok: damaged.length === 0, damaged }));
  else if (sub === 'stats') {
    out(`spool ${dir}: ${report.pendingRecords} tasks pending (${report.pendingBytes} bytes)`);
    out(`segments ${report.segments.length}, quarantined files ${report.quarantineFiles}`);
    out(report.lockedBy ? `in use by process ${report.lockedBy}` : 'not in use');
  } else {
    for (const d of damaged) out(`${d.file} @${d.offset}: ${d.length} bytes damaged (${d.reason})`);
    const records = report.segments.reduce((n, s) => n + s.records, 0);
    out(damaged.length ? `spool ${dir}: ${damaged.length} damaged ranges` : `spool ${dir}: ${records} records, all OK`);
  }
  return sub === 'validate' && damaged.length ? 1 : 0;
}
