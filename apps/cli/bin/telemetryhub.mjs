#!/usr/bin/env node
// In a checkout, run the TypeScript source through tsx (with the workspace's path aliases); in an install
// without tsx, the compiled dist/.
let main;
try {
  const { register } = await import('tsx/esm/api');
  register({ tsconfig: new URL('../../../tsconfig.json', import.meta.url).pathname });
  main = new URL('../src/main.ts', import.meta.url).href;
} catch {
  main = new URL('../dist/main.js', import.meta.url).href;
}
await import(main);
