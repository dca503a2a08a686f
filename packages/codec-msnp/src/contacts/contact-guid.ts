/**
 * A stable contact GUID for a foreign buddy merged into an MSNP10+ list (`LST ... C=guid`): the
 * client names contacts by it in `REM t FL guid` and `ADC t FL C=guid group`, so the same buddy must
 * get the same GUID in every session. Derived from the passport with four FNV-1a passes; the
 * version nibble is 8 so it never collides with the server's random (version 4) GUIDs.
 */
export function contactGuid(passport: string): string {
  const lower = passport.toLowerCase();
  const words: number[] = [];
  for (const seed of [0x811c9dc5, 0x01000193, 0x9e3779b9, 0x85ebca6b]) {
    let h = seed >>> 0;
    for (let i = 0; i < lower.length; i++) {
      h ^= lower.charCodeAt(i);
      h = Math.imul(h, 0x01000193) >>> 0;
    }
    words.push(h);
  }
  const hex = words.map((w) => w.toString(16).padStart(8, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-8${hex.slice(13, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}
