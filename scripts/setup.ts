/**
 * `npm run setup`: installs the system programs the stack and the tests need (Debian packages redis-server,
 * redis-tools, postgresql when its server binaries are missing, mosquitto for the MQTT ingest tests and socat for the
 * serial driver's tests). Tests and `npm start` install on demand
 * too; CI runs this first so that the install happens once, not in several test files at the same time.
 */
import {
  MissingDependencyError,
  ensureMosquitto,
  ensurePostgresBinDir,
  ensureRedisServer,
  ensureSocat,
  findOnPath,
} from '@telemetryhub/testkit';

const say = (line: string) => console.log(`[setup] ${line}`);
try {
  say(`redis-server: ${ensureRedisServer(say)}`);
  say(`redis-cli: ${findOnPath('redis-cli') ?? 'missing (install redis-tools)'}`);
  say(`PostgreSQL server binaries: ${ensurePostgresBinDir(say)}`);
  say(`mosquitto (MQTT ingest tests): ${ensureMosquitto(say)}`);
  say(`socat (serial driver tests): ${ensureSocat(say)}`);
  say(
    `setpriv (stops servers with their parent): ${findOnPath('setpriv') ?? 'missing (util-linux); servers may outlive a killed parent'}`,
  );
} catch (err) {
  if (err instanceof MissingDependencyError) {
    console.error(`[setup] ${err.message}`);
    process.exit(2);
  }
  throw err;
}
