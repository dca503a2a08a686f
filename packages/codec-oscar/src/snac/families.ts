/**
 * SNAC families ("food groups") and the subtypes this codec decodes
 * (retro-aim-server wire/snacs.go; libpurple oscar/snactypes.h).
 */
export const Family = {
  oservice: 0x0001,
  locate: 0x0002,
  buddy: 0x0003,
  icbm: 0x0004,
  permitDeny: 0x0009,
  stats: 0x000b,
  bart: 0x0010,
  feedbag: 0x0013,
  bucp: 0x0017,
} as const;

/** SNAC subtypes of family 0x01, OService (the generic service controls). */
export const OService = {
  error: 0x0001,
  clientOnline: 0x0002,
  hostOnline: 0x0003,
  serviceRequest: 0x0004,
  serviceResponse: 0x0005,
  rateParamsQuery: 0x0006,
  rateParamsReply: 0x0007,
  rateParamsSubAdd: 0x0008,
  userInfoQuery: 0x000e,
  userInfoUpdate: 0x000f,
  idleNotification: 0x0011,
  clientVersions: 0x0017,
  hostVersions: 0x0018,
  setUserInfoFields: 0x001e,
} as const;

export const Locate = { rightsQuery: 0x0002, rightsReply: 0x0003, setInfo: 0x0004 } as const;

/** SNAC subtypes of family 0x03, Buddy (arrivals, departures, the client-side list). */
export const Buddy = {
  rightsQuery: 0x0002,
  rightsReply: 0x0003,
  addBuddies: 0x0004,
  delBuddies: 0x0005,
  arrived: 0x000b,
  departed: 0x000c,
} as const;

/** SNAC subtypes of family 0x04, ICBM (messages, typing). */
export const Icbm = {
  error: 0x0001,
  addParameters: 0x0002,
  parameterQuery: 0x0004,
  parameterReply: 0x0005,
  channelMsgToHost: 0x0006,
  channelMsgToClient: 0x0007,
  hostAck: 0x000c,
  clientEvent: 0x0014,
} as const;

/** SNAC subtypes of family 0x13, Feedbag (the server-stored buddy list). */
export const Feedbag = {
  error: 0x0001,
  rightsQuery: 0x0002,
  rightsReply: 0x0003,
  query: 0x0004,
  queryIfModified: 0x0005,
  reply: 0x0006,
  use: 0x0007,
  insertItem: 0x0008,
  updateItem: 0x0009,
  deleteItem: 0x000a,
  status: 0x000e,
  replyNotModified: 0x000f,
  startCluster: 0x0011,
  endCluster: 0x0012,
  requestAuthorizeToHost: 0x0018,
  requestAuthorizeToClient: 0x0019,
  respondAuthorizeToHost: 0x001a,
  respondAuthorizeToClient: 0x001b,
  buddyAdded: 0x001c,
} as const;

/** SNAC subtypes of family 0x17, BUCP (login). */
export const Bucp = {
  error: 0x0001,
  loginRequest: 0x0002,
  loginResponse: 0x0003,
  challengeRequest: 0x0006,
  challengeResponse: 0x0007,
} as const;

/** SNAC flag bits: 0x0001 more replies follow; 0x8000 a u16-length TLV block precedes the body. */
export const SnacFlag = { moreFollows: 0x0001, tlvBlock: 0x8000 } as const;

/** Request ids with the top bit set were initiated by the server (retro-aim-server ReqIDFromServer). */
export const SERVER_REQUEST_ID = 0x80000000;

/** FLAP channels (PROTOCOLS.md; retro-aim-server wire/frames.go). */
export const Channel = { signon: 1, snac: 2, error: 3, signoff: 4, keepAlive: 5 } as const;
