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

/// Compares two apk versions. apk itself compares invalid versions too (by
/// their valid prefix); so does this, after rejecting empty strings.
pub fn compare(left: &str, right: &str) -> Result<Ordering, VersionError> {
    for v in [left, right] {
        if v.is_empty() {
            return Err(VersionError::invalid("apk", v, "version string is empty"));
        }
    }
    Ok(compare_fuzzy(left, right, false))
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
