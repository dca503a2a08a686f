import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { type Codec, CodecRegistry, isCodec } from '@crosstalk/core';
import {
  CodecClashError,
  CodecModuleLoadError,
  CodecModuleNotFoundError,
  NotACodecModuleError,
} from '../errors/errors.js';
import { resolveCodecModule, UnresolvedSpecifier } from './resolve.js';

/**
 * Third-party codecs, loaded by package name or path. A codec module exports its codec as the
 * default export or as an export named `codec` (checked in that order: `codec` first), either the
 * codec itself (what `defineCodec` returns) or a function that returns one (or a promise of one),
 * called with no arguments. ESM and CommonJS both load (through `import()`): a CommonJS module
 * sets `module.exports = codec` (or a factory), or `exports.codec = codec`. The check is core's
 * `isCodec`, a process-wide brand, so a codec built with another copy of `@crosstalk/core` (the
 * module's own, or its CommonJS build) is recognised too.
 */

export interface LoadOptions {
  /** Where package names and relative paths are resolved from (default: `process.cwd()`). */
  cwd?: string;
  /** Where the specifier was named, for error messages (`--codec`, `codecs.1 in gateway.json`). */
  from?: string;
}

/** A codec loaded from a module, with where it came from. */
export interface LoadedCodec {
  /** The module's codec (its factory already called). */
  codec: Codec;
  /** The specifier as given. */
  specifier: string;
  /** The file it resolved to. */
  file: string;
}

/** Loads one codec module; throws one of the CLI's typed errors saying what is wrong with it. */
export async function loadCodecModule(specifier: string, options: LoadOptions = {}): Promise<LoadedCodec> {
  const from = options.from ?? '--codec';
  const file = resolveFile(specifier, options.cwd ?? process.cwd(), from);
  return {
    codec: await codecOf(await importModule(specifier, file, from), specifier, from),
    specifier,
    file,
  };
}

function resolveFile(specifier: string, cwd: string, from: string): string {
  try {
    return resolveCodecModule(specifier, cwd);
  } catch (error) {
    if (error instanceof UnresolvedSpecifier)
      throw new CodecModuleNotFoundError(specifier, from, error.message);
    throw error;
  }
}

async function importModule(specifier: string, file: string, from: string): Promise<Record<string, unknown>> {
  try {
    return (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (cause) {
    throw new CodecModuleLoadError(specifier, from, { cause });
  }
}

/** The module's codec: `codec`, then the default export (and, for CommonJS, `module.exports.codec`). */
async function codecOf(namespace: Record<string, unknown>, specifier: string, from: string): Promise<Codec> {
  const fallback = namespace.default as Record<string, unknown> | undefined;
  const candidates = [
    namespace.codec,
    namespace.default,
    // CommonJS seen through import(): `default` is module.exports, so `exports.codec` and a
    // compiled `exports.default` are one level down.
    typeof fallback === 'object' && fallback !== null ? fallback.codec : undefined,
    typeof fallback === 'object' && fallback !== null ? fallback.default : undefined,
  ];
  for (const candidate of candidates) {
    if (isCodec(candidate)) return candidate;
    if (typeof candidate !== 'function') continue;
    let made: unknown;
    try {
      made = await (candidate as () => unknown)();
    } catch (cause) {
      throw new CodecModuleLoadError(specifier, from, { cause });
    }
    if (isCodec(made)) return made;
    throw new NotACodecModuleError(specifier, from, `its exported function returned ${describeValue(made)}`);
  }
  const names = Object.keys(namespace).sort();
  throw new NotACodecModuleError(specifier, from, `it exports: ${names.join(', ') || 'nothing'}`);
}

function describeValue(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (typeof value === 'object') return `an object with ${Object.keys(value).join(', ') || 'no keys'}`;
  return `a ${typeof value}`;
}

/**
 * A command's codecs: the built-in ones (or a registry given to the CLI) and those loaded from
 * modules, each module's codec checked against the protocols already there. Remembers which
 * module each third-party protocol came from, for `crosstalk protocols` and the gateway's banner.
 */
export class CodecSet {
  /** Every codec of the set, built-in and loaded: what the command decodes and proxies with. */
  readonly registry: CodecRegistry;
  readonly #base: ReadonlySet<string>;
  /** protocol -> the specifier its module was named by. */
  readonly #modules = new Map<string, string>();
  /** resolved file -> protocol, so one module named twice loads once. */
  readonly #files = new Map<string, string>();
  readonly #cwd: string;

  constructor(base: CodecRegistry, options: { cwd?: string } = {}) {
    this.registry = new CodecRegistry(base.list());
    this.#base = new Set(base.protocols());
    this.#cwd = options.cwd ?? process.cwd();
  }

  /** Loads a codec module and registers its codec; returns its protocol. */
  async load(specifier: string, from = '--codec'): Promise<string> {
    // By its real path: Node loads a module once through symlinks (npm links, workspaces) too.
    const file = realpathSync(resolveFile(specifier, this.#cwd, from));
    const known = this.#files.get(file);
    if (known !== undefined) return known;
    const codec = await codecOf(await importModule(specifier, file, from), specifier, from);
    if (this.registry.has(codec.protocol)) {
      const existing = this.#base.has(codec.protocol) ? undefined : this.#modules.get(codec.protocol);
      throw new CodecClashError(specifier, from, codec.protocol, existing);
    }
    this.registry.register(codec);
    this.#modules.set(codec.protocol, specifier);
    this.#files.set(file, codec.protocol);
    return codec.protocol;
  }

  /** Loads each of `specifiers` in order (all named by `from`). */
  async loadAll(specifiers: readonly string[] = [], from = '--codec'): Promise<this> {
    for (const s of specifiers) await this.load(s, from);
    return this;
  }

  /** The third-party protocols, each with the specifier of its module. */
  get modules(): ReadonlyMap<string, string> {
    return this.#modules;
  }
}
