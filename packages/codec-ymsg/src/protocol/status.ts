/**
 * Header status values (offset 12, u32). The same field carries presence states (LOGON, ISAWAY)
 * and packet flags (ack, typing, login error): libpurple libymsg.h enum yahoo_status; 3/5/7 from
 * Wireshark packet-ymsg.c (NEW_BUDDYOF, PARTIAL_LIST, BUDDYOF_DENIED).
 */
export const YmsgStatus = {
  AVAILABLE: 0,
  /** Also the "server ack" status of most server replies (OpenYMSG MessageStatus.SERVER_ACK). */
  BRB: 1,
  BUSY: 2,
  /** NEWCONTACT / AUTH_REQ_15: someone asks to add you. */
  NOTATHOME: 3,
  NOTATDESK: 4,
  /** LIST / LIST_15: more packets of the list follow; MESSAGE: offline message. */
  NOTINOFFICE: 5,
  ONPHONE: 6,
  /** NEWCONTACT: your add request was denied (Escargot). */
  ONVACATION: 7,
  OUTTOLUNCH: 8,
  STEPPEDOUT: 9,
  INVISIBLE: 12,
  TYPING: 0x16,
  CUSTOM: 99,
  IDLE: 999,
  WEBLOGIN: 0x5a55aa55,
  /** Clients send MESSAGE with this status (libpurple yahoo_send_im). */
  OFFLINE: 0x5a55aa56,
  /** AUTHRESP: login refused (key 66 says why); LOGOFF: signed on elsewhere. */
  LOGIN_ERROR: 0xffffffff,
} as const;

/** Status meanings by packet role, named where the code uses them. */
export const STATUS_ACK = YmsgStatus.BRB;
export const STATUS_ADD_REQUEST = YmsgStatus.NOTATHOME;
export const STATUS_PARTIAL_LIST = YmsgStatus.NOTINOFFICE;
export const STATUS_ADD_DENIED = YmsgStatus.ONVACATION;
