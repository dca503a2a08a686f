export * from './codec.js';
export * from './names/nick.js';
export * from './session/session.js';
export * from './translator/translator.js';
export * from './wire/message.js';
