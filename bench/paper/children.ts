import { type ChildProcess, fork } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSync } from 'esbuild';

/**
 * The benchmark's child processes (run.ts, and bench/extra-hop-matrix.ts). Children run the built
 * packages (build first), as a deployed gateway would. Their own scripts are bundled to plain
 * JavaScript first, so that no child carries a TypeScript loader (tsx runs its hooks on a thread of
 * its own, whose garbage collections took a core away from the processes under test on a 2-core
 * machine).
 */
const here = fileURLToPath(new URL('.', import.meta.url));
const buildDir = join(here, '..', '.build');

/** Bundles the child scripts into bench/.build. */
export function bundleChildren(): void {
  buildSync({
    entryPoints: [
      'load-process.ts',
      'servers-process.ts',
      'gateway-process.ts',
      'gateway-worker.ts',
      'dht-process.ts',
    ].map((f) => join(here, f)),
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    outdir: buildDir,
    outExtension: { '.js': '.mjs' },
    logLevel: 'error',
  });
}

/** Starts a bundled child script (`flags`: V8/Node flags, e.g. `--trace-gc`). */
export function child(file: string, flags: readonly string[] = []): ChildProcess {
  return fork(join(buildDir, file.replace(/\.ts$/, '.mjs')), [], {
    execArgv: [...flags],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
}
