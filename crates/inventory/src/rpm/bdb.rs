//! rpm's Berkeley DB backend (`Packages`, a BDB hash database).
//!
//! Only the parts rpm uses are read: the hash metadata page, hash pages and
//! the overflow-page chains that hold each package's header blob (headers
//! are always larger than the in-page item limit, so rpm's values are
//! off-page items). Layout as in Berkeley DB's `db_page.h`; reading every
//! hash page in file order instead of walking buckets is what go-rpmdb does.

use crate::error::ParseError;

const HASH_MAGIC: u32 = 0x0006_1561;
/// Generic page header size (`PAGE` struct without the index array).
const PAGE_HEADER: usize = 26;
/// Page types (`P_*`).
const P_HASH_UNSORTED: u8 = 2;
const P_OVERFLOW: u8 = 7;
const P_HASH: u8 = 13;
/// Hash item type of an off-page (overflow) value (`H_OFFPAGE`).
const H_OFFPAGE: u8 = 3;

struct Reader<'a> {
    data: &'a [u8],
    swapped: bool,
    page_size: usize,
    last_page: usize,
}

impl<'a> Reader<'a> {
    fn u32_at(&self, bytes: &[u8], at: usize) -> Option<u32> {
        let b = super::bytes_at(bytes, at)?;
        Some(if self.swapped {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        })
    }

    fn u16_at(&self, bytes: &[u8], at: usize) -> Option<u16> {
        let b = super::bytes_at(bytes, at)?;
        Some(if self.swapped {
            u16::from_be_bytes(b)
        } else {
            u16::from_le_bytes(b)
        })
    }

    fn page(&self, number: usize) -> Result<&'a [u8], ParseError> {
        number
            .checked_mul(self.page_size)
            .and_then(|start| self.data.get(start..start.checked_add(self.page_size)?))
            .ok_or_else(|| {
                ParseError::binary(
                    "Berkeley DB page",
                    number,
                    "page lies past the end of the file",
                )
            })
    }

    /// Concatenates an overflow chain starting at `first`, expecting `length` bytes.
    fn overflow(&self, first: usize, length: usize) -> Result<Vec<u8>, ParseError> {
        let bad = |page: usize, reason: &str| {
            ParseError::binary("Berkeley DB overflow page", page, reason)
        };
        let mut value = Vec::with_capacity(length.min(self.data.len()));
        let mut number = first;
        let mut visited = 0usize;
        while number != 0 {
            visited += 1;
            // A chain longer than the file has pages loops back on itself.
            if visited > self.last_page + 1 || number > self.last_page {
                return Err(bad(number, "overflow chain loops or leaves the file"));
            }
            let page = self.page(number)?;
            if page.get(25) != Some(&P_OVERFLOW) {
                return Err(bad(
                    number,
                    "chain points at a page that is not an overflow page",
                ));
            }
            let next =
                self.u32_at(page, 16)
                    .ok_or_else(|| bad(number, "truncated page header"))? as usize;
            // On overflow pages `hf_offset` holds the number of bytes used.
            let used = usize::from(
                self.u16_at(page, 22)
                    .ok_or_else(|| bad(number, "truncated page header"))?,
            );
            let chunk = page
                .get(PAGE_HEADER..PAGE_HEADER + used)
                .ok_or_else(|| bad(number, "used length exceeds the page"))?;
            value.extend_from_slice(chunk);
            if value.len() > length {
                return Err(bad(number, "chain is longer than its item says"));
            }
            number = next;
        }
        if value.len() != length {
            return Err(bad(first, "chain is shorter than its item says"));
        }
        Ok(value)
    }
}

/// Reads the header blob of every package.
///
/// # Errors
/// When the metadata page is not a Berkeley DB hash database or a page,
/// item or overflow chain is inconsistent.
pub fn read_blobs(data: &[u8]) -> Result<Vec<Vec<u8>>, ParseError> {
    let bad = |offset: usize, reason: &str| {
        ParseError::binary("Berkeley DB metadata page", offset, reason)
    };
    let magic_bytes: [u8; 4] = data
        .get(12..16)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| bad(0, "file too short"))?;
    let swapped = if u32::from_le_bytes(magic_bytes) == HASH_MAGIC {
        false
    } else if u32::from_be_bytes(magic_bytes) == HASH_MAGIC {
        true
    } else {
        return Err(bad(12, "not a Berkeley DB hash database (bad magic)"));
    };
    let mut reader = Reader {
        data,
        swapped,
        page_size: 0,
        last_page: 0,
    };
    let page_size = reader.u32_at(data, 20).unwrap_or(0) as usize;
    if !(512..=65536).contains(&page_size) || !page_size.is_power_of_two() {
        return Err(bad(
            20,
            "page size is not a power of two between 512 and 65536",
        ));
    }
    if data.get(24).is_some_and(|&encrypted| encrypted != 0) {
        return Err(bad(24, "encrypted databases are not supported"));
    }
    let last_page = reader.u32_at(data, 32).unwrap_or(0) as usize;
    if last_page
        .checked_add(1)
        .and_then(|n| n.checked_mul(page_size))
        .is_none_or(|end| end > data.len())
    {
        return Err(bad(32, "last page number lies past the end of the file"));
    }
    reader.page_size = page_size;
    reader.last_page = last_page;

    let mut blobs = Vec::new();
    // In a real database each overflow page belongs to one value, so the
    // values never add up to more than the file. A hostile one could point
    // many items at one long chain; this bound keeps memory proportional.
    let mut total = 0usize;
    for number in 1..=last_page {
        let page = reader.page(number)?;
        if !matches!(page.get(25), Some(&P_HASH | &P_HASH_UNSORTED)) {
            continue;
        }
        let entries = usize::from(reader.u16_at(page, 20).unwrap_or(0));
        // Items come in key/value pairs; the values are the odd ones.
        for item in (1..entries).step_by(2) {
            let item_offset = reader.u16_at(page, PAGE_HEADER + 2 * item).ok_or_else(|| {
                ParseError::binary("Berkeley DB hash page", number, "index runs past the page")
            })?;
            let item_offset = usize::from(item_offset);
            if page.get(item_offset) != Some(&H_OFFPAGE) {
                continue;
            }
            // HOFFPAGE: type, 3 unused bytes, first overflow page, total length.
            let (Some(first), Some(length)) = (
                reader.u32_at(page, item_offset + 4),
                reader.u32_at(page, item_offset + 8),
            ) else {
                return Err(ParseError::binary(
                    "Berkeley DB hash page",
                    number,
                    "off-page item runs past the page",
                ));
            };
            total = total.saturating_add(length as usize);
            if total > data.len() {
                return Err(ParseError::binary(
                    "Berkeley DB hash page",
                    number,
                    "values add up to more than the file",
                ));
            }
            blobs.push(reader.overflow(first as usize, length as usize)?);
        }
    }
    Ok(blobs)
}
