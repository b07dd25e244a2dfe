/**
 * Redis's glob matching (util.c stringmatchlen) for KEYS and SCAN MATCH:
 * `*`, `?`, `[...]` with `^` negation and `a-z` ranges, `\` escapes,
 * with its quirks kept (bytes compare as C's signed char in ranges, an
 * unclosed `[` ends the pattern) and its guard against abusive patterns
 * (no match beyond 1000 nested stars).
 *
 * @module
 */

const NESTING_MAX = 1000;

/** True when `s` matches glob `pattern` (case-sensitive), as Redis's stringmatchlen. */
export function globMatch(pattern: Uint8Array, s: Uint8Array): boolean {
  const skip = { longer: false };
  return matchFrom(pattern, 0, s, 0, skip, 0);
}

function signed(b: number): number {
  return b > 127 ? b - 256 : b;
}

function matchFrom(
  pat: Uint8Array,
  p: number,
  str: Uint8Array,
  s: number,
  skip: { longer: boolean },
  nesting: number,
): boolean {
  if (nesting > NESTING_MAX) return false;
  const pAt = (i: number) => (i < pat.length ? pat[i] : 0);
  let plen = pat.length - p;
  let slen = str.length - s;
  while (plen > 0 && slen > 0) {
    const c = pat[p];
    if (c === 0x2a /* * */) {
      while (plen > 0 && pAt(p + 1) === 0x2a) {
        p++;
        plen--;
      }
      if (plen === 1) return true;
      while (slen > 0) {
        if (matchFrom(pat, p + 1, str, s, skip, nesting + 1)) return true;
        if (skip.longer) return false;
        s++;
        slen--;
      }
      skip.longer = true;
      return false;
    } else if (c === 0x3f /* ? */) {
      s++;
      slen--;
    } else if (c === 0x5b /* [ */) {
      p++;
      plen--;
      const not = plen > 0 && pat[p] === 0x5e;
      if (not) {
        p++;
        plen--;
      }
      let match = false;
      const sc = str[s];
      for (;;) {
        if (plen >= 2 && pat[p] === 0x5c) {
          p++;
          plen--;
          if (pat[p] === sc) match = true;
        } else if (plen > 0 && pat[p] === 0x5d) {
          break;
        } else if (plen <= 0) {
          p--;
          plen++;
          break;
        } else if (plen >= 3 && pat[p + 1] === 0x2d) {
          let start = signed(pat[p]);
          let end = signed(pat[p + 2]);
          if (start > end) [start, end] = [end, start];
          p += 2;
          plen -= 2;
          const v = signed(sc);
          if (v >= start && v <= end) match = true;
        } else if (pat[p] === sc) {
          match = true;
        }
        p++;
        plen--;
      }
      if (not) match = !match;
      if (!match) return false;
      s++;
      slen--;
    } else {
      if (c === 0x5c && plen >= 2) {
        p++;
        plen--;
      }
      if (pat[p] !== str[s]) return false;
      s++;
      slen--;
    }
    p++;
    plen--;
    if (slen === 0) {
      while (pAt(p) === 0x2a) {
        p++;
        plen--;
      }
      break;
    }
  }
  return plen === 0 && slen === 0;
}
