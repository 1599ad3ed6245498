//! Alpine package versions (`digit{.digit}…{letter}{_suffix{N}}…{~hash}{-rN}`),
//! compared exactly as apk-tools 3 does (`src/version.c`).

use std::cmp::Ordering;

use super::VersionError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Token {
    InitialDigit,
    Digit,
    Letter,
    Suffix,
    SuffixNo,
    CommitHash,
    RevisionNo,
    End,
    Invalid,
}

/// Suffix ranks: the pre-release suffixes sort below [`SUFFIX_NONE`].
const SUFFIXES: [&str; 9] = ["alpha", "beta", "pre", "rc", "cvs", "svn", "git", "hg", "p"];
/// Rank of "no suffix": pre-release suffixes are below it, post-release above.
const SUFFIX_NONE: u8 = 5;

fn suffix_rank(s: &[u8]) -> Option<u8> {
    let index = SUFFIXES
        .iter()
        .position(|candidate| candidate.as_bytes() == s)?;
    let index = u8::try_from(index).ok()?;
    // alpha..rc rank 1..4, then NONE (5), then cvs..p rank 6..10.
    Some(if index < 4 { index + 1 } else { index + 2 })
}

struct TokenState<'a> {
    token: Token,
    suffix: u8,
    number: u64,
    value: &'a [u8],
}

struct Cursor<'a> {
    rest: &'a [u8],
}

impl<'a> Cursor<'a> {
    fn take_while(&mut self, pred: impl Fn(u8) -> bool) -> &'a [u8] {
        let n = self.rest.iter().take_while(|&&b| pred(b)).count();
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        head
    }

    fn skip(&mut self, n: usize) {
        self.rest = self.rest.get(n..).unwrap_or_default();
    }

    fn parse_digits(&mut self, t: &mut TokenState<'a>) {
        let digits = self.take_while(|b| b.is_ascii_digit());
        // apk reads a uint64; saturate instead of wrapping on absurd input.
        t.number = digits.iter().fold(0u64, |n, &d| {
            n.saturating_mul(10).saturating_add(u64::from(d - b'0'))
        });
        t.value = digits;
        if digits.is_empty() {
            t.token = Token::Invalid;
        }
    }

    fn first(&mut self) -> TokenState<'a> {
        let mut t = TokenState {
            token: Token::InitialDigit,
            suffix: 0,
            number: 0,
            value: &[],
        };
        self.parse_digits(&mut t);
        t
    }

    fn next(&mut self, t: &mut TokenState<'a>) {
        let Some(&c) = self.rest.first() else {
            t.token = Token::End;
            return;
        };
        match c {
            b'a'..=b'z' => {
                if t.token > Token::Digit {
                    t.token = Token::Invalid;
                    return;
                }
                t.value = &self.rest[..1];
                t.token = Token::Letter;
                self.skip(1);
            }
            b'.' | b'0'..=b'9' => {
                if c == b'.' {
                    if t.token > Token::Digit {
                        t.token = Token::Invalid;
                        return;
                    }
                    self.skip(1);
                }
                t.token = match t.token {
                    Token::InitialDigit | Token::Digit => Token::Digit,
                    Token::Suffix => Token::SuffixNo,
                    _ => {
                        t.token = Token::Invalid;
                        return;
                    }
                };
                self.parse_digits(t);
            }
            b'_' => {
                if t.token > Token::SuffixNo {
                    t.token = Token::Invalid;
                    return;
                }
                self.skip(1);
                t.value = self.take_while(|b| b.is_ascii_lowercase());
                match suffix_rank(t.value) {
                    Some(rank) => {
                        t.suffix = rank;
                        t.token = Token::Suffix;
                    }
                    None => t.token = Token::Invalid,
                }
            }
            b'~' => {
                if t.token >= Token::CommitHash {
                    t.token = Token::Invalid;
                    return;
                }
                self.skip(1);
                t.value = self.take_while(|b| b.is_ascii_hexdigit());
                t.token = if t.value.is_empty() {
                    Token::Invalid
                } else {
                    Token::CommitHash
                };
            }
            b'-' => {
                if t.token >= Token::RevisionNo || !self.rest.starts_with(b"-r") {
                    t.token = Token::Invalid;
                    return;
                }
                self.skip(2);
                t.token = Token::RevisionNo;
                self.parse_digits(t);
            }
            _ => t.token = Token::Invalid,
        }
    }
}

fn token_cmp(a: &TokenState<'_>, b: &TokenState<'_>) -> Ordering {
    let string_sort = |a: &[u8], b: &[u8]| a.cmp(b);
    match a.token {
        Token::Digit if a.value.first() == Some(&b'0') || b.value.first() == Some(&b'0') => {
            // A leading zero makes apk compare the digits as a string (Gentoo rule).
            string_sort(a.value, b.value)
        }
        Token::Digit | Token::InitialDigit | Token::SuffixNo | Token::RevisionNo => {
            a.number.cmp(&b.number)
        }
        Token::Letter => a.value.first().cmp(&b.value.first()),
        Token::Suffix => a.suffix.cmp(&b.suffix),
        _ => string_sort(a.value, b.value),
    }
}

/// Whether apk accepts `version` as a valid version string.
pub fn is_valid(version: &str) -> bool {
    let mut cursor = Cursor {
        rest: version.as_bytes(),
    };
    let mut t = cursor.first();
    while t.token < Token::End {
        cursor.next(&mut t);
    }
    t.token == Token::End
}

/// Compares two apk versions; `fuzzy` makes a version equal to any version it
/// is a prefix of (apk's `~` operator).
fn compare_fuzzy(left: &str, right: &str, fuzzy: bool) -> Ordering {
    let mut ca = Cursor {
        rest: left.as_bytes(),
    };
    let mut cb = Cursor {
        rest: right.as_bytes(),
    };
    let mut ta = ca.first();
    let mut tb = cb.first();
    while ta.token == tb.token && ta.token < Token::End {
        let r = token_cmp(&ta, &tb);
        if r != Ordering::Equal {
            return r;
        }
        ca.next(&mut ta);
        cb.next(&mut tb);
    }
    if ta.token == tb.token || (tb.token == Token::End && fuzzy) {
        return Ordering::Equal;
    }
    // Equal so far: the longer version is newer, unless it goes on with a
    // pre-release suffix.
    if ta.token == Token::Suffix && ta.suffix < SUFFIX_NONE {
        return Ordering::Less;
    }
    if tb.token == Token::Suffix && tb.suffix < SUFFIX_NONE {
        return Ordering::Greater;
    }
    tb.token.cmp(&ta.token)
}

/// Compares two apk versions as apk-tools 3 does; when apk-tools 3 rejects
/// one of them but apk-tools 2 (which installed Alpine up to 3.22) accepts
/// both, as apk-tools 2 does. Versions neither accepts are compared by their
/// valid prefix, as apk itself does; empty strings are refused.
pub fn compare(left: &str, right: &str) -> Result<Ordering, VersionError> {
    for v in [left, right] {
        if v.is_empty() {
            return Err(VersionError::invalid("apk", v, "version string is empty"));
        }
    }
    if !(is_valid(left) && is_valid(right)) && v2::is_valid(left) && v2::is_valid(right) {
        return Ok(v2::compare(left, right));
    }
    Ok(compare_fuzzy(left, right, false))
}

/// Whether apk-tools 3 or apk-tools 2 accepts `version`.
pub fn is_valid_any(version: &str) -> bool {
    is_valid(version) || v2::is_valid(version)
}

/// Evaluates `left OP right` for apk's dependency operators (`<`, `<=`, `=`,
/// `>=`, `>`, `~`, `<~`, `>~`, and any of them negated with a leading `!`).
pub fn satisfies(left: &str, op: &str, right: &str) -> Option<bool> {
    let (negate, op) = match op.strip_prefix('!') {
        Some(rest) => (true, rest),
        None => (false, op),
    };
    let fuzzy = op.contains('~');
    let mut mask = 0u8;
    for c in op.chars() {
        mask |= match c {
            '<' => 1,
            '=' | '~' => 2,
            '>' => 4,
            _ => return None,
        };
    }
    let bit = match compare_fuzzy(left, right, fuzzy) {
        Ordering::Less => 1,
        Ordering::Equal => 2,
        Ordering::Greater => 4,
    };
    Some((mask & bit != 0) != negate)
}

/// apk-tools 2 (Alpine up to 3.22), which still ordered versions apk-tools 3
/// rejects, such as `6.6.2p1` (a digit right after a letter). Alpine's own
/// secdb carries such versions, so they are compared the way the apk that
/// installed them did.
mod v2 {
    use std::cmp::Ordering;

    #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
    enum T {
        Invalid = -1,
        DigitOrZero = 0,
        Digit,
        Letter,
        Suffix,
        SuffixNo,
        RevisionNo,
        End,
    }

    fn next_token(t: &mut T, s: &mut &[u8]) {
        let mut n = T::Invalid;
        match s.first() {
            None | Some(0) => n = T::End,
            Some(c) if (*t == T::Digit || *t == T::DigitOrZero) && c.is_ascii_lowercase() => {
                n = T::Letter
            }
            Some(c) if *t == T::Letter && c.is_ascii_digit() => n = T::Digit,
            Some(c) if *t == T::Suffix && c.is_ascii_digit() => n = T::SuffixNo,
            Some(c) => {
                match c {
                    b'.' => n = T::DigitOrZero,
                    b'_' => n = T::Suffix,
                    b'-' if s.get(1) == Some(&b'r') => {
                        n = T::RevisionNo;
                        *s = &s[1..];
                    }
                    _ => {}
                }
                *s = s.get(1..).unwrap_or_default();
            }
        }
        if n < *t
            && !((n == T::DigitOrZero && *t == T::Digit)
                || (n == T::Suffix && *t == T::SuffixNo)
                || (n == T::Digit && *t == T::Letter))
        {
            n = T::Invalid;
        }
        *t = n;
    }

    fn get_token(t: &mut T, s: &mut &[u8]) -> i64 {
        const PRE: [&[u8]; 4] = [b"alpha", b"beta", b"pre", b"rc"];
        const POST: [&[u8]; 5] = [b"cvs", b"svn", b"git", b"hg", b"p"];
        if s.is_empty() {
            *t = T::End;
            return 0;
        }
        let mut v: i64 = 0;
        let mut i = 0usize;
        let mut nt = T::Invalid;
        let mut numeric = false;
        match *t {
            T::DigitOrZero if s[0] == b'0' => {
                while i < s.len() && s[i] == b'0' {
                    i += 1;
                }
                nt = T::Digit;
                v = -(i as i64);
            }
            T::DigitOrZero | T::Digit | T::SuffixNo | T::RevisionNo => numeric = true,
            T::Letter => {
                v = i64::from(s[0]);
                i = 1;
            }
            T::Suffix => {
                if let Some(k) = PRE.iter().position(|p| s.starts_with(p)) {
                    i = PRE[k].len();
                    v = k as i64 - PRE.len() as i64;
                } else if let Some(k) = POST.iter().position(|p| s.starts_with(p)) {
                    i = POST[k].len();
                    v = k as i64;
                } else {
                    *t = T::Invalid;
                    return -1;
                }
            }
            _ => {
                *t = T::Invalid;
                return -1;
            }
        }
        if numeric {
            while i < s.len() && s[i].is_ascii_digit() {
                v = v.saturating_mul(10).saturating_add(i64::from(s[i] - b'0'));
                i += 1;
            }
        }
        *s = &s[i..];
        if s.is_empty() {
            *t = T::End;
        } else if nt != T::Invalid {
            *t = nt;
        } else {
            next_token(t, s);
        }
        v
    }

    /// Whether apk-tools 2 accepts the version.
    pub fn is_valid(version: &str) -> bool {
        let mut s = version.as_bytes();
        let mut t = T::Digit;
        while t != T::End && t != T::Invalid {
            get_token(&mut t, &mut s);
        }
        t == T::End
    }

    pub fn compare(a: &str, b: &str) -> Ordering {
        let (mut sa, mut sb) = (a.as_bytes(), b.as_bytes());
        let (mut at, mut bt) = (T::Digit, T::Digit);
        let (mut av, mut bv) = (0i64, 0i64);
        while at == bt && at != T::End && at != T::Invalid && av == bv {
            av = get_token(&mut at, &mut sa);
            bv = get_token(&mut bt, &mut sb);
        }
        if av != bv {
            return av.cmp(&bv);
        }
        if at == bt {
            return Ordering::Equal;
        }
        let mut tt = at;
        if at == T::Suffix && get_token(&mut tt, &mut sa) < 0 {
            return Ordering::Less;
        }
        tt = bt;
        if bt == T::Suffix && get_token(&mut tt, &mut sb) < 0 {
            return Ordering::Greater;
        }
        // A later token type means the version ended earlier.
        bt.cmp(&at)
    }
}
