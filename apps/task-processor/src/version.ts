import { packageVersion } from '@telemetryhub/service-kit';

export const VERSION = packageVersion(new URL('../package.json', import.meta.url));
