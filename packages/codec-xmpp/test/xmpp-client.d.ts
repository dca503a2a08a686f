// @xmpp/client 0.14 ships no type declarations; the interop tests use it untyped.
declare module '@xmpp/client';
