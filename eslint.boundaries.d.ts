// Types of eslint.boundaries.js, for the tests that check the rules it defines (tests/architecture).
export declare const PROCESSOR_LAYERS: readonly string[];
export declare const HUB_LAYERS: readonly string[];
export declare const COMPOSITION_FILES: readonly string[];
export declare function depConstraints(opts: { tests: boolean }): object[];
export declare function layerRules(
  srcDir: string,
  layers: readonly string[],
  compositionFiles: readonly string[],
): object[];
