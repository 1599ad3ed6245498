//! Maven versions, compared as Maven's `ComparableVersion` does: items split on
//! `.`, `-` and digit/letter transitions, well-known qualifiers ordered
//! `alpha < beta < milestone < rc < snapshot < "" (= ga = final = release) < sp`,
//! unknown qualifiers after them in lexical order.

use std::cmp::Ordering;

use super::{VersionError, dpkg::compare_numeric};

/// Maven refuses longer strings to bound parsing and nesting.
const MAX_VERSION_LENGTH: usize = 256;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Item {
    /// Digits without leading zeros ("0" for zero); compared by value.
    Number(String),
    Text(String),
    Combination(String, Box<Item>),
    List(Vec<Item>),
}

const QUALIFIERS: [&str; 7] = ["alpha", "beta", "milestone", "rc", "snapshot", "", "sp"];

fn comparable_qualifier(q: &str) -> String {
    if matches!(q, "ga" | "final" | "release") {
        return "5".to_string();
    }
    match QUALIFIERS.iter().position(|k| *k == q) {
        Some(i) => i.to_string(),
        None => format!("{}-{q}", QUALIFIERS.len()),
    }
}

fn text_item(value: &str, followed_by_digit: bool) -> Item {
    let value = match (followed_by_digit, value) {
        (true, "a") => "alpha",
        (true, "b") => "beta",
        (true, "m") => "milestone",
        (_, "cr") => "rc",
        (_, v) => v,
    };
    Item::Text(value.to_string())
}

fn number_item(digits: &str) -> Item {
    let stripped = digits.trim_start_matches('0');
    Item::Number(if stripped.is_empty() {
        "0".to_string()
    } else {
        stripped.to_string()
    })
}

fn combination_item(value: &str) -> Item {
    let index = value.find(|c: char| c.is_ascii_digit()).unwrap_or(0);
    let (text, digits) = value.split_at(index);
    Item::Combination(text_item_value(text), Box::new(number_item(digits)))
}

fn text_item_value(text: &str) -> String {
    match text_item(text, true) {
        Item::Text(s) => s,
        _ => String::new(),
    }
}

fn parse_item(combination: bool, digit: bool, buf: &str) -> Item {
    if combination {
        combination_item(&buf.replace('-', ""))
    } else if digit {
        number_item(buf)
    } else {
        text_item(buf, false)
    }
}

impl Item {
    fn is_null(&self) -> bool {
        match self {
            Item::Number(n) => n == "0",
            Item::Text(s) => s.is_empty(),
            Item::Combination(..) => false,
            Item::List(items) => items.is_empty(),
        }
    }

    fn is_list(&self) -> bool {
        matches!(self, Item::List(_))
    }

    /// Compares with "nothing" (the other version ran out of items).
    fn cmp_null(&self) -> Ordering {
        match self {
            Item::Number(n) => {
                if n == "0" {
                    Ordering::Equal
                } else {
                    Ordering::Greater
                }
            }
            Item::Text(s) => comparable_qualifier(s).as_str().cmp("5"),
            Item::Combination(text, digits) => {
                let r = comparable_qualifier(text).as_str().cmp("5");
                if r == Ordering::Equal {
                    digits.cmp_null()
                } else {
                    r
                }
            }
            Item::List(items) => {
                for item in items {
                    let r = item.cmp_null();
                    if r != Ordering::Equal {
                        return r;
                    }
                }
                Ordering::Equal
            }
        }
    }

    fn compare(&self, other: &Item) -> Ordering {
        use Item::*;
        match (self, other) {
            (Number(a), Number(b)) => compare_numeric(a, b),
            (Number(_), _) => Ordering::Greater,
            (Text(_) | Combination(..) | List(_), Number(_)) => Ordering::Less,
            (Text(a), Text(b)) => comparable_qualifier(a).cmp(&comparable_qualifier(b)),
            (Text(a), Combination(bt, bd)) => {
                let r = comparable_qualifier(a).cmp(&comparable_qualifier(bt));
                if r == Ordering::Equal {
                    if self.cmp_null() == Ordering::Equal {
                        return bd.cmp_null().reverse();
                    }
                    return Ordering::Less;
                }
                r
            }
            (Text(_), List(_)) => other.compare(self).reverse(),
            (Combination(at, ad), Text(b)) => {
                let r = comparable_qualifier(at).cmp(&comparable_qualifier(b));
                if r == Ordering::Equal {
                    if comparable_qualifier(at) == "5" {
                        return ad.cmp_null();
                    }
                    return Ordering::Greater;
                }
                r
            }
            (Combination(..), List(_)) => other.compare(self).reverse(),
            (Combination(at, ad), Combination(bt, bd)) => {
                let r = comparable_qualifier(at).cmp(&comparable_qualifier(bt));
                if r == Ordering::Equal {
                    ad.compare(bd)
                } else {
                    r
                }
            }
            (List(items), Text(_) | Combination(..)) => {
                let mut r = match items.first() {
                    None => other.cmp_null().reverse(),
                    Some(first) => first.compare(other),
                };
                for item in items.iter().skip(1) {
                    if r != Ordering::Equal {
                        break;
                    }
                    r = item.cmp_null();
                }
                r
            }
            (List(a), List(b)) => compare_items(a, b),
        }
    }
}

fn normalize(items: &mut Vec<Item>) {
    let mut i = items.len();
    while i > 0 {
        i -= 1;
        if items[i].is_null() {
            let remove = match items.get(i + 1) {
                None => true,
                Some(Item::Text(_)) => true,
                Some(Item::List(next)) => {
                    matches!(next.first(), Some(Item::Combination(..) | Item::Text(_)))
                }
                Some(_) => false,
            };
            if remove {
                items.remove(i);
            }
        }
    }
    // Removing a zero prefix must not leave an extra level of nesting.
    if items.len() == 1
        && items[0].is_list()
        && let Some(Item::List(inner)) = items.pop()
    {
        *items = inner;
    }
}

/// Builder state: a stack of open lists, innermost last.
struct Stack {
    lists: Vec<Vec<Item>>,
}

impl Stack {
    fn current(&mut self) -> &mut Vec<Item> {
        if self.lists.is_empty() {
            self.lists.push(Vec::new());
        }
        let last = self.lists.len() - 1;
        &mut self.lists[last]
    }

    fn push_list(&mut self) {
        self.lists.push(Vec::new());
    }

    /// Closes every list, normalizing each and nesting it in its parent.
    fn finish(mut self) -> Vec<Item> {
        while self.lists.len() > 1 {
            let mut child = self.lists.pop().unwrap_or_default();
            normalize(&mut child);
            self.current().push(Item::List(child));
        }
        let mut root = self.lists.pop().unwrap_or_default();
        normalize(&mut root);
        root
    }
}

/// A parsed Maven version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MavenVersion {
    items: Vec<Item>,
}

impl MavenVersion {
    /// Parses a version as `ComparableVersion.parseVersion` does.
    pub fn parse(version: &str) -> Result<Self, VersionError> {
        if version.chars().count() > MAX_VERSION_LENGTH {
            return Err(VersionError::invalid(
                "maven",
                version,
                "version string is longer than 256 characters",
            ));
        }
        let version = version.to_lowercase();
        let chars: Vec<char> = version.chars().collect();
        let substring = |from: usize, to: usize| chars[from..to].iter().collect::<String>();
        let mut stack = Stack {
            lists: vec![Vec::new()],
        };
        let mut is_digit = false;
        let mut is_combination = false;
        let mut start = 0usize;
        let mut i = 0usize;
        while i < chars.len() {
            let c = chars[i];
            if c == '.' {
                let item = if i == start {
                    Item::Number("0".into())
                } else {
                    parse_item(is_combination, is_digit, &substring(start, i))
                };
                stack.current().push(item);
                is_combination = false;
                start = i + 1;
            } else if c == '-' {
                if i == start {
                    stack.current().push(Item::Number("0".into()));
                } else {
                    // `X-1` is read as the combination `X1`.
                    if !is_digit && i + 1 < chars.len() && chars[i + 1].is_ascii_digit() {
                        is_combination = true;
                        i += 1;
                        continue;
                    }
                    let item = parse_item(is_combination, is_digit, &substring(start, i));
                    stack.current().push(item);
                }
                start = i + 1;
                if !stack.current().is_empty() {
                    stack.push_list();
                }
                is_combination = false;
            } else if c.is_ascii_digit() {
                if !is_digit && i > start {
                    is_combination = true;
                    if !stack.current().is_empty() {
                        stack.push_list();
                    }
                }
                is_digit = true;
            } else {
                if is_digit && i > start {
                    let item = parse_item(is_combination, true, &substring(start, i));
                    stack.current().push(item);
                    start = i;
                    stack.push_list();
                    is_combination = false;
                }
                is_digit = false;
            }
            i += 1;
        }
        if chars.len() > start {
            if !is_digit && !stack.current().is_empty() {
                stack.push_list();
            }
            let item = parse_item(is_combination, is_digit, &substring(start, chars.len()));
            stack.current().push(item);
        }
        Ok(Self {
            items: stack.finish(),
        })
    }

    /// Structural equality, as Java's `ComparableVersion.equals`.
    pub fn structurally_equal(&self, other: &Self) -> bool {
        self.items == other.items
    }
}

impl Ord for MavenVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        compare_items(&self.items, &other.items)
    }
}

impl PartialOrd for MavenVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Compares two Maven versions.
pub fn compare(left: &str, right: &str) -> Result<Ordering, VersionError> {
    let (a, b) = (MavenVersion::parse(left)?, MavenVersion::parse(right)?);
    Ok(compare_items(&a.items, &b.items))
}

fn compare_items(a: &[Item], b: &[Item]) -> Ordering {
    let mut left = a.iter();
    let mut right = b.iter();
    loop {
        let r = match (left.next(), right.next()) {
            (None, None) => return Ordering::Equal,
            (Some(l), None) => l.cmp_null(),
            (None, Some(r)) => r.cmp_null().reverse(),
            (Some(l), Some(r)) => l.compare(r),
        };
        if r != Ordering::Equal {
            return r;
        }
    }
}
