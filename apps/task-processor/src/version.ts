import { packageVersion } from '@telemetryhub/common';

export const VERSION = packageVersion(new URL('../package.json', import.meta.url));
