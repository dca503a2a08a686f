import { randomBytes, randomUUID } from 'node:crypto';

/** A user of the mock server. */
export interface MockUserOptions {
  email: string;
  password: string;
  /** Display name; defaults to the part of the e-mail before `@`. */
  friendly?: string;
  /** The user's list: an e-mail is put on FL and AL; an object names the lists and groups. */
  contacts?: readonly (string | MockContactOptions)[];
}

/** A contact on a mock user's lists. */
export interface MockContactOptions {
  email: string;
  /** Default FL and AL. RL is never given: it follows from the other user's FL, as on a real server. */
  lists?: readonly ('FL' | 'AL' | 'BL')[];
  /** Group names; groups are created as needed. */
  groups?: readonly string[];
}

export const FL = 1;
export const AL = 2;
export const BL = 4;
export const RL = 8;

export interface MockGroup {
  /** Numeric id (MSNP7-9) and GUID (MSNP10+). */
  id: number;
  guid: string;
  name: string;
}

export interface MockContact {
  email: string;
  /** FL|AL|BL; RL is computed. */
  bits: number;
  groups: Set<number>;
}

/** One account: credentials, lists, groups, and the presence its client set. */
export class MockUser {
  readonly email: string;
  readonly password: string;
  readonly guid = randomUUID();
  friendly: string;
  readonly contacts = new Map<string, MockContact>();
  readonly groups = new Map<number, MockGroup>();
  #nextGroup = 1;
  /** List version (serial) for MSNP2-9. */
  listVersion = 1;
  gtc = 'A';
  blp = 'AL';
  /** `FLN` until the client's first `CHG`. */
  status = 'FLN';
  capabilities = '0';
  msnobj: string | undefined;
  psm = '';

  constructor(email: string, password: string, friendly: string) {
    this.email = email;
    this.password = password;
    this.friendly = friendly;
  }

  groupNamed(name: string): MockGroup {
    for (const g of this.groups.values()) if (g.name === name) return g;
    const group = { id: this.#nextGroup++, guid: randomUUID(), name };
    this.groups.set(group.id, group);
    return group;
  }

  groupById(id: string): MockGroup | undefined {
    for (const g of this.groups.values()) if (String(g.id) === id || g.guid === id) return g;
    return undefined;
  }

  contact(email: string): MockContact | undefined {
    return this.contacts.get(email.toLowerCase());
  }

  /** Online and not hiding: what others may see. */
  get visible(): boolean {
    return this.status !== 'FLN' && this.status !== 'HDN';
  }
}

/** The mock's database: users, Passport tickets, switchboard cookies. */
export class MockDirectory {
  readonly users = new Map<string, MockUser>();
  readonly #tickets = new Map<string, string>();

  constructor(users: readonly MockUserOptions[]) {
    for (const u of users) {
      const user = new MockUser(u.email, u.password, u.friendly ?? u.email.split('@')[0]!);
      this.users.set(u.email.toLowerCase(), user);
    }
    for (const u of users) {
      const user = this.user(u.email)!;
      for (const c of u.contacts ?? []) {
        const spec = typeof c === 'string' ? { email: c } : c;
        const target = this.user(spec.email);
        if (!target)
          throw new TypeError(`mock MSNP server: contact ${spec.email} of ${u.email} is not a user`);
        const lists = spec.lists ?? ['FL', 'AL'];
        const bits =
          (lists.includes('FL') ? FL : 0) | (lists.includes('AL') ? AL : 0) | (lists.includes('BL') ? BL : 0);
        const groups = new Set((spec.groups ?? []).map((name) => user.groupNamed(name).id));
        user.contacts.set(target.email.toLowerCase(), { email: target.email, bits, groups });
      }
    }
  }

  user(email: string): MockUser | undefined {
    return this.users.get(email.toLowerCase());
  }

  /** RL: whether `other` has `user` on its forward list. */
  hasOnForwardList(other: MockUser, user: MockUser): boolean {
    return ((other.contact(user.email)?.bits ?? 0) & FL) !== 0;
  }

  /** Every contact of `user` with its full bits, RL included. */
  listOf(user: MockUser): { user: MockUser; bits: number; groups: Set<number> }[] {
    const out = new Map<string, { user: MockUser; bits: number; groups: Set<number> }>();
    for (const c of user.contacts.values()) {
      const other = this.user(c.email);
      if (other && c.bits)
        out.set(other.email.toLowerCase(), { user: other, bits: c.bits, groups: c.groups });
    }
    for (const other of this.users.values()) {
      if (other === user || !this.hasOnForwardList(other, user)) continue;
      const key = other.email.toLowerCase();
      const known = out.get(key);
      if (known) known.bits |= RL;
      else out.set(key, { user: other, bits: RL, groups: new Set() });
    }
    return [...out.values()];
  }

  /**
   * The Passport stand-in: a single-use ticket for `USR t TWN S ticket`, or undefined for wrong
   * credentials. Escargot's tickets came from a plain-HTTP Passport 1.4 endpoint (captures/README.md);
   * here the test asks the mock directly.
   */
  issueTicket(email: string, password: string): string | undefined {
    const user = this.user(email);
    if (!user || user.password !== password) return undefined;
    const ticket = randomBytes(10).toString('hex');
    this.#tickets.set(ticket, user.email.toLowerCase());
    return ticket;
  }

  /** Consumes a ticket; the user it was issued to. */
  redeemTicket(ticket: string): MockUser | undefined {
    // MSNP15+ clients send `t=ticket&p=...`; Escargot takes the 20 characters after `t=`.
    const key = ticket.startsWith('t=') ? ticket.slice(2, 22) : ticket;
    const email = this.#tickets.get(key);
    if (email === undefined) return undefined;
    this.#tickets.delete(key);
    return this.user(email);
  }
}
