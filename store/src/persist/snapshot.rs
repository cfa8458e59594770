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
use serde::de::{DeserializeSeed, SeqAccess, Visitor};
use serde::ser::{SerializeSeq, SerializeTuple};
use serde::{Serialize, Serializer};
use std::fmt;
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
    let version = env!("CARGO_PKG_VERSION").as_bytes();
    let mut h = Vec::with_capacity(32 + version.len());
    h.extend_from_slice(MAGIC);
    h.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
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
    let mut de = rmp_serde::Deserializer::from_read_ref(body);
    // No entry takes fewer than 4 bytes: a bound on what a (checksummed
    // but hostile) array header can make us reserve.
    let max_entries = body.len() / 4;
    let keys = LoadDbs {
        dbs,
        lru,
        max_entries,
    }
        .deserialize(&mut de)
        .map_err(|e| corrupt(body_start as u64, format!("undecodable snapshot body: {e}")))?;
    Ok(SnapshotInfo {
        engine_version,
        created_ms,
        keys,
        size: buf.len() as u64,
    })
}

struct LoadDbs<'a> {
    dbs: &'a mut [Db],
    lru: u32,
    max_entries: usize,
}

impl<'de> DeserializeSeed<'de> for LoadDbs<'_> {
    type Value = u64;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<u64, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for LoadDbs<'_> {
    type Value = u64;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of databases")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<u64, A::Error> {
        let mut total = 0;
        while let Some(n) = seq.next_element_seed(LoadDb {
            dbs: &mut *self.dbs,
            lru: self.lru,
            max_entries: self.max_entries,
        })? {
            total += n;
        }
        Ok(total)
    }
}

struct LoadDb<'a> {
    dbs: &'a mut [Db],
    lru: u32,
    max_entries: usize,
}

impl<'de> DeserializeSeed<'de> for LoadDb<'_> {
    type Value = u64;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<u64, D::Error> {
        d.deserialize_tuple(2, self)
    }
}

impl<'de> Visitor<'de> for LoadDb<'_> {
    type Value = u64;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a database: [index, entries]")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<u64, A::Error> {
        use serde::de::Error;
        let index: u32 = seq
            .next_element()?
            .ok_or_else(|| A::Error::custom("missing database index"))?;
        if index as usize >= NUM_DBS.min(self.dbs.len()) {
            return Err(A::Error::custom(format!(
                "database index {index} out of range"
            )));
        }
        let db = &mut self.dbs[index as usize];
        seq.next_element_seed(LoadEntries {
            db,
            lru: self.lru,
            max_entries: self.max_entries,
        })?
            .ok_or_else(|| A::Error::custom("missing entries"))
    }
}

struct LoadEntries<'a> {
    db: &'a mut Db,
    lru: u32,
    max_entries: usize,
}

impl<'de> DeserializeSeed<'de> for LoadEntries<'_> {
    type Value = u64;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<u64, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for LoadEntries<'_> {
    type Value = u64;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of entries")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<u64, A::Error> {
        use serde::de::Error;
        let mut n = 0;
        if let Some(hint) = seq.size_hint() {
            self.db.reserve(hint.min(self.max_entries));
        }
        while let Some((key, expire_at, value)) = seq.next_element_seed(EntrySeed)? {
            if self.db.find(key.as_bytes()).is_some() {
                return Err(A::Error::custom(format!("key {key:?} appears twice")));
            }
            let pos = self.db.insert_new(key.as_bytes(), value, self.lru);
            if expire_at != 0 {
                self.db.set_expire(pos, expire_at);
            }
            n += 1;
        }
        Ok(n)
    }
}

/// One `[key, expire_at, value]` entry.
struct EntrySeed;

impl<'de> DeserializeSeed<'de> for EntrySeed {
    type Value = (Sso, u64, Value);
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_tuple(3, self)
    }
}

impl<'de> Visitor<'de> for EntrySeed {
    type Value = (Sso, u64, Value);
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an entry: [key, expire_at, value]")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        use serde::de::Error;
        let key: Sso = seq
            .next_element()?
            .ok_or_else(|| A::Error::custom("missing key"))?;
        let expire_at: u64 = seq
            .next_element()?
            .ok_or_else(|| A::Error::custom("missing expiry"))?;
        let value = seq
            .next_element_seed(ValueSeed)?
            .ok_or_else(|| A::Error::custom("missing value"))?;
        Ok((key, expire_at, value))
    }
}

/// A value: a bare byte string is a string value; a map is any `Value`
/// as serde's enum form (every type in format 2, strings too in format 1).
struct ValueSeed;

impl<'de> DeserializeSeed<'de> for ValueSeed {
    type Value = Value;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ValueSeed {
    type Value = Value;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a value: a byte string, or a typed value")
    }
    fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Value, E> {
        Ok(Value::Str(Sso::new(v)))
    }
    fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<Value, E> {
        Ok(Value::Str(Sso::from_vec(v)))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<Value, A::Error> {
        serde::Deserialize::deserialize(serde::de::value::MapAccessDeserializer::new(map))
    }
}
