import { defineConfig } from 'tsup';

// ESM + CJS + declarations for Node 20, as any package built with tsup.
export default defineConfig({
  entry: { index: 'src/index.ts' },
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  sourcemap: true,
  target: 'node20',
});
