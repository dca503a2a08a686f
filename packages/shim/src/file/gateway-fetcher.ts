import type { FileOfferEvent, G2gContact } from '@crosstalk/core';
import type { FileFetcher } from '@crosstalk/gateway';
import type { FileChannelTransport } from '../channel/file-channel.js';
import { NoRouteError } from '../errors/errors.js';
import { checkFileOffer } from './offer.js';
import { FILE_RECEIVER_DEFAULTS } from './receiver.js';
import { type FetchFileOptions, fetchFile } from './transfer.js';

/** Options of `gatewayFileFetcher`. */
export interface GatewayFileFetcherOptions
  extends Pick<FetchFileOptions, 'chunkSize' | 'window' | 'maxFileSize' | 'stallTimeout'> {
  /** Bytes fetched ahead of what the client took. Default: the window (1 MiB). */
  highWater?: number;
}

/**
 * A gateway's `FileFetcher` (`GatewayOptions.files`): the bytes of a file offered to one of its
 * users, fetched from the sender's node over a file stream of `channel` (the gateway's G2G
 * transport, wrapped in a `FileChannelTransport`), with the same chunks, hashes and credit as
 * `getFile`. The sender's node serves the gateway because the directory names it as the
 * recipient's. Fetching stays at most `highWater` bytes ahead of the client.
 */
export function gatewayFileFetcher(
  channel: () => FileChannelTransport | undefined,
  options: GatewayFileFetcherOptions = {},
): FileFetcher {
  const highWater = options.highWater ?? options.window ?? FILE_RECEIVER_DEFAULTS.window;
  return {
    fetch(offer: FileOfferEvent, peer: { id: string; contact: G2gContact }, signal: AbortSignal) {
      return fetchInto(channel, checkFileOffer(offer), peer, signal, options, highWater);
    },
  };
}

async function* fetchInto(
  channel: () => FileChannelTransport | undefined,
  offer: FileOfferEvent,
  peer: { id: string; contact: G2gContact },
  signal: AbortSignal,
  options: GatewayFileFetcherOptions,
  highWater: number,
): AsyncGenerator<Uint8Array> {
  const transport = channel();
  if (!transport) throw new NoRouteError('this gateway has no file channel');
  let stream: Awaited<ReturnType<FileChannelTransport['openFileStream']>>;
  try {
    stream = await transport.openFileStream(peer.id, peer.contact);
  } catch (error) {
    throw new NoRouteError(`the node of ${offer.from.user}@${offer.from.network} could not be reached`, {
      cause: error,
    });
  }
  // Chunks the fetch wrote and the client has not taken; the sink waits while they pass highWater.
  const queue: Uint8Array[] = [];
  let queued = 0;
  let wake: (() => void) | undefined;
  let drained: (() => void) | undefined;
  const poke = () => {
    wake?.();
    wake = undefined;
  };
  let offset = 0;
  let finished = false;
  let failure: unknown;
  const internal = new AbortController();
  const fetching = fetchFile(
    stream,
    offer,
    {
      get offset() {
        return offset;
      },
      write: async (chunk) => {
        queue.push(chunk);
        queued += chunk.length;
        offset += chunk.length;
        poke();
        while (queued > highWater && !internal.signal.aborted)
          await new Promise<void>((resolve) => {
            drained = resolve;
          });
      },
    },
    {
      signal: AbortSignal.any([signal, internal.signal]),
      ...(options.chunkSize === undefined ? {} : { chunkSize: options.chunkSize }),
      ...(options.window === undefined ? {} : { window: options.window }),
      ...(options.maxFileSize === undefined ? {} : { maxFileSize: options.maxFileSize }),
      ...(options.stallTimeout === undefined ? {} : { stallTimeout: options.stallTimeout }),
    },
  ).then(
    () => {
      finished = true;
      poke();
    },
    (error: unknown) => {
      failure = error;
      finished = true;
      poke();
    },
  );
  try {
    for (;;) {
      if (queue.length > 0) {
        const chunk = queue.shift()!;
        queued -= chunk.length;
        if (queued <= highWater) {
          drained?.();
          drained = undefined;
        }
        yield chunk;
        continue;
      }
      if (finished) {
        if (failure !== undefined) throw failure;
        return;
      }
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
    }
  } finally {
    // The consumer stopped early (or the fetch failed): stop fetching.
    if (!finished) {
      internal.abort();
      drained?.();
      await fetching;
    }
  }
}
