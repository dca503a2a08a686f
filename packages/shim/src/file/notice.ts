import { type FileOfferEvent, formatAddress } from '@crosstalk/core';

/** Characters in the `link` of `SendFileOptions` (a URL; browsers and servers agree on far less than 64 KiB). */
export const MAX_FILE_LINK = 2048;

/**
 * The IM a user gets instead of a file offer their protocol cannot carry (OSCAR, YMSG and MSNP
 * behind a gateway carry no canonical file offer): what the file is (name, size, SHA-256 to check
 * a copy against) and how to get it, a link when the sender gave one, else to ask the sender.
 */
export function fileNotice(offer: FileOfferEvent, link?: string): string {
  const from = formatAddress(offer.from);
  const what = [`${offer.size.toLocaleString('en-US')} bytes`];
  if (offer.mediaType !== undefined) what.push(offer.mediaType);
  if (offer.sha256 !== undefined) what.push(`SHA-256 ${offer.sha256}`);
  const how =
    link === undefined
      ? `reply to ${from} to have it sent another way`
      : `fetch it from ${link} and check its SHA-256`;
  return (
    `${from} offers you the file "${offer.name}" (${what.join(', ')}). ` +
    `Your IM program cannot receive files through CrossTalk: ${how}.`
  );
}
