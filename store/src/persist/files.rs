//! The files of a data directory and the manifest that ties them together.
//!
//! A directory holds, besides `LOCK`:
//! - `MANIFEST`: which generation is the base, and whether it has a
//!   snapshot. Replaced atomically (temp file, fsync, rename, fsync dir).
//! - `ferrite.<gen>.snap`: the snapshot of generation `gen`.
//! - `ferrite.<gen>.aof`: the log segment of generation `gen`.
//!
//! # The recovery chain (the invariant that makes rewrites crash-safe)
//!
//! The dataset is always: snapshot of the base generation `b` (if the
//! manifest says it has one), then the segments `b, b+1, ..., h` replayed in
//! order, where `h` is the newest segment. Writes go to segment `h` only.
//! A rewrite opens segment `h+1` (new writes go there from that instant),
//! builds snapshot `h+1` from the chain `b..=h` in the background, and only
//! once that snapshot is durable does it point the manifest at `h+1`; the
//! files below `h+1` are deleted after that. A crash at any point therefore
//! finds either the old manifest (old snapshot + old segments + the new
//! segment: every write) or the new one (new snapshot + new segment). Files
//! outside the chain (a half-written snapshot, leftovers of a finished
//! rewrite) are removed at open.

use super::crc::crc32;
use super::OpenError;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Name of the manifest file.
pub const MANIFEST: &str = "MANIFEST";

/// The snapshot file of generation `gen`.
pub fn snapshot_path(dir: &Path, gen: u64) -> PathBuf {
    dir.join(format!("ferrite.{gen}.snap"))
}

/// The log segment of generation `gen`.
pub fn segment_path(dir: &Path, gen: u64) -> PathBuf {
    dir.join(format!("ferrite.{gen}.aof"))
}

/// What the manifest says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Manifest {
    /// The base generation.
    pub base: u64,
    /// True when `ferrite.<base>.snap` is part of the chain.
    pub has_snapshot: bool,
}

impl Manifest {
    fn encode(&self) -> String {
        let body = format!(
            "ferrite-manifest 1\nbase {}\nsnapshot {}\n",
            self.base, self.has_snapshot as u8
        );
        format!("{body}crc {:08x}\n", crc32(body.as_bytes()))
    }

    fn decode(text: &str) -> Option<Manifest> {
        let idx = text.find("crc ")?;
        let (body, crc) = text.split_at(idx);
        let crc = u32::from_str_radix(crc.trim_start_matches("crc ").trim(), 16).ok()?;
        if crc != crc32(body.as_bytes()) {
            return None;
        }
        let mut lines = body.lines();
        if lines.next()? != "ferrite-manifest 1" {
            return None;
        }
        let base = lines.next()?.strip_prefix("base ")?.parse().ok()?;
        let has_snapshot = match lines.next()?.strip_prefix("snapshot ")? {
            "0" => false,
            "1" => true,
            _ => return None,
        };
        Some(Manifest { base, has_snapshot })
    }

    /// Reads the manifest of `dir`; `None` for a directory never used.
    pub fn read(dir: &Path) -> Result<Option<Manifest>, OpenError> {
        let path = dir.join(MANIFEST);
        match fs::read(&path) {
            Ok(bytes) => {
                let text = String::from_utf8_lossy(&bytes);
                Manifest::decode(&text)
                    .map(Some)
                    .ok_or_else(|| OpenError::Corrupt {
                        file: path,
                        offset: 0,
                        message: "the manifest is damaged".into(),
                    })
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(OpenError::io(&path, e)),
        }
    }

    /// Replaces the manifest of `dir` atomically and durably.
    pub fn write(&self, dir: &Path) -> io::Result<()> {
        let tmp = dir.join("MANIFEST.tmp");
        {
            let mut f = File::create(&tmp)?;
            f.write_all(self.encode().as_bytes())?;
            f.sync_all()?;
        }
        fs::rename(&tmp, dir.join(MANIFEST))?;
        fsync_dir(dir)
    }
}

/// Makes the directory's entries (creations, renames, deletions) durable.
pub fn fsync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Opens (creating if needed) a log segment for appending.
pub fn open_segment(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .read(true)
        .open(path)
}

/// The kinds of generation-numbered files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `ferrite.<gen>.snap`.
    Snapshot,
    /// `ferrite.<gen>.aof`.
    Segment,
    /// Anything else that a rewrite may leave (`*.tmp`).
    Temp,
}

/// Lists the generation-numbered files of `dir` (and temp files).
pub fn list(dir: &Path) -> io::Result<Vec<(Kind, u64, PathBuf)>> {
    let mut out = Vec::new();
    for ent in fs::read_dir(dir)? {
        let ent = ent?;
        let name = ent.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.ends_with(".tmp") && name.starts_with("ferrite.") {
            out.push((Kind::Temp, 0, ent.path()));
            continue;
        }
        let Some(rest) = name.strip_prefix("ferrite.") else {
            continue;
        };
        let (num, kind) = if let Some(n) = rest.strip_suffix(".snap") {
            (n, Kind::Snapshot)
        } else if let Some(n) = rest.strip_suffix(".aof") {
            (n, Kind::Segment)
        } else {
            continue;
        };
        if let Ok(gen) = num.parse::<u64>() {
            out.push((kind, gen, ent.path()));
        }
    }
    out.sort_by_key(|(k, g, _)| (*g, *k as u8));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_round_trip_and_damage() {
        let m = Manifest {
            base: 42,
            has_snapshot: true,
        };
        let text = m.encode();
        assert_eq!(Manifest::decode(&text), Some(m));
        let damaged = text.replace("base 42", "base 43");
        assert_eq!(Manifest::decode(&damaged), None);
    }
}
