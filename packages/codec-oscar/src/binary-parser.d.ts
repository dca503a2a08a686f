// binary-parser 2.x's exports map has no "types" condition for its ESM entry, so TypeScript with
// "moduleResolution": "Bundler" finds no declarations; point it at the ones the package ships.
declare module 'binary-parser' {
  export { Parser } from 'binary-parser/dist/binary_parser.js';
}
