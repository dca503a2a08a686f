/** Shortens a value that came from elsewhere (a tag, a place name) for a one-line IM. */
export function clip(text: string, max = 120): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length <= max ? flat : `${flat.slice(0, max - 1)}…`;
}

/** How a plugin names the user it answers for: the user part of their address (`bob` of `bob@yahoo`). */
export function nameOf(address: { user: string }): string {
  return address.user;
}
