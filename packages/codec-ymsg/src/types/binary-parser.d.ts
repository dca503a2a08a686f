// binary-parser 2.3 ships its types beside the CommonJS build only; its ESM entry has none under
// TypeScript's "Bundler" resolution, so point the module at the shipped declarations.
declare module 'binary-parser' {
  export { Parser } from 'binary-parser/dist/binary_parser.js';
}
