// Reading the multi-line text fields of a form: one value per line, or one `name<sep>value` pair.

/** The non-empty lines, trimmed. */
export function lines(text: string): string[] {
  return text.split("\n").map((l) => l.trim()).filter(Boolean);
}

/** `name<sep>value` lines as a record; a line without the separator is left out. */
export function pairs(text: string, sep: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of lines(text)) {
    const at = line.indexOf(sep);
    if (at > 0) out[line.slice(0, at).trim()] = line.slice(at + sep.length).trim();
  }
  return out;
}
