export * from './codec.js';
// What `crosstalk --codec` and a config's `codecs` entry load: the factory, called with its defaults.
export { irc as default } from './codec.js';
export * from './names/nick.js';
export * from './session/session.js';
export * from './translator/translator.js';
export * from './wire/message.js';
