// @xmpp/component 0.13 and @xmpp/client 0.14 ship no type declarations: what this example uses of them.
declare module '@xmpp/component' {
  /** An ltx element, as @xmpp/xml builds and parses them. */
  export interface Element {
    name: string;
    attrs: Record<string, string | undefined>;
    children: (Element | string)[];
    parent: Element | null;
    is(name: string, xmlns?: string): boolean;
    getChild(name: string, xmlns?: string): Element | undefined;
    getChildren(name: string, xmlns?: string): Element[];
    getChildText(name: string, xmlns?: string): string | null;
    getChildElements(): Element[];
    getText(): string;
    toString(): string;
  }
  /** The middleware's view of one incoming stanza. */
  export interface IncomingContext {
    stanza: Element;
    name: string;
    type: string | undefined;
    id: string | undefined;
    from: unknown;
    to: unknown;
    element?: Element;
  }
  export interface Component {
    readonly status: string;
    start(): Promise<unknown>;
    stop(): Promise<unknown>;
    send(element: Element): Promise<void>;
    on(event: 'stanza' | 'element' | 'nonza', listener: (el: Element) => void): void;
    on(event: 'error', listener: (error: Error & { condition?: string }) => void): void;
    on(event: 'status', listener: (status: string) => void): void;
    on(event: 'online' | 'offline', listener: () => void): void;
    removeListener(event: string, listener: (...args: never[]) => void): void;
    middleware: {
      use(fn: (ctx: IncomingContext, next: () => Promise<unknown>) => unknown): void;
    };
    reconnect: { stop(): void; delay: number };
  }
  export function component(options: { service: string; domain: string; password: string }): Component;
  /** Builds an element; `attrs` as a string is its `xmlns`. */
  export function xml(
    name: string,
    attrs?: Record<string, string | undefined> | string | null,
    ...children: (Element | string)[]
  ): Element;
}

declare module '@xmpp/client';
