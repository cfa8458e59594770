//! The snapshot file: every database, every key with its value and absolute
//! expiry, serialized with rmp-serde (MessagePack), checksummed.
//!
//! # Layout
//!
//! ```text
//! header   magic "FRTSNAP\0" | format version u32 LE | engine version
//!          (u16 LE length + UTF-8) | created Unix ms u64 LE | CRC-32 of
//!          the header so far u32 LE
//! body     MessagePack: [[db_index, [[key, expire_at_ms, value], ...]], ...]
//!          (only non-empty databases; `value` is a string value's bytes
//!          as a plain `bin`, or any other `types::Value` as serde writes
//!          it, variants by name; format 1 wrote strings that way too)
//! trailer  body length u64 LE | CRC-32 of the body u32 LE | "FEND"
//! ```
//!
//! Writing goes to `<name>.tmp`, which is fsynced, renamed into place, and
//! the directory fsynced, so a snapshot file either is whole or does not
//! exist. Reading maps the file (memmap2), checks both checksums, then
//! deserializes straight into the databases without an intermediate copy,
//! each database pre-sized from its entry count (the MessagePack array
//! header), so a large load never rehashes the index. A key present twice
//! is refused (it would break the keyspace index).
//!
//! Strings (the common value) are written as bare `bin`s rather than as the
//! enum's one-entry map: a third smaller per value to decode, and the load
//! path tells them apart from other types by the MessagePack type alone.

use super::crc::{crc32, Crc32};
use super::files::fsync_dir;
use super::OpenError;
use crate::engine::NUM_DBS;
use crate::keyspace::{Db, Entry};
use crate::types::{Sso, Value};
use serde::ser::{SerializeSeq, SerializeTuple};
use serde::{Serialize, Serializer};
use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::Path;

/// First bytes of every snapshot.
pub const MAGIC: &[u8; 8] = b"FRTSNAP\0";
/// Current format version. Bump it when the body's shape changes.
pub const FORMAT_VERSION: u32 = 2;
/// The oldest format this version still reads (format 1 differs only in
/// writing string values through the enum).
pub const OLDEST_READABLE: u32 = 1;
const TRAILER_MAGIC: &[u8; 4] = b"FEND";
const TRAILER_LEN: usize = 8 + 4 + 4;

struct EntrySer<'a>(&'a Entry);

impl Serialize for EntrySer<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut t = s.serialize_tuple(3)?;
        t.serialize_element(&self.0.key)?;
        t.serialize_element(&self.0.expire_at)?;
        match &self.0.value {
            Value::Str(v) => t.serialize_element(v)?,
            other => t.serialize_element(other)?,
        }
        t.end()
    }
}

struct EntriesSer<'a>(&'a [Entry]);

impl Serialize for EntriesSer<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for e in self.0 {
            seq.serialize_element(&EntrySer(e))?;
        }
        seq.end()
    }
}

struct DbsSer<'a>(&'a [&'a [Entry]]);

impl Serialize for DbsSer<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let n = self.0.iter().filter(|e| !e.is_empty()).count();
        let mut seq = s.serialize_seq(Some(n))?;
        for (i, entries) in self.0.iter().enumerate() {
            if !entries.is_empty() {
                seq.serialize_element(&(i as u32, EntriesSer(entries)))?;
            }
        }
        seq.end()
    }
}

/// A writer that checksums and counts what passes through.
struct Summing<W> {
    inner: W,
    crc: Crc32,
    len: u64,
}

impl<W: Write> Write for Summing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.crc.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Bytes written between two `fdatasync`s of a snapshot being written.
const SYNC_CHUNK: u64 = 8 << 20;

/// A file written in bounded bursts: it is synced every [`SYNC_CHUNK`]
/// bytes, so the final fsync (and the log's own fsyncs, which may wait for
/// the same journal commit) never has a whole snapshot's dirty pages to
/// push at once.
struct Paced {
    file: File,
    since_sync: u64,
}

impl Write for Paced {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        self.since_sync += n as u64;
        if self.since_sync >= SYNC_CHUNK {
            self.file.sync_data()?;
            self.since_sync = 0;
        }
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

fn header(created_ms: u64) -> Vec<u8> {
    header_of(FORMAT_VERSION, created_ms)
}

fn header_of(format: u32, created_ms: u64) -> Vec<u8> {
    let version = env!("CARGO_PKG_VERSION").as_bytes();
    let mut h = Vec::with_capacity(32 + version.len());
    h.extend_from_slice(MAGIC);
    h.extend_from_slice(&format.to_le_bytes());
    h.extend_from_slice(&(version.len() as u16).to_le_bytes());
    h.extend_from_slice(version);
    h.extend_from_slice(&created_ms.to_le_bytes());
    let crc = crc32(&h);
    h.extend_from_slice(&crc.to_le_bytes());
    h
}

/// Writes the entries of each database (index = database number) to
/// `path` durably: temp file, fsync, rename, directory fsync. Returns the
/// file's size.
pub fn write(path: &Path, dbs: &[&[Entry]], created_ms: u64) -> io::Result<u64> {
    let tmp = path.with_extension("snap.tmp");
    let result = (|| {
        let file = Paced {
            file: File::create(&tmp)?,
            since_sync: 0,
        };
        let mut w = BufWriter::with_capacity(1 << 20, file);
        let head = header(created_ms);
        w.write_all(&head)?;
        let mut body = Summing {
            inner: w,
            crc: Crc32::new(),
            len: 0,
        };
        rmp_serde::encode::write(&mut body, &DbsSer(dbs)).map_err(io::Error::other)?;
        let (crc, len, mut w) = (body.crc.finish(), body.len, body.inner);
        w.write_all(&len.to_le_bytes())?;
        w.write_all(&crc.to_le_bytes())?;
        w.write_all(TRAILER_MAGIC)?;
        let file = w.into_inner().map_err(|e| e.into_error())?.file;
        file.sync_all()?;
        Ok(head.len() as u64 + len + TRAILER_LEN as u64)
    })();
    match result {
        Ok(size) => {
            fs::rename(&tmp, path)?;
            if let Some(dir) = path.parent() {
                fsync_dir(dir)?;
            }
            Ok(size)
        }
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            Err(e)
        }
    }
}

/// Writes the live databases to `path` (see [`write`]).
pub fn write_dbs(path: &Path, dbs: &[Db], created_ms: u64) -> io::Result<u64> {
    let views: Vec<&[Entry]> = dbs.iter().map(Db::entries).collect();
    write(path, &views, created_ms)
}

/// What a loaded snapshot said about itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapshotInfo {
    /// The engine version that wrote it.
    pub engine_version: String,
    /// When it was written (Unix ms).
    pub created_ms: u64,
    /// Keys loaded.
    pub keys: u64,
    /// File size in bytes.
    pub size: u64,
}

/// Loads the snapshot at `path` into `dbs` (which must be empty), stamping
/// each entry's LRU/LFU field with `lru`.
pub fn load(path: &Path, dbs: &mut [Db], lru: u32) -> Result<SnapshotInfo, OpenError> {
    let corrupt = |offset: u64, message: String| OpenError::Corrupt {
        file: path.to_path_buf(),
        offset,
        message,
    };
    let file = File::open(path).map_err(|e| OpenError::io(path, e))?;
    // SAFETY: the file is ours (the directory lock is held) and no one
    // writes a snapshot in place: they are only created by rename.
    let map = unsafe { memmap2::Mmap::map(&file) }.map_err(|e| OpenError::io(path, e))?;
    let buf: &[u8] = &map;
    if buf.len() < MAGIC.len() || &buf[..MAGIC.len()] != MAGIC {
        return Err(corrupt(0, "not a Ferrite snapshot (bad magic)".into()));
    }
    let mut p = MAGIC.len();
    let need = |p: usize, n: usize| -> Result<(), OpenError> {
        if buf.len() < p + n {
            Err(corrupt(
                buf.len() as u64,
                "the snapshot is truncated".into(),
            ))
        } else {
            Ok(())
        }
    };
    need(p, 6)?;
    let version = u32::from_le_bytes(buf[p..p + 4].try_into().unwrap());
    let vlen = u16::from_le_bytes(buf[p + 4..p + 6].try_into().unwrap()) as usize;
    p += 6;
    need(p, vlen + 12)?;
    let engine_version = String::from_utf8_lossy(&buf[p..p + vlen]).into_owned();
    p += vlen;
    let created_ms = u64::from_le_bytes(buf[p..p + 8].try_into().unwrap());
    p += 8;
    let head_crc = u32::from_le_bytes(buf[p..p + 4].try_into().unwrap());
    if head_crc != crc32(&buf[..p]) {
        return Err(corrupt(0, "header checksum mismatch".into()));
    }
    if !(OLDEST_READABLE..=FORMAT_VERSION).contains(&version) {
        return Err(corrupt(
            MAGIC.len() as u64,
            format!("unsupported snapshot format version {version} (written by Ferrite {engine_version})"),
        ));
    }
    p += 4;
    let body_start = p;
    need(p, TRAILER_LEN)?;
    let t = buf.len() - TRAILER_LEN;
    if &buf[t + 12..] != TRAILER_MAGIC {
        return Err(corrupt(
            t as u64,
            "the snapshot is truncated or its trailer is damaged".into(),
        ));
    }
    let body_len = u64::from_le_bytes(buf[t..t + 8].try_into().unwrap());
    if body_len != (t - body_start) as u64 {
        return Err(corrupt(t as u64, "body length mismatch".into()));
    }
    let body = &buf[body_start..t];
    let body_crc = u32::from_le_bytes(buf[t + 8..t + 12].try_into().unwrap());
    if crc32(body) != body_crc {
        return Err(corrupt(body_start as u64, "body checksum mismatch".into()));
    }
    let keys = decode_body(body, dbs, lru)
        .map_err(|m| corrupt(body_start as u64, format!("undecodable snapshot body: {m}")))?;
    Ok(SnapshotInfo {
        engine_version,
        created_ms,
        keys,
        size: buf.len() as u64,
    })
}

/// Reads the body straight into `dbs`: the outer MessagePack structure
/// and string values by hand (the shapes rmp-serde writes: arrays,
/// unsigned integers in their shortest form, `bin`s), any other value
/// through rmp-serde. Each database is reserved from its entry count
/// first. Returns the number of keys loaded.
fn decode_body(body: &[u8], dbs: &mut [Db], lru: u32) -> Result<u64, String> {
    let mut b = Body { buf: body, pos: 0 };
    // No entry takes fewer than 4 bytes: a bound on what a (checksummed
    // but hostile) array header can make us reserve.
    let max_entries = body.len() / 4;
    let mut total = 0u64;
    for _ in 0..b.array_len()? {
        if b.array_len()? != 2 {
            return Err("a database is not [index, entries]".into());
        }
        let index = b.uint()?;
        if index >= NUM_DBS.min(dbs.len()) as u64 {
            return Err(format!("database index {index} out of range"));
        }
        let db = &mut dbs[index as usize];
        let n = b.array_len()?;
        db.reserve(n.min(max_entries));
        for _ in 0..n {
            if b.array_len()? != 3 {
                return Err("an entry is not [key, expire_at, value]".into());
            }
            let key = b.bin()?.ok_or("a key is not a byte string")?;
            let expire_at = b.uint()?;
            let value = b.value()?;
            if db.find(key).is_some() {
                return Err(format!("key {:?} appears twice", Sso::new(key)));
            }
            let pos = db.insert_new(key, value, lru);
            if expire_at != 0 {
                db.set_expire(pos, expire_at);
            }
            total += 1;
        }
    }
    if b.pos != body.len() {
        return Err(format!("{} bytes after the databases", body.len() - b.pos));
    }
    Ok(total)
}

/// A MessagePack cursor over the snapshot body.
struct Body<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Body<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.buf.len())
            .ok_or("the body ends inside a value")?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn byte(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }

    /// An `n`-byte big-endian unsigned integer.
    fn be(&mut self, n: usize) -> Result<u64, String> {
        Ok(self.take(n)?.iter().fold(0u64, |v, &b| (v << 8) | b as u64))
    }

    fn array_len(&mut self) -> Result<usize, String> {
        match self.byte()? {
            b @ 0x90..=0x9f => Ok((b & 0x0f) as usize),
            0xdc => Ok(self.be(2)? as usize),
            0xdd => Ok(self.be(4)? as usize),
            b => Err(format!("expected an array, found marker {b:#04x}")),
        }
    }

    fn uint(&mut self) -> Result<u64, String> {
        match self.byte()? {
            b @ 0x00..=0x7f => Ok(b as u64),
            0xcc => self.be(1),
            0xcd => self.be(2),
            0xce => self.be(4),
            0xcf => self.be(8),
            b => Err(format!(
                "expected an unsigned integer, found marker {b:#04x}"
            )),
        }
    }

    /// A `bin` at the cursor (consumed), or `None` (nothing consumed).
    fn bin(&mut self) -> Result<Option<&'a [u8]>, String> {
        let n = match self.buf.get(self.pos) {
            Some(0xc4) => 1,
            Some(0xc5) => 2,
            Some(0xc6) => 4,
            _ => return Ok(None),
        };
        self.pos += 1;
        let len = self.be(n)? as usize;
        self.take(len).map(Some)
    }

    /// A value: a bare `bin` is a string (format 2); anything else is a
    /// `types::Value` as serde writes it, decoded by rmp-serde.
    fn value(&mut self) -> Result<Value, String> {
        if let Some(b) = self.bin()? {
            return Ok(Value::Str(Sso::new(b)));
        }
        let mut de = rmp_serde::Deserializer::new(io::Cursor::new(&self.buf[self.pos..]));
        let v = <Value as serde::Deserialize>::deserialize(&mut de).map_err(|e| e.to_string())?;
        self.pos += de.position() as usize;
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::list::List;

    fn file_of(format: u32, body: &[u8]) -> Vec<u8> {
        let mut f = header_of(format, 1);
        f.extend_from_slice(body);
        f.extend_from_slice(&(body.len() as u64).to_le_bytes());
        f.extend_from_slice(&crc32(body).to_le_bytes());
        f.extend_from_slice(TRAILER_MAGIC);
        f
    }

    fn load_bytes(name: &str, bytes: &[u8]) -> Result<Vec<Db>, OpenError> {
        let dir = std::env::temp_dir().join(format!("ferrite-snap-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.snap");
        std::fs::write(&path, bytes).unwrap();
        let mut dbs: Vec<Db> = (0..NUM_DBS).map(|_| Db::new()).collect();
        let r = load(&path, &mut dbs, 0).map(|_| dbs);
        let _ = std::fs::remove_dir_all(&dir);
        r
    }

    fn str_of(db: &Db, key: &[u8]) -> Option<Vec<u8>> {
        match &db.at(db.find(key)?).value {
            Value::Str(s) => Some(s.as_bytes().to_vec()),
            _ => None,
        }
    }

    #[test]
    fn format_1_snapshots_still_load() {
        // Format 1 wrote every value, strings included, as serde's enum.
        let mut list = List::default();
        list.items.push_back(Sso::new(b"a"));
        let dbs = vec![
            (
                0u32,
                vec![
                    (Sso::new(b"s"), 0u64, Value::Str(Sso::new(b"v1"))),
                    (Sso::new(b"l"), 0u64, Value::List(Box::new(list))),
                ],
            ),
            (
                3u32,
                vec![(Sso::new(b"t"), 99u64, Value::Str(Sso::new(&[7; 40])))],
            ),
        ];
        let body = rmp_serde::to_vec(&dbs).unwrap();
        let got = load_bytes("v1", &file_of(1, &body)).unwrap();
        assert_eq!(str_of(&got[0], b"s"), Some(b"v1".to_vec()));
        let l = got[0].find(b"l").unwrap();
        assert!(matches!(&got[0].at(l).value, Value::List(x) if x.len() == 1));
        assert_eq!(str_of(&got[3], b"t"), Some(vec![7; 40]));
        assert_eq!(got[3].at(got[3].find(b"t").unwrap()).expire_at, 99);
    }

    #[test]
    fn strings_are_bare_bins_and_round_trip() {
        let mut db = Db::new();
        db.insert_new(b"k", Value::Str(Sso::new(b"val")), 0);
        let long = vec![b'x'; 300];
        let p = db.insert_new(b"long", Value::Str(Sso::new(&long)), 0);
        db.set_expire(p, 12345);
        let views = [db.entries()];
        let body = rmp_serde::to_vec(&DbsSer(&views)).unwrap();
        // [[0, [[bin "k", 0, bin "val"], ...]]]: the value is a bin (0xc4).
        assert_eq!(
            &body[..8],
            &[0x91, 0x92, 0x00, 0x92, 0x93, 0xc4, 0x01, b'k']
        );
        assert_eq!(&body[8..11], &[0x00, 0xc4, 0x03]);
        let got = load_bytes("v2", &file_of(FORMAT_VERSION, &body)).unwrap();
        assert_eq!(str_of(&got[0], b"k"), Some(b"val".to_vec()));
        assert_eq!(str_of(&got[0], b"long"), Some(long));
        assert_eq!(got[0].at(got[0].find(b"long").unwrap()).expire_at, 12345);
    }

    #[test]
    fn malformed_bodies_are_refused() {
        let bad: &[&[u8]] = &[
            &[0x91, 0x92, 0x10, 0x90],                         // db index 16
            &[0x91, 0x92, 0x00, 0x91, 0x92, 0xc4],             // entry of 2
            &[0x91, 0x92, 0x00, 0x91, 0x93, 0xc4, 0x05],       // key runs off
            &[0x91, 0x92, 0x00, 0x90, 0x00],                   // trailing byte
            &[0x91, 0x92, 0x00, 0xdd, 0xff, 0xff, 0xff, 0xff], // huge count
            // the same key twice
            &[
                0x91, 0x92, 0x00, 0x92, 0x93, 0xc4, 1, b'k', 0, 0xc4, 0, 0x93, 0xc4, 1, b'k', 0,
                0xc4, 0,
            ],
        ];
        for (i, body) in bad.iter().enumerate() {
            match load_bytes(&format!("bad{i}"), &file_of(FORMAT_VERSION, body)) {
                Err(OpenError::Corrupt { message, .. }) => {
                    assert!(message.contains("undecodable"), "{i}: {message}")
                }
                other => panic!("{i}: {:?}", other.map(|_| ())),
            }
        }
    }
}
