//! The rpm header blob as rpm stores it in every database format:
//! `il` (index entry count) and `dl` (data length) as big-endian u32, `il`
//! index entries of 16 bytes (tag, type, offset, count), then `dl` bytes of
//! data. Every read is bounds-checked against the blob.

use crate::error::ParseError;

/// rpm refuses headers larger than this (`headerMaxbytes`, 256 MiB).
const MAX_HEADER_BYTES: usize = 256 * 1024 * 1024;
/// rpm's `hdrchkTags`: no header has this many entries.
const MAX_INDEX_ENTRIES: usize = 0x00ff_ffff;
const ENTRY_SIZE: usize = 16;

/// Tags read by inventory (from rpm's `rpmtag.h`).
pub mod tag {
    pub const SIGMD5: u32 = 261;
    pub const NAME: u32 = 1000;
    pub const VERSION: u32 = 1001;
    pub const RELEASE: u32 = 1002;
    pub const EPOCH: u32 = 1003;
    pub const SUMMARY: u32 = 1004;
    pub const INSTALLTIME: u32 = 1008;
    pub const SIZE: u32 = 1009;
    pub const VENDOR: u32 = 1011;
    pub const LICENSE: u32 = 1014;
    pub const ARCH: u32 = 1022;
    pub const FILESIZES: u32 = 1028;
    pub const FILEMODES: u32 = 1030;
    pub const FILEDIGESTS: u32 = 1035;
    pub const FILEFLAGS: u32 = 1037;
    pub const FILEUSERNAME: u32 = 1039;
    pub const FILEGROUPNAME: u32 = 1040;
    pub const SOURCERPM: u32 = 1044;
    pub const PROVIDENAME: u32 = 1047;
    pub const REQUIRENAME: u32 = 1049;
    pub const DIRINDEXES: u32 = 1116;
    pub const BASENAMES: u32 = 1117;
    pub const DIRNAMES: u32 = 1118;
    pub const LONGFILESIZES: u32 = 5008;
    pub const FILEDIGESTALGO: u32 = 5011;
    pub const MODULARITYLABEL: u32 = 5096;
}

/// rpm tag data types (`rpmTagType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
enum Kind {
    Char = 1,
    Int8 = 2,
    Int16 = 3,
    Int32 = 4,
    Int64 = 5,
    String = 6,
    Bin = 7,
    StringArray = 8,
    I18nString = 9,
}

impl Kind {
    fn from_u32(value: u32) -> Option<Kind> {
        Some(match value {
            1 => Kind::Char,
            2 => Kind::Int8,
            3 => Kind::Int16,
            4 => Kind::Int32,
            5 => Kind::Int64,
            6 => Kind::String,
            7 => Kind::Bin,
            8 => Kind::StringArray,
            9 => Kind::I18nString,
            _ => return None,
        })
    }

    fn fixed_size(self) -> Option<usize> {
        match self {
            Kind::Char | Kind::Int8 | Kind::Bin => Some(1),
            Kind::Int16 => Some(2),
            Kind::Int32 => Some(4),
            Kind::Int64 => Some(8),
            Kind::String | Kind::StringArray | Kind::I18nString => None,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    tag: u32,
    kind: Kind,
    offset: usize,
    count: usize,
}

/// A validated header: every index entry's data lies inside the data store.
#[derive(Debug)]
pub struct Header<'a> {
    entries: Vec<Entry>,
    store: &'a [u8],
}

fn be32(bytes: &[u8], at: usize) -> Option<u32> {
    super::bytes_at(bytes, at).map(u32::from_be_bytes)
}

impl<'a> Header<'a> {
    /// Checks the blob's structure. Unknown data types (rpm has none beyond
    /// 9) and entries whose data would run past the store are refused.
    ///
    /// # Errors
    /// [`ParseError::Binary`] naming the offset of the first inconsistency.
    pub fn parse(blob: &'a [u8]) -> Result<Self, ParseError> {
        let bad = |offset: usize, reason: &str| ParseError::binary("rpm header", offset, reason);
        if blob.len() > MAX_HEADER_BYTES {
            return Err(ParseError::TooLarge {
                what: "rpm header",
                limit: MAX_HEADER_BYTES as u64,
            });
        }
        let (Some(il), Some(dl)) = (be32(blob, 0), be32(blob, 4)) else {
            return Err(bad(0, "shorter than the 8-byte preamble"));
        };
        let (il, dl) = (il as usize, dl as usize);
        if il == 0 || il > MAX_INDEX_ENTRIES {
            return Err(bad(0, &format!("implausible index entry count {il}")));
        }
        let store_start = il
            .checked_mul(ENTRY_SIZE)
            .and_then(|n| n.checked_add(8))
            .ok_or_else(|| bad(0, "index size overflows"))?;
        let store_end = store_start
            .checked_add(dl)
            .ok_or_else(|| bad(4, "data length overflows"))?;
        let store = blob.get(store_start..store_end).ok_or_else(|| {
            bad(
                4,
                &format!(
                    "index and data ({store_end} bytes) exceed the blob ({} bytes)",
                    blob.len()
                ),
            )
        })?;
        let mut entries = Vec::with_capacity(il);
        for i in 0..il {
            let at = 8 + i * ENTRY_SIZE;
            let field =
                |n: usize| be32(blob, at + 4 * n).ok_or_else(|| bad(at, "truncated index entry"));
            let (tag, kind, offset, count) =
                (field(0)?, field(1)?, field(2)? as usize, field(3)? as usize);
            let Some(kind) = Kind::from_u32(kind) else {
                // rpm's type 0 (NULL) appears only in region trailers we never read.
                if kind == 0 {
                    continue;
                }
                return Err(bad(at, &format!("tag {tag} has unknown type {kind}")));
            };
            if count == 0 || offset > dl {
                return Err(bad(
                    at,
                    &format!("tag {tag}: count {count} at data offset {offset} outside {dl} bytes"),
                ));
            }
            if let Some(size) = kind.fixed_size() {
                let end = count.checked_mul(size).and_then(|n| n.checked_add(offset));
                if end.is_none_or(|end| end > dl) {
                    return Err(bad(
                        at,
                        &format!("tag {tag}: {count} values at offset {offset} run past the data"),
                    ));
                }
            }
            entries.push(Entry {
                tag,
                kind,
                offset,
                count,
            });
        }
        Ok(Header { entries, store })
    }

    /// The entry for `tag`. A header may repeat a tag after its immutable
    /// region ("dribble" entries); the later one replaces the earlier, as in rpm.
    fn entry(&self, tag: u32) -> Option<Entry> {
        self.entries.iter().rev().find(|e| e.tag == tag).copied()
    }

    fn type_error(entry: Entry, wanted: &str) -> ParseError {
        ParseError::binary(
            "rpm header",
            entry.offset,
            format!("tag {} is {:?}, expected {wanted}", entry.tag, entry.kind),
        )
    }

    /// Reads `count` NUL-terminated strings from the store at `offset`.
    fn strings(&self, entry: Entry) -> Result<Vec<&'a str>, ParseError> {
        let mut out = Vec::with_capacity(entry.count.min(4096));
        let mut at = entry.offset;
        for _ in 0..entry.count {
            let rest = self.store.get(at..).unwrap_or_default();
            let len = rest.iter().position(|&b| b == 0).ok_or_else(|| {
                ParseError::binary(
                    "rpm header",
                    at,
                    format!("tag {}: string not terminated", entry.tag),
                )
            })?;
            let text = std::str::from_utf8(&rest[..len]).map_err(|_| {
                ParseError::binary(
                    "rpm header",
                    at,
                    format!("tag {}: string is not UTF-8", entry.tag),
                )
            })?;
            out.push(text);
            at += len + 1;
        }
        Ok(out)
    }

    /// A `STRING` (or the first of an `I18NSTRING`/`STRING_ARRAY`) tag.
    ///
    /// # Errors
    /// When the tag has a numeric type or its text is unterminated or not UTF-8.
    pub fn string(&self, tag: u32) -> Result<Option<&'a str>, ParseError> {
        let Some(entry) = self.entry(tag) else {
            return Ok(None);
        };
        match entry.kind {
            Kind::String | Kind::I18nString | Kind::StringArray => Ok(self
                .strings(Entry { count: 1, ..entry })?
                .into_iter()
                .next()),
            _ => Err(Self::type_error(entry, "a string")),
        }
    }

    /// A `STRING_ARRAY` tag (a `STRING` counts as an array of one).
    ///
    /// # Errors
    /// As [`Header::string`].
    pub fn string_array(&self, tag: u32) -> Result<Vec<&'a str>, ParseError> {
        let Some(entry) = self.entry(tag) else {
            return Ok(Vec::new());
        };
        match entry.kind {
            Kind::StringArray | Kind::I18nString | Kind::String => self.strings(entry),
            _ => Err(Self::type_error(entry, "a string array")),
        }
    }

    /// An integer array tag of any width, widened to `u64`.
    ///
    /// # Errors
    /// When the tag holds strings or binary data.
    pub fn integers(&self, tag: u32) -> Result<Vec<u64>, ParseError> {
        let Some(entry) = self.entry(tag) else {
            return Ok(Vec::new());
        };
        let size = match entry.kind {
            Kind::Char | Kind::Int8 | Kind::Int16 | Kind::Int32 | Kind::Int64 => {
                entry.kind.fixed_size().unwrap_or(1)
            }
            _ => return Err(Self::type_error(entry, "an integer")),
        };
        let bytes = self.fixed_bytes(entry, size)?;
        Ok(bytes
            .chunks_exact(size)
            .map(|c| c.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
            .collect())
    }

    /// The first value of an integer tag.
    ///
    /// # Errors
    /// As [`Header::integers`].
    pub fn integer(&self, tag: u32) -> Result<Option<u64>, ParseError> {
        Ok(self.integers(tag)?.first().copied())
    }

    /// A `BIN` tag's bytes.
    ///
    /// # Errors
    /// When the tag is not binary.
    pub fn binary(&self, tag: u32) -> Result<Option<&'a [u8]>, ParseError> {
        let Some(entry) = self.entry(tag) else {
            return Ok(None);
        };
        if entry.kind != Kind::Bin {
            return Err(Self::type_error(entry, "binary data"));
        }
        self.fixed_bytes(entry, 1).map(Some)
    }

    fn fixed_bytes(&self, entry: Entry, size: usize) -> Result<&'a [u8], ParseError> {
        // Bounds were checked in `parse`; checked again rather than trusted.
        entry
            .count
            .checked_mul(size)
            .and_then(|len| self.store.get(entry.offset..entry.offset.checked_add(len)?))
            .ok_or_else(|| {
                ParseError::binary(
                    "rpm header",
                    entry.offset,
                    format!("tag {} runs past the data", entry.tag),
                )
            })
    }
}
