import { CrossTalkError, type CrossTalkErrorOptions } from '@crosstalk/core';

/**
 * Why a codec module named with `--codec` or in a config's `codecs` cannot be used; one class per
 * condition, each with a fixed `name` and `code` (see core's errors). `from` says where it was
 * named (`--codec`, `codecs.1 in gateway.json`).
 */

/** No file at the path, no installed package of that name, or a subpath the package does not export. */
export class CodecModuleNotFoundError extends CrossTalkError {
  override readonly name = 'CodecModuleNotFoundError';
  readonly code = 'ERR_CODEC_MODULE_NOT_FOUND';
  constructor(
    /** The module specifier as given: a package name or a path. */
    readonly specifier: string,
    /** Where it was named (`--codec`, `codecs.1 in gateway.json`). */
    readonly from: string,
    /** What was looked for and not found. */
    readonly reason: string,
  ) {
    super(`cannot load codec "${specifier}" (${from}): ${reason}`);
  }
}

/** The module threw while it loaded, or its factory threw. */
export class CodecModuleLoadError extends CrossTalkError {
  override readonly name = 'CodecModuleLoadError';
  readonly code = 'ERR_CODEC_MODULE_LOAD';
  constructor(
    /** The module specifier as given: a package name or a path. */
    readonly specifier: string,
    /** Where it was named (`--codec`, `codecs.1 in gateway.json`). */
    readonly from: string,
    options: CrossTalkErrorOptions & { cause: unknown },
  ) {
    const e = options.cause;
    const why = e instanceof Error ? e.message : String(e);
    super(`cannot load codec "${specifier}" (${from}): ${why.split('\n')[0]}`, options);
  }
}

/** The module loaded but exports no codec (nor a function returning one). */
export class NotACodecModuleError extends CrossTalkError {
  override readonly name = 'NotACodecModuleError';
  readonly code = 'ERR_NOT_A_CODEC_MODULE';
  constructor(
    /** The module specifier as given: a package name or a path. */
    readonly specifier: string,
    /** Where it was named (`--codec`, `codecs.1 in gateway.json`). */
    readonly from: string,
    reason: string,
  ) {
    super(
      `codec module "${specifier}" (${from}) exports no codec: its default export, or its export ` +
        `named "codec", must be a codec (made with defineCodec) or a function returning one; ${reason}`,
    );
  }
}

/** The module's codec has the protocol id of a codec already there (built in, or from another module). */
export class CodecClashError extends CrossTalkError {
  override readonly name = 'CodecClashError';
  readonly code = 'ERR_CODEC_CLASH';
  constructor(
    /** The module specifier as given: a package name or a path. */
    readonly specifier: string,
    /** Where it was named (`--codec`, `codecs.1 in gateway.json`). */
    readonly from: string,
    /** The protocol id both codecs have. */
    readonly protocol: string,
    /** The module that defined it first; undefined for a built-in codec. */
    readonly existing: string | undefined,
  ) {
    super(
      `codec module "${specifier}" (${from}) defines protocol "${protocol}", which ` +
        (existing === undefined
          ? `the built-in ${protocol} codec already has`
          : `"${existing}" already defines`),
    );
  }
}
