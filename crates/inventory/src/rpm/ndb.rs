//! rpm's own ndb backend (`Packages.db`, SUSE since 15 SP3), after rpm's
//! `lib/backend/ndb/rpmpkg.c`: a 32-byte header, slot pages mapping package
//! indexes to blob locations, and blobs framed by a head and a checksummed
//! tail. All integers are little-endian.

use crate::error::ParseError;

const HEADER_MAGIC: u32 = u32::from_le_bytes(*b"RpmP");
const SLOT_MAGIC: u32 = u32::from_le_bytes(*b"Slot");
const BLOB_HEAD_MAGIC: u32 = u32::from_le_bytes(*b"BlbS");
const BLOB_TAIL_MAGIC: u32 = u32::from_le_bytes(*b"BlbE");
const PAGE_SIZE: usize = 4096;
const SLOT_SIZE: usize = 16;
const BLOCK_SIZE: usize = 16;
const BLOB_HEAD_SIZE: usize = 16;
const BLOB_TAIL_SIZE: usize = 12;
/// go-rpmdb's bound on slot pages; 2048 pages hold over 500,000 packages.
const MAX_SLOT_PAGES: usize = 2048;

fn le32(data: &[u8], at: usize) -> Option<u32> {
    super::bytes_at(data, at).map(u32::from_le_bytes)
}

/// Reads the header blob of every package, in slot order.
///
/// # Errors
/// When the header, a slot, or a blob's head, tail or checksum is wrong.
pub fn read_blobs(data: &[u8]) -> Result<Vec<Vec<u8>>, ParseError> {
    let bad = |offset: usize, reason: String| ParseError::binary("ndb database", offset, reason);
    if le32(data, 0) != Some(HEADER_MAGIC) {
        return Err(bad(0, "not an rpm ndb database (bad magic)".into()));
    }
    if le32(data, 4) != Some(0) {
        return Err(bad(4, "unsupported ndb version".into()));
    }
    let slot_pages = le32(data, 12).unwrap_or(0) as usize;
    if slot_pages == 0 || slot_pages > MAX_SLOT_PAGES {
        return Err(bad(12, format!("implausible slot page count {slot_pages}")));
    }
    let slots_end = slot_pages * PAGE_SIZE;
    if slots_end > data.len() {
        return Err(bad(12, "slot pages run past the end of the file".into()));
    }
    let mut blobs = Vec::new();
    // Slots of a real database never share blocks; bounding the total by the
    // file size stops hostile overlapping slots from multiplying memory.
    let mut total = 0usize;
    // The first two slot-sized records are the database header.
    for at in (2 * SLOT_SIZE..slots_end).step_by(SLOT_SIZE) {
        let field = |n: usize| le32(data, at + 4 * n).unwrap_or(0);
        if field(0) != SLOT_MAGIC {
            return Err(bad(at, "bad slot magic".into()));
        }
        let (package_index, block_offset, block_count) =
            (field(1), field(2) as usize, field(3) as usize);
        if package_index == 0 {
            continue; // a free slot
        }
        total = total.saturating_add(block_count.saturating_mul(BLOCK_SIZE));
        if total > data.len() {
            return Err(bad(at, "slots add up to more than the file".into()));
        }
        blobs.push(read_blob(data, package_index, block_offset, block_count)?);
    }
    Ok(blobs)
}

fn read_blob(
    data: &[u8],
    package_index: u32,
    block_offset: usize,
    block_count: usize,
) -> Result<Vec<u8>, ParseError> {
    let start = block_offset.saturating_mul(BLOCK_SIZE);
    let bad = |reason: &str| {
        ParseError::binary(
            "ndb blob",
            start,
            format!("package {package_index}: {reason}"),
        )
    };
    let end = block_count
        .checked_mul(BLOCK_SIZE)
        .and_then(|len| start.checked_add(len));
    let region = end
        .and_then(|end| data.get(start..end))
        .ok_or_else(|| bad("lies past the end of the file"))?;
    if region.len() < BLOB_HEAD_SIZE + BLOB_TAIL_SIZE {
        return Err(bad("too small for its head and tail"));
    }
    if le32(region, 0) != Some(BLOB_HEAD_MAGIC) {
        return Err(bad("bad blob magic"));
    }
    if le32(region, 4) != Some(package_index) {
        return Err(bad("blob belongs to another package"));
    }
    let length = le32(region, 12).unwrap_or(0) as usize;
    if (BLOB_HEAD_SIZE + length + BLOB_TAIL_SIZE).div_ceil(BLOCK_SIZE) != block_count {
        return Err(bad("blob length disagrees with its slot"));
    }
    let blob = region
        .get(BLOB_HEAD_SIZE..BLOB_HEAD_SIZE + length)
        .ok_or_else(|| bad("truncated"))?;
    let tail = region.len() - BLOB_TAIL_SIZE;
    if le32(region, tail + 4) != Some(length as u32)
        || le32(region, tail + 8) != Some(BLOB_TAIL_MAGIC)
    {
        return Err(bad("bad blob tail"));
    }
    // Adler-32 over everything before the tail: head, data and padding.
    let checksum = adler32(1, &region[..tail]);
    if le32(region, tail) != Some(checksum) {
        return Err(bad("checksum mismatch"));
    }
    Ok(blob.to_vec())
}

fn adler32(start: u32, bytes: &[u8]) -> u32 {
    const MOD: u32 = 65521;
    let (mut a, mut b) = (start & 0xffff, start >> 16);
    // 5552 bytes is the most that can be summed before `b` could overflow.
    for chunk in bytes.chunks(5552) {
        for &byte in chunk {
            a += u32::from(byte);
            b += a;
        }
        a %= MOD;
        b %= MOD;
    }
    (b << 16) | a
}
