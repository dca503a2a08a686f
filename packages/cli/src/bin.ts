#!/usr/bin/env node
import { processIo } from './io.js';
import { main } from './program.js';

// A reader that stops early (`crosstalk decode ... | head`) closes the pipe; like other Unix tools,
// stop quietly instead of dying on the unhandled EPIPE.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});

// The executable itself, so that `crosstalk gateway` can start its workers with it.
const program = { exec: process.argv[1]!, args: process.argv.slice(2), execArgv: process.execArgv };
main(process.argv.slice(2), { ...processIo(), program }).then((code) => {
  process.exitCode = code;
});
