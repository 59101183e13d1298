/**
 * A strict RFC 4180 parser, for checking the export: every record ends with CRLF, a field is
 * either unquoted (no quote, comma, CR or LF in it) or wholly quoted with its quotes doubled,
 * and every record has as many fields as the header. Anything else throws, naming the offset:
 * a lenient parser (the spreadsheets' own) would hide exactly the mistakes this is for.
 */
export function parseCsvStrict(text: string): string[][] {
  const records: string[][] = [];
  let fields: string[] = [];
  let i = 0;
  const fail = (why: string): never => {
    throw new Error(`not RFC 4180 at offset ${i}: ${why}`);
  };
  while (i < text.length) {
    let field = "";
    if (text[i] === '"') {
      i++;
      for (;;) {
        if (i >= text.length) fail("a quoted field never closes");
        const ch = text[i] as string;
        if (ch === '"') {
          if (text[i + 1] === '"') {
            field += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        field += ch;
        i++;
      }
    } else {
      while (i < text.length && !",\r\n".includes(text[i] as string)) {
        if (text[i] === '"') fail("a quote inside an unquoted field");
        field += text[i];
        i++;
      }
    }
    fields.push(field);
    if (text[i] === ",") {
      i++;
      if (i >= text.length) fail("a comma ends the text");
      continue;
    }
    if (text.startsWith("\r\n", i)) {
      i += 2;
      records.push(fields);
      fields = [];
      continue;
    }
    fail(
      i >= text.length ? "the last record has no CRLF" : `unexpected ${JSON.stringify(text[i])}`,
    );
  }
  const width = records[0]?.length;
  for (const [n, record] of records.entries()) {
    if (record.length !== width) {
      throw new Error(`record ${n} has ${record.length} fields, the header ${width}`);
    }
  }
  return records;
}
