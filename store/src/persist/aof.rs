//! The append-only log writer: RESP encoding, checksum annotations and the
//! `appendfsync` policies.
//!
//! # Record format
//!
//! The log is Redis's AOF format: each command is a RESP array of bulk
//! strings (`*N\r\n$len\r\narg\r\n...`), with `SELECT` whenever the
//! database changes and `MULTI` ... `EXEC` around a transaction or a
//! script's effects. Everything written by one append (a "record": one
//! command, or a whole group) is followed by an annotation line
//! `#C:xxxxxxxx\r\n`: the CRC-32 of every command byte of the segment so
//! far (annotations excluded). Redis and `redis-check-aof` skip lines that
//! start with `#` (Redis's own `#TS:` annotations), so the file stays a
//! valid AOF, while recovery can tell a torn tail from a damaged middle.
//!
//! Invariant: a record and its annotation go to the file in one `write`
//! call, and the command is acknowledged only after it (and, under
//! `appendfsync always`, after `fdatasync`). A failed or short write is cut
//! back (`set_len`) so the segment never keeps half a record.

use super::crc::Crc32;
use super::files;
use parking_lot::Mutex;
use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

/// `appendfsync`: when the log is flushed to the disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum AppendFsync {
    /// `fdatasync` after every write, before the command is acknowledged.
    Always,
    /// An engine thread calls `fdatasync` at least once a second.
    #[default]
    EverySec,
    /// Leave flushing to the operating system.
    No,
}

impl AppendFsync {
    /// Redis's name for the policy.
    pub fn name(self) -> &'static str {
        match self {
            AppendFsync::Always => "always",
            AppendFsync::EverySec => "everysec",
            AppendFsync::No => "no",
        }
    }

    /// Parses Redis's name (any case).
    pub fn parse(s: &str) -> Option<AppendFsync> {
        match s.to_ascii_lowercase().as_str() {
            "always" => Some(AppendFsync::Always),
            "everysec" => Some(AppendFsync::EverySec),
            "no" => Some(AppendFsync::No),
            _ => None,
        }
    }
}

/// Appends `argv` as a RESP array of bulk strings.
pub fn encode_command<A: AsRef<[u8]>>(out: &mut Vec<u8>, argv: &[A]) {
    out.push(b'*');
    push_usize(out, argv.len());
    out.extend_from_slice(b"\r\n");
    for a in argv {
        let a = a.as_ref();
        out.push(b'$');
        push_usize(out, a.len());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}

fn push_usize(out: &mut Vec<u8>, n: usize) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    let mut n = n;
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

/// Prefix of the checksum annotation line.
pub const ANNOTATION: &[u8] = b"#C:";
/// Length of a whole annotation line: `#C:` + 8 hex digits + CRLF.
pub const ANNOTATION_LEN: usize = 3 + 8 + 2;

/// Appends the annotation line for checksum `crc`.
pub fn encode_annotation(out: &mut Vec<u8>, crc: u32) {
    out.extend_from_slice(ANNOTATION);
    out.extend_from_slice(format!("{crc:08x}").as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// State shared with the `everysec` fsync thread.
pub(crate) struct SyncShared {
    /// The segment being written.
    file: Mutex<Arc<File>>,
    /// Directory whose entry for a new segment must be made durable once.
    dir: PathBuf,
    /// True when the directory entry of the current segment is durable.
    dir_synced: AtomicBool,
    /// Writes happened since the last fsync.
    pending: AtomicBool,
    /// Set when the writer goes away.
    stop: AtomicBool,
    /// fsyncs performed (INFO and tests).
    pub(crate) fsyncs: AtomicU64,
    /// False after a failed fsync.
    pub(crate) fsync_ok: AtomicBool,
}

impl SyncShared {
    fn sync_now(&self) -> io::Result<()> {
        let f = self.file.lock().clone();
        let r = f.sync_data().and_then(|_| {
            if !self.dir_synced.load(Ordering::Acquire) {
                files::fsync_dir(&self.dir)?;
                self.dir_synced.store(true, Ordering::Release);
            }
            Ok(())
        });
        self.fsyncs.fetch_add(1, Ordering::Relaxed);
        self.fsync_ok.store(r.is_ok(), Ordering::Relaxed);
        r
    }
}

fn everysec_loop(shared: Weak<SyncShared>) {
    loop {
        std::thread::park_timeout(Duration::from_millis(1000));
        let Some(s) = shared.upgrade() else { return };
        if s.stop.load(Ordering::Acquire) {
            return;
        }
        if s.pending.swap(false, Ordering::AcqRel) {
            if let Err(e) = s.sync_now() {
                eprintln!("ferrite: fsync of the append-only log failed: {e}");
                s.pending.store(true, Ordering::Release);
            }
        }
    }
}

/// The open log segment and its writer.
pub(crate) struct LogWriter {
    /// Generation of the current segment.
    pub gen: u64,
    /// Path of the current segment.
    pub path: PathBuf,
    file: Arc<File>,
    /// Bytes in the current segment.
    pub size: u64,
    crc: Crc32,
    /// The database the segment's last `SELECT` chose.
    pub selected: Option<usize>,
    /// The fsync policy.
    pub policy: AppendFsync,
    shared: Arc<SyncShared>,
    thread: Option<std::thread::JoinHandle<()>>,
    /// False after a failed write (INFO `aof_last_write_status`).
    pub write_ok: bool,
    /// The last write error, for MISCONF replies.
    pub last_error: Option<String>,
    scratch: Vec<u8>,
}

impl LogWriter {
    /// Opens segment `gen` of `dir` for appending. `size` and `crc` describe
    /// what it already holds (from recovery).
    pub fn open(
        dir: &Path,
        gen: u64,
        size: u64,
        crc: Crc32,
        policy: AppendFsync,
    ) -> io::Result<LogWriter> {
        let path = files::segment_path(dir, gen);
        let file = Arc::new(files::open_segment(&path)?);
        file.set_len(size)?;
        let shared = Arc::new(SyncShared {
            file: Mutex::new(file.clone()),
            dir: dir.to_path_buf(),
            dir_synced: AtomicBool::new(false),
            pending: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            fsyncs: AtomicU64::new(0),
            fsync_ok: AtomicBool::new(true),
        });
        // The segment may have just been created: make its entry durable.
        shared.sync_now()?;
        let thread = if policy == AppendFsync::EverySec {
            let weak = Arc::downgrade(&shared);
            Some(
                std::thread::Builder::new()
                    .name("ferrite-fsync".into())
                    .spawn(move || everysec_loop(weak))?,
            )
        } else {
            None
        };
        Ok(LogWriter {
            gen,
            path,
            file,
            size,
            crc,
            selected: None,
            policy,
            shared,
            thread,
            write_ok: true,
            last_error: None,
            scratch: Vec::new(),
        })
    }

    /// Appends one record (commands already RESP-encoded) with its checksum
    /// annotation, and flushes it as the policy says.
    pub fn append(&mut self, content: &[u8]) -> io::Result<()> {
        self.append_inner(content, self.policy == AppendFsync::Always)
    }

    /// Appends one record without waiting for the disk, even under
    /// `always`: for effects that acknowledge nothing to a client and are
    /// harmless to lose (a `DEL` of an expired key: the key's absolute
    /// expiry is in the log already). The next fsync covers it (under
    /// `always`, the next write's; at the latest, the close's). This keeps
    /// fsyncs out of reads that reclaim an expired key, which may run on a
    /// normal BEAM scheduler, and out of the active-expiry cycle.
    pub fn append_lazy(&mut self, content: &[u8]) -> io::Result<()> {
        self.append_inner(content, false)
    }

    fn append_inner(&mut self, content: &[u8], sync: bool) -> io::Result<()> {
        let before = self.crc;
        self.crc.update(content);
        let mut buf = std::mem::take(&mut self.scratch);
        buf.clear();
        buf.extend_from_slice(content);
        encode_annotation(&mut buf, self.crc.finish());
        let r = (&*self.file).write_all(&buf).and_then(|_| {
            if sync {
                // Covers earlier lazy appends too.
                self.shared.pending.store(false, Ordering::Release);
                self.shared.sync_now()
            } else {
                self.shared.pending.store(true, Ordering::Release);
                Ok(())
            }
        });
        match &r {
            Ok(()) => {
                self.size += buf.len() as u64;
                self.write_ok = true;
                self.last_error = None;
            }
            Err(e) => {
                // Never leave half a record: cut back to the last whole one.
                self.crc = before;
                let _ = self.file.set_len(self.size);
                self.write_ok = false;
                self.last_error = Some(e.to_string());
                eprintln!(
                    "ferrite: write to the append-only log {} failed: {e}",
                    self.path.display()
                );
            }
        }
        if buf.capacity() <= 1 << 16 {
            self.scratch = buf;
        }
        r
    }

    /// Switches to a new, empty segment `gen` (created here) and returns the
    /// previous segment's file. Cheap: one `open` (the directory entry is
    /// made durable by the first fsync of the new segment).
    pub fn switch(&mut self, dir: &Path, gen: u64) -> io::Result<Arc<File>> {
        let path = files::segment_path(dir, gen);
        let file = Arc::new(files::open_segment(&path)?);
        file.set_len(0)?;
        let old = std::mem::replace(&mut self.file, file.clone());
        *self.shared.file.lock() = file;
        self.shared.dir_synced.store(false, Ordering::Release);
        self.gen = gen;
        self.path = path;
        self.size = 0;
        self.crc = Crc32::new();
        self.selected = None;
        Ok(old)
    }

    /// Flushes everything written so far to the disk.
    pub fn sync(&self) -> io::Result<()> {
        self.shared.pending.store(false, Ordering::Release);
        self.shared.sync_now()
    }

    /// Number of fsyncs performed.
    pub fn fsyncs(&self) -> u64 {
        self.shared.fsyncs.load(Ordering::Relaxed)
    }

    /// True when writes are waiting for the everysec thread.
    pub fn pending_fsync(&self) -> bool {
        self.shared.pending.load(Ordering::Relaxed)
    }
}

impl Drop for LogWriter {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Release);
        if self.shared.pending.load(Ordering::Acquire) {
            let _ = self.shared.sync_now();
        }
        if let Some(t) = self.thread.take() {
            t.thread().unpark();
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_resp() {
        let mut out = Vec::new();
        encode_command(&mut out, &[&b"SET"[..], b"k", b""]);
        assert_eq!(out, b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n");
        out.clear();
        encode_annotation(&mut out, 0xab);
        assert_eq!(out, b"#C:000000ab\r\n");
        assert_eq!(out.len(), ANNOTATION_LEN);
    }
}
