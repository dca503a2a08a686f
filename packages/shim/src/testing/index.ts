export {
  fromBare,
  trustCertificate,
  type XmppUser,
  type XmppUserOptions,
  xml,
  xmppUser,
} from './xmpp-user.js';
