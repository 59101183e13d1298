// CSV as RFC 4180 writes it (CRLF line ends; a field with a comma, a quote or a line break
// quoted, its quotes doubled), with OWASP's rule against formula injection: a text cell a
// spreadsheet would run as a formula (starting with =, +, -, @, a tab or a carriage return)
// is prefixed with a single quote, which the spreadsheet shows as text.

const FORMULA_START = /^[=+\-@\t\r]/;
const NEEDS_QUOTES = /[",\r\n]/;

/** One field: numbers as they are, null empty, text made inert and quoted where needed. */
export function csvField(value: string | number | null): string {
  if (value === null) return "";
  if (typeof value === "number") return String(value);
  const text = FORMULA_START.test(value) ? `'${value}` : value;
  return NEEDS_QUOTES.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** One record, with its CRLF. */
export function csvRecord(fields: (string | number | null)[]): string {
  return `${fields.map(csvField).join(",")}\r\n`;
}
