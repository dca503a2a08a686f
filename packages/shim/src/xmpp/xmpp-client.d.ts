// @xmpp/client 0.14 ships no type declarations: xmpp-base.ts types what it uses itself.
declare module '@xmpp/client';
