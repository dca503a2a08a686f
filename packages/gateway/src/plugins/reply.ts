import { InvalidPluginReplyError, type PluginReply, PluginReplyTooLongError } from '@crosstalk/core';
import { z } from 'zod';

/** What a plugin may return (DESIGN.md: plugin replies are validated where they enter the engine). */
const ReplySchema = z.object({ text: z.string(), html: z.string().optional() });

// C0 controls but tab, line feed and carriage return, DEL, and unpaired UTF-16 surrogates: no IM
// protocol carries them (XML 1.0 §2.2 forbids the controls outright).
const UNCARRIABLE =
  /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * Checks what a plugin's `handle` resolved to: a reply to send, or undefined when it chose not to
 * answer. Throws `PluginReplyTooLongError` past `max` characters of text (or four times that of
 * markup) and `InvalidPluginReplyError` for anything else that is not a sendable reply.
 */
export function checkReply(plugin: string, value: unknown, max: number): PluginReply | undefined {
  if (value === undefined || value === null) return undefined;
  const parsed = ReplySchema.safeParse(value);
  if (!parsed.success)
    throw new InvalidPluginReplyError(`plugin ${plugin} answered something that is not { text, html? }`);
  const { text, html } = parsed.data;
  if (text.length > max) throw new PluginReplyTooLongError(plugin, text.length, max);
  if (html !== undefined && html.length > max * 4)
    throw new PluginReplyTooLongError(plugin, html.length, max * 4);
  if (text.trim() === '') throw new InvalidPluginReplyError(`plugin ${plugin} answered an empty text`);
  if (UNCARRIABLE.test(text) || (html !== undefined && UNCARRIABLE.test(html)))
    throw new InvalidPluginReplyError(`plugin ${plugin} answered characters no IM can carry`);
  return html === undefined ? { text } : { text, html };
}
