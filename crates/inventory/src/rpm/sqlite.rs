//! rpm's sqlite backend (`rpmdb.sqlite`, rpm ≥ 4.16): a `Packages` table of
//! `(hnum INTEGER PRIMARY KEY, blob BLOB)`.
//!
//! The database is already in memory (the layers stage kept it), so it is
//! handed to sqlite with `sqlite3_deserialize` instead of being written to a
//! temporary file. rpm leaves its database in WAL mode, which the in-memory
//! VFS cannot open: the copy's header is switched back to rollback mode, and
//! committed frames of a non-empty `-wal` file are applied to the copy first.

use crate::error::ParseError;
use rusqlite::{Connection, OpenFlags};

/// The write-ahead log next to the database.
pub(crate) const WAL_FILE_NAME: &str = "rpmdb.sqlite-wal";
/// sqlite's own database header.
const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";
/// Largest database opened: far above any real rpmdb (tens of MiB).
const MAX_DB_BYTES: usize = 1 << 30;
/// sqlite VM steps allowed before a hostile schema (a `Packages` view doing
/// endless work) is stopped; a real 2,000-package database needs far fewer.
const MAX_VM_STEPS: u64 = 200_000_000;

/// Reads every header blob of `Packages`, in `hnum` order.
///
/// # Errors
/// When the file is not a sqlite database, sqlite reports it corrupt, or it
/// has no `Packages` table.
pub fn read_blobs(data: &[u8], wal: Option<&[u8]>) -> Result<Vec<Vec<u8>>, ParseError> {
    if data.len() > MAX_DB_BYTES {
        return Err(ParseError::TooLarge {
            what: "rpm sqlite database",
            limit: MAX_DB_BYTES as u64,
        });
    }
    if data.len() < 100 || !data.starts_with(SQLITE_MAGIC) {
        return Err(ParseError::binary(
            "rpm sqlite database",
            0usize,
            "not a sqlite 3 database",
        ));
    }
    let mut image = data.to_vec();
    if let Some(wal) = wal.filter(|w| !w.is_empty()) {
        apply_wal(&mut image, wal)?;
    }
    // File format read/write versions 2 mean WAL; 1 is rollback journal mode.
    image[18] = 1;
    image[19] = 1;

    let sqlite_error = |e: rusqlite::Error| ParseError::Sqlite(e.to_string());
    let mut connection = Connection::open_in_memory_with_flags(
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(sqlite_error)?;
    let steps = std::sync::atomic::AtomicU64::new(0);
    let steps = std::sync::Arc::new(steps);
    let counter = std::sync::Arc::clone(&steps);
    // Called every 1000 VM instructions; returning true interrupts the query.
    connection.progress_handler(
        1000,
        Some(move || counter.fetch_add(1000, std::sync::atomic::Ordering::Relaxed) > MAX_VM_STEPS),
    );
    let size = image.len();
    connection
        .deserialize_read_exact("main", std::io::Cursor::new(image), size, true)
        .map_err(sqlite_error)?;

    let is_table: bool = connection
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'Packages'",
            [],
            |row| row.get::<_, i64>(0),
        )
        .map(|n| n == 1)
        .map_err(sqlite_error)?;
    if !is_table {
        return Err(ParseError::Sqlite("no Packages table".into()));
    }
    let mut statement = connection
        .prepare("SELECT blob FROM Packages ORDER BY hnum")
        .map_err(sqlite_error)?;
    let rows = statement
        .query_map([], |row| row.get::<_, Vec<u8>>(0))
        .map_err(sqlite_error)?;
    rows.collect::<Result<Vec<_>, _>>().map_err(sqlite_error)
}

/// Applies the committed frames of a write-ahead log to the database image,
/// as sqlite would on open. Frames after the last valid commit (or with a
/// wrong salt or checksum, i.e. left over from an older log) are ignored.
fn apply_wal(image: &mut Vec<u8>, wal: &[u8]) -> Result<(), ParseError> {
    let bad = |offset: usize, reason: &str| {
        ParseError::binary("rpm sqlite write-ahead log", offset, reason)
    };
    let be32 = |bytes: &[u8], at: usize| -> u32 {
        super::bytes_at(bytes, at).map_or(0, u32::from_be_bytes)
    };
    if wal.len() < 32 {
        return Err(bad(0, "shorter than its 32-byte header"));
    }
    let magic = be32(wal, 0);
    let big_endian = match magic {
        0x377f_0682 => false,
        0x377f_0683 => true,
        _ => return Err(bad(0, "bad magic")),
    };
    let page_size = be32(wal, 8) as usize;
    let db_page_size = match u16::from_be_bytes([image[16], image[17]]) {
        1 => 65536,
        n => usize::from(n),
    };
    if page_size != db_page_size || !page_size.is_power_of_two() || page_size < 512 {
        return Err(bad(8, "page size differs from the database's"));
    }
    let (salt1, salt2) = (be32(wal, 16), be32(wal, 20));
    let mut sums = checksum(&wal[..24], (0, 0), big_endian);
    if sums != (be32(wal, 24), be32(wal, 28)) {
        // A log whose header does not verify is ignored by sqlite too.
        return Ok(());
    }
    let frame_size = 24 + page_size;
    let mut pending: Vec<(usize, usize)> = Vec::new(); // (page number, frame offset)
    let mut committed: Vec<(usize, usize)> = Vec::new();
    let mut committed_pages = None;
    let mut offset = 32;
    while let Some(frame) = wal.get(offset..offset + frame_size) {
        if be32(frame, 8) != salt1 || be32(frame, 12) != salt2 {
            break;
        }
        sums = checksum(&frame[..8], sums, big_endian);
        sums = checksum(&frame[24..], sums, big_endian);
        if sums != (be32(frame, 16), be32(frame, 20)) {
            break;
        }
        let page = be32(frame, 0) as usize;
        if page == 0 {
            break;
        }
        pending.push((page, offset + 24));
        let db_pages = be32(frame, 4) as usize;
        if db_pages != 0 {
            committed.append(&mut pending);
            committed_pages = Some(db_pages);
        }
        offset += frame_size;
    }
    let Some(db_pages) = committed_pages else {
        return Ok(());
    };
    let new_len = db_pages
        .checked_mul(page_size)
        .filter(|&n| n <= MAX_DB_BYTES)
        .ok_or(ParseError::TooLarge {
            what: "rpm sqlite database after its write-ahead log",
            limit: MAX_DB_BYTES as u64,
        })?;
    image.resize(new_len, 0);
    for (page, at) in committed {
        let start = (page - 1) * page_size;
        if let (Some(target), Some(source)) = (
            image.get_mut(start..start + page_size),
            wal.get(at..at + page_size),
        ) {
            target.copy_from_slice(source);
        }
    }
    Ok(())
}

/// sqlite's WAL checksum over 32-bit words (`walChecksumBytes`).
fn checksum(bytes: &[u8], (mut s0, mut s1): (u32, u32), big_endian: bool) -> (u32, u32) {
    let word = |c: &[u8]| {
        let b = [c[0], c[1], c[2], c[3]];
        if big_endian {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        }
    };
    for pair in bytes.chunks_exact(8) {
        s0 = s0.wrapping_add(word(&pair[..4])).wrapping_add(s1);
        s1 = s1.wrapping_add(word(&pair[4..])).wrapping_add(s0);
    }
    (s0, s1)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A database whose last transactions are still only in its write-ahead
    /// log: the committed rows are read, an uncommitted tail is not.
    #[test]
    fn committed_wal_frames_are_applied() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rpmdb.sqlite");
        let writer = Connection::open(&path).unwrap();
        writer
            .execute_batch(
                "PRAGMA journal_mode=WAL; PRAGMA wal_autocheckpoint=0;
                 CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL);
                 PRAGMA wal_checkpoint(TRUNCATE);
                 INSERT INTO Packages (blob) VALUES (x'0102'), (x'0304');",
            )
            .unwrap();
        let db = std::fs::read(&path).unwrap();
        let wal = std::fs::read(dir.path().join("rpmdb.sqlite-wal")).unwrap();
        assert!(!wal.is_empty());
        assert_eq!(
            read_blobs(&db, Some(&wal)).unwrap(),
            [vec![1, 2], vec![3, 4]]
        );
        // Without its log the checkpointed database has the table but no rows.
        assert!(read_blobs(&db, None).unwrap().is_empty());
        // A log cut inside its last frame loses only that frame's transaction.
        let cut = &wal[..wal.len() - 10];
        assert!(read_blobs(&db, Some(cut)).unwrap().len() < 2);
        drop(writer);
    }

    #[test]
    fn hostile_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.sqlite");
        let writer = Connection::open(&path).unwrap();
        writer
            .execute_batch("CREATE VIEW Packages AS SELECT 1 AS hnum, x'00' AS blob;")
            .unwrap();
        drop(writer);
        let err = read_blobs(&std::fs::read(&path).unwrap(), None).unwrap_err();
        assert_eq!(err, ParseError::Sqlite("no Packages table".into()));
    }
}
