import { defineConfig, type Options } from 'tsup';

/** One build recipe for every package: ESM + CJS + declarations, Node 20 target. */
export function packageBuild(entry: Record<string, string>, extra: Partial<Options> = {}) {
  return defineConfig({
    entry,
    format: ['esm', 'cjs'],
    dts: true,
    clean: true,
    sourcemap: true,
    target: 'node20',
    splitting: false,
    // esbuild's own tree shaking; tsup's extra rollup pass (`treeshake: true`) only warned about
    // imports it dropped ("imported but never used") on every build, for no smaller output.
    treeshake: false,
    ...extra,
  });
}
