#!/usr/bin/env node
import { main } from './program.js';

// A reader that stops early (`crosstalk decode ... | head`) closes the pipe; like other Unix tools,
// stop quietly instead of dying on the unhandled EPIPE.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
