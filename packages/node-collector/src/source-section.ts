// The head shared by the optional source sections of the node-collector config (`journald`, `auditLog`):
// `true` turns a source on with its defaults, an object with `enabled` absent or true turns it on,
// `undefined`, `false` and `enabled: false` leave it off.

/** Throws the section's SEXTANT_COLLECTOR_CONFIG_INVALID error for `<section>.<key>`. */
type Bad = (key: string, value: unknown, valid: string) => never;

/** The section's options once its keys are known; false when the source is off. */
function sourceSection(v: unknown, keys: readonly string[], bad: Bad): Record<string, unknown> | false {
  if (v === undefined || v === false) return false;
  if (v === true) v = {};
  if (typeof v !== 'object' || v === null || Array.isArray(v)) bad('', v, `true, false or {${keys.join(', ')}}`);
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!keys.includes(k)) bad(k, o[k], keys.join(', '));
  if (o['enabled'] === false) return false;
  if (o['enabled'] !== undefined && o['enabled'] !== true) bad('enabled', o['enabled'], 'true, false');
  return o;
}

/** `startAt`: files present at the first start without a checkpoint are read from the beginning (default) or the end. */
function sectionStartAt(o: Record<string, unknown>, bad: Bad): 'beginning' | 'end' {
  const startAt = o['startAt'] ?? 'beginning';
  if (startAt !== 'beginning' && startAt !== 'end') bad('startAt', startAt, 'beginning, end');
  return startAt;
}

export { sectionStartAt, sourceSection };
