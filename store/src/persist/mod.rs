//! Durability: snapshot + append-only log, recovery, rewrites, and the
//! directory lock.
//!
//! An engine made by [`Engine::new`] lives in memory only. One made by
//! [`Engine::open`] (or [`open`]) keeps its dataset in a directory:
//!
//! - `lock.rs`: one open engine per directory (`flock`).
//! - `files.rs`: file names, the manifest, and the recovery-chain invariant
//!   that makes every step crash-safe.
//! - `snapshot.rs`: the rmp-serde snapshot with header and checksums.
//! - `aof.rs`: the RESP log writer and `appendfsync`.
//! - `recovery.rs`: parsing (torn tails, damage) and replay.
//! - `rewrite.rs`: background (fork-free) and foreground rewrites.
//!
//! # What reaches the log
//!
//! `Ctx::call` calls [`propagate`] after every command that changed the
//! dataset (`dirty` grew). The command is logged as RESP, with `SELECT`
//! when the database changes, and with relative or clock-dependent forms
//! rewritten to absolute ones (`SET .. EX` → `SET .. PXAT`, `EXPIRE` →
//! `PEXPIREAT`, a key that the command deleted because its time had passed
//! → `DEL`), so a replay is deterministic. Keys deleted by lazy or active
//! expiry and by eviction are logged as `DEL` ([`propagate_del`]), as Redis
//! propagates them.
//!
//! Commands that run other commands through `Ctx::call` (EXEC, EVAL,
//! FCALL...) are not logged themselves: their effects are. Bracket the
//! effects with [`begin_group`] / [`end_group`] to have them written as one
//! `MULTI` ... `EXEC` unit. A handler whose effect depends on randomness or
//! the clock (SPOP, XADD `*`, ...) calls [`rewrite_command`] to log what it
//! actually did; a handler that applies a write on someone else's behalf
//! (a blocked client served later) calls [`log_command`].

pub mod aof;
pub mod crc;
pub mod files;
pub mod lock;
pub mod recovery;
pub mod rewrite;
pub mod snapshot;

pub use aof::AppendFsync;

use crate::command::{CommandSpec, Flags};
use crate::config::Config;
use crate::engine::{Ctx, Engine, Session, State};
use crate::keyspace::Db;
use crate::util::eq_ic;
use aof::{encode_command, LogWriter};
use crc::Crc32;
use files::Manifest;
use lock::DirLock;
use recovery::End;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Options of a durable engine.
#[derive(Clone, Debug)]
pub struct PersistOptions {
    /// When the log reaches the disk.
    pub appendfsync: AppendFsync,
    /// A log segment smaller than this never triggers a rewrite (Redis's
    /// `auto-aof-rewrite-min-size`, 64 MiB by default).
    pub rewrite_min_size: u64,
    /// A rewrite starts when the segment has grown to this percentage of
    /// the snapshot's size (Redis's `auto-aof-rewrite-percentage`, 100 by
    /// default); 0 turns automatic rewrites off.
    pub rewrite_percentage: u64,
    /// Cut a damaged log back to its last good record instead of refusing
    /// to open (later segments are set aside as `*.aof.dropped`).
    pub repair: bool,
    /// The engine's configuration (maxmemory and the like).
    pub config: Config,
}

impl Default for PersistOptions {
    fn default() -> Self {
        PersistOptions {
            appendfsync: AppendFsync::EverySec,
            rewrite_min_size: 64 << 20,
            rewrite_percentage: 100,
            repair: false,
            config: Config::default(),
        }
    }
}

/// Why a durable engine could not be opened.
#[derive(Debug)]
pub enum OpenError {
    /// Another engine (in this process or another) has the directory open.
    Locked {
        /// The lock file.
        path: PathBuf,
        /// The pid that holds it, when it wrote one.
        holder: Option<u32>,
    },
    /// A file could not be read or written.
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        error: io::Error,
    },
    /// A file is damaged: nothing was loaded.
    Corrupt {
        /// The damaged file.
        file: PathBuf,
        /// Byte offset of the damage (or of the checksummed region).
        offset: u64,
        /// What is wrong.
        message: String,
    },
}

impl OpenError {
    pub(crate) fn io(path: &Path, error: io::Error) -> OpenError {
        OpenError::Io {
            path: path.to_path_buf(),
            error,
        }
    }
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpenError::Locked { path, holder } => {
                write!(
                    f,
                    "the database directory is already open (lock {}",
                    path.display()
                )?;
                match holder {
                    Some(pid) => write!(f, " held by pid {pid})"),
                    None => write!(f, " held)"),
                }
            }
            OpenError::Io { path, error } => write!(f, "{}: {error}", path.display()),
            OpenError::Corrupt {
                file,
                offset,
                message,
            } => write!(
                f,
                "{} is damaged at byte {offset}: {message}",
                file.display()
            ),
        }
    }
}

impl std::error::Error for OpenError {}

/// What opening a durable engine found.
#[derive(Clone, Debug, Default)]
pub struct OpenReport {
    /// Keys loaded from the snapshot.
    pub snapshot_keys: u64,
    /// Commands replayed from the log.
    pub commands_replayed: u64,
    /// Things recovery fixed (a torn tail cut back, a repair).
    pub warnings: Vec<String>,
}

/// Where applied writes go. In-memory engines have no log; the hooks then
/// cost one branch.
#[derive(Default)]
pub struct Propagation {
    durable: Option<Box<Durable>>,
    /// True while a log is replayed: nothing is logged, nothing evicted.
    pub loading: bool,
    replace: Option<Override>,
}

enum Override {
    Replace(Vec<Vec<u8>>),
    Prevent,
}

/// An open MULTI/EXEC group.
struct Group {
    session: u64,
    depth: u32,
    start_db: usize,
    selected: usize,
    cmds: usize,
    buf: Vec<u8>,
}

/// The state of a durable engine.
struct Durable {
    dir: PathBuf,
    _lock: DirLock,
    log: LogWriter,
    base: u64,
    has_snapshot: bool,
    snapshot_size: u64,
    rewrite_min_size: u64,
    rewrite_percentage: u64,
    group: Option<Group>,
    rw: rewrite::Rewriter,
    scratch: Vec<u8>,
    /// Set while logging a `DEL` of an expired key: written with
    /// [`LogWriter::append_lazy`] (no fsync of its own).
    lazy: bool,
}

impl Propagation {
    /// True when this engine writes an append-only log.
    pub fn is_durable(&self) -> bool {
        self.durable.is_some()
    }

    /// The data directory of a durable engine.
    pub fn dir(&self) -> Option<&Path> {
        self.durable.as_ref().map(|d| d.dir.as_path())
    }

    /// The fsync policy of a durable engine.
    pub fn appendfsync(&self) -> Option<AppendFsync> {
        self.durable.as_ref().map(|d| d.log.policy)
    }

    /// Number of fsyncs of the log so far (0 for in-memory engines).
    pub fn fsyncs(&self) -> u64 {
        self.durable.as_ref().map_or(0, |d| d.log.fsyncs())
    }

    /// Bytes in the current log segment.
    pub fn log_size(&self) -> u64 {
        self.durable.as_ref().map_or(0, |d| d.log.size)
    }

    /// True while a background rewrite runs.
    pub fn rewrite_in_progress(&self) -> bool {
        self.durable.as_ref().is_some_and(|d| d.rw.in_progress())
    }

    /// The last log write error, while writes keep failing.
    pub fn write_error(&self) -> Option<&str> {
        self.durable
            .as_ref()
            .and_then(|d| d.log.last_error.as_deref())
    }
}

impl Engine {
    /// Opens (creating if needed) the durable database in `dir`: takes the
    /// directory lock, loads the snapshot, replays the log, and logs every
    /// later write. Recovery's warnings go to stderr; [`open`] returns them
    /// instead.
    pub fn open(dir: impl AsRef<Path>, opts: PersistOptions) -> Result<Arc<Engine>, OpenError> {
        open(dir, opts).map(|(e, report)| {
            for w in &report.warnings {
                eprintln!("ferrite: {w}");
            }
            e
        })
    }
}

/// A session for replaying: no blocking, no AUTH.
pub(crate) fn replay_session(engine: &Engine) -> Session {
    let mut s = engine.session();
    s.authenticated = true;
    s.no_block = true;
    s
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Opens the durable database in `dir` and reports what recovery did (the
/// caller shows the report's warnings: the NIF logs them with Logger).
pub fn open(
    dir: impl AsRef<Path>,
    opts: PersistOptions,
) -> Result<(Arc<Engine>, OpenReport), OpenError> {
    let dir = dir.as_ref().to_path_buf();
    std::fs::create_dir_all(&dir).map_err(|e| OpenError::io(&dir, e))?;
    let lock = DirLock::acquire(&dir)?;
    let manifest = Manifest::read(&dir)?;
    let (base, has_snapshot) = manifest
        .map(|m| (m.base, m.has_snapshot))
        .unwrap_or((1, false));
    let listing = files::list(&dir).map_err(|e| OpenError::io(&dir, e))?;

    // The chain: segments base, base+1, ... with no gap.
    let mut segments: Vec<u64> = listing
        .iter()
        .filter(|(k, g, _)| *k == files::Kind::Segment && *g >= base)
        .map(|(_, g, _)| *g)
        .collect();
    for (i, g) in segments.iter().enumerate() {
        if *g != base + i as u64 {
            return Err(OpenError::Corrupt {
                file: files::segment_path(&dir, base + i as u64),
                offset: 0,
                message: "a log segment of the chain is missing".into(),
            });
        }
    }
    let snap_path = files::snapshot_path(&dir, base);
    if has_snapshot && !snap_path.exists() {
        return Err(OpenError::Corrupt {
            file: snap_path,
            offset: 0,
            message: "the snapshot named by the manifest is missing".into(),
        });
    }

    let engine = Engine::with_config(opts.config.clone());
    let mut report = OpenReport::default();
    engine.clock.advance(-rewrite::SUSPEND_MS);
    let loaded = load_chain(
        &engine,
        &dir,
        base,
        has_snapshot,
        &mut segments,
        opts.repair,
        &mut report,
    );
    engine.clock.advance(rewrite::SUSPEND_MS);
    let (last_gen, last_len, last_crc) = loaded?;

    // Files outside the chain: leftovers of an interrupted or finished
    // rewrite. Removed only now that the chain loaded.
    for (kind, gen, path) in &listing {
        let stale = match kind {
            files::Kind::Temp => true,
            files::Kind::Snapshot => *gen != base || !has_snapshot,
            files::Kind::Segment => *gen < base,
        };
        if stale {
            let _ = std::fs::remove_file(path);
        }
    }
    if manifest.is_none() {
        Manifest { base, has_snapshot }
            .write(&dir)
            .map_err(|e| OpenError::io(&dir.join(files::MANIFEST), e))?;
    }
    let log = LogWriter::open(&dir, last_gen, last_len, last_crc, opts.appendfsync)
        .map_err(|e| OpenError::io(&files::segment_path(&dir, last_gen), e))?;
    let snapshot_size = if has_snapshot {
        std::fs::metadata(&snap_path).map(|m| m.len()).unwrap_or(0)
    } else {
        0
    };
    {
        let mut st = engine.lock();
        let now = engine.clock.now_ms();
        let stamp = crate::evict::initial_stamp(&st.config, now);
        for db in st.dbs.iter_mut() {
            for pos in 0..db.len() {
                db.at_mut(pos).lru = stamp;
            }
        }
        st.dirty = 0;
        st.lastsave = now / 1000;
        st.propagation.durable = Some(Box::new(Durable {
            dir,
            _lock: lock,
            log,
            base,
            has_snapshot,
            snapshot_size,
            rewrite_min_size: opts.rewrite_min_size,
            rewrite_percentage: opts.rewrite_percentage,
            group: None,
            rw: rewrite::Rewriter::default(),
            scratch: Vec::new(),
            lazy: false,
        }));
    }
    Ok((engine, report))
}

/// Loads the snapshot and replays the segments; returns where the writer
/// resumes (generation, length, running checksum).
fn load_chain(
    engine: &Engine,
    dir: &Path,
    base: u64,
    has_snapshot: bool,
    segments: &mut Vec<u64>,
    repair: bool,
    report: &mut OpenReport,
) -> Result<(u64, u64, Crc32), OpenError> {
    let mut st = engine.lock();
    st.propagation.loading = true;
    let result = (|| {
        if has_snapshot {
            let info = snapshot::load(&files::snapshot_path(dir, base), &mut st.dbs, 0)?;
            report.snapshot_keys = info.keys;
        }
        let mut replayer = recovery::Replayer::new(engine);
        let mut resume = (base, 0u64, Crc32::new());
        let mut i = 0;
        while i < segments.len() {
            let gen = segments[i];
            let last = i + 1 == segments.len();
            let path = files::segment_path(dir, gen);
            let file = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(&path)
                .map_err(|e| OpenError::io(&path, e))?;
            let len = file.metadata().map_err(|e| OpenError::io(&path, e))?.len();
            let before = replayer.applied;
            let parsed = if len == 0 {
                None
            } else {
                // SAFETY: the directory lock is held; nothing else writes it.
                let map =
                    unsafe { memmap2::Mmap::map(&file) }.map_err(|e| OpenError::io(&path, e))?;
                // Records are applied as they are verified; on damage the
                // error below discards the engine (or repair keeps exactly
                // the applied prefix).
                let parsed = recovery::replay_segment(&mut replayer, &mut st, &map, &path)?;
                let cut = match &parsed.end {
                    End::Clean => None,
                    End::Torn if last => {
                        report.warnings.push(format!(
                            "{}: torn final command cut back ({} bytes dropped at offset {})",
                            path.display(),
                            map.len() - parsed.good_len,
                            parsed.good_len
                        ));
                        Some(parsed.good_len)
                    }
                    End::Torn | End::Corrupt { .. } => {
                        let (offset, message) = match &parsed.end {
                            End::Corrupt { offset, message } => (*offset, message.clone()),
                            _ => (
                                parsed.good_len,
                                "torn record in a segment that is not the last".to_string(),
                            ),
                        };
                        if !repair {
                            return Err(OpenError::Corrupt {
                                file: path,
                                offset: offset as u64,
                                message,
                            });
                        }
                        report.warnings.push(format!(
                            "{}: repaired: {message} at offset {offset}; cut back to offset {}",
                            path.display(),
                            parsed.good_len
                        ));
                        Some(parsed.good_len)
                    }
                };
                cut.map(|c| (c, parsed.crc))
                    .or(Some((parsed.good_len, parsed.crc)))
            };
            let applied = replayer.applied - before;
            report.commands_replayed += applied;
            let (good, crc) = parsed.unwrap_or((0, Crc32::new()));
            if good as u64 != len {
                file.set_len(good as u64)
                    .map_err(|e| OpenError::io(&path, e))?;
                file.sync_all().map_err(|e| OpenError::io(&path, e))?;
                if !last {
                    // A repair: later segments no longer follow; set aside.
                    for g in segments.drain(i + 1..) {
                        let p = files::segment_path(dir, g);
                        let aside = p.with_extension("aof.dropped");
                        let _ = std::fs::rename(&p, &aside);
                        report.warnings.push(format!(
                            "{} set aside as {}",
                            p.display(),
                            aside.display()
                        ));
                    }
                }
            }
            resume = (gen, good as u64, crc);
            i += 1;
        }
        for db in st.dbs.iter_mut() {
            db.shrink_to_fit();
        }
        Ok(resume)
    })();
    st.propagation.loading = false;
    result
}

/// Names of commands that run other commands through `Ctx::call`: their
/// effects are logged, not they.
const CONTAINERS: &[&str] = &[
    "exec",
    "eval",
    "evalsha",
    "eval_ro",
    "evalsha_ro",
    "fcall",
    "fcall_ro",
];

/// Called after a command changed the dataset (`dirty` grew): hands the
/// command (or its rewritten, deterministic form) to the append-only log.
#[inline]
pub fn propagate(ctx: &mut Ctx<'_>, spec: &'static CommandSpec, argv: &[&[u8]]) {
    let replace = ctx.st.propagation.replace.take();
    if ctx.st.propagation.durable.is_none() || ctx.st.propagation.loading {
        return;
    }
    let db = ctx.session.db;
    let session = ctx.session.id;
    match replace {
        Some(Override::Prevent) => {}
        Some(Override::Replace(v)) => log_argv(ctx.st, session, db, &v),
        None => {
            // Only write commands are logged (SAVE or LASTSAVE may lower
            // `dirty`; containers log their effects instead).
            if !spec.flags.contains(Flags::WRITE) || CONTAINERS.contains(&spec.name) {
                return;
            }
            match deterministic(spec.name, argv, &ctx.st.dbs[db]) {
                Some(v) => log_argv(ctx.st, session, db, &v),
                None => log_argv(ctx.st, session, db, argv),
            }
        }
    }
}

/// Logs `DEL key` in database `db` (a key removed by expiry or eviction).
/// Written without an fsync of its own (see [`LogWriter::append_lazy`]):
/// losing it loses nothing a client was told (an expired key is expired
/// again by its logged absolute time; an evicted key comes back and may be
/// evicted again).
pub fn propagate_del(ctx: &mut Ctx<'_>, db: usize, key: &[u8]) {
    let Some(d) = ctx.st.propagation.durable.as_deref_mut() else {
        return;
    };
    if ctx.st.propagation.loading {
        return;
    }
    d.lazy = true;
    let session = ctx.session.id;
    log_argv(ctx.st, session, db, &[&b"DEL"[..], key]);
    if let Some(d) = ctx.st.propagation.durable.as_deref_mut() {
        d.lazy = false;
    }
}

/// Logs `argv` in database `db` now: for a write applied on behalf of
/// another client (a blocked client served later) or any effect the
/// running command's own argv does not describe.
pub fn log_command<A: AsRef<[u8]>>(ctx: &mut Ctx<'_>, db: usize, argv: &[A]) {
    if ctx.st.propagation.durable.is_none() || ctx.st.propagation.loading {
        return;
    }
    let session = ctx.session.id;
    log_argv(ctx.st, session, db, argv);
}

/// Makes the running command log `argv` instead of itself (SPOP as SREM,
/// XADD `*` with the id it chose, ...). Call it only from a command that
/// changes the dataset (calls `ctx.dirty`): it is consumed by the next
/// [`propagate`].
pub fn rewrite_command(ctx: &mut Ctx<'_>, argv: Vec<Vec<u8>>) {
    ctx.st.propagation.replace = Some(Override::Replace(argv));
}

/// Makes the running command log nothing (its effects were logged with
/// [`log_command`]). Same contract as [`rewrite_command`].
pub fn prevent_propagation(ctx: &mut Ctx<'_>) {
    ctx.st.propagation.replace = Some(Override::Prevent);
}

/// Opens a group: what the session logs until the matching [`end_group`]
/// is written as one `MULTI` ... `EXEC` record (nothing if it logs
/// nothing; the bare command if it logs one, as Redis 7.0 does). Groups
/// nest; only the outermost pair writes.
pub fn begin_group(ctx: &mut Ctx<'_>) {
    let session = ctx.session.id;
    let db = ctx.session.db;
    let Some(d) = ctx.st.propagation.durable.as_deref_mut() else {
        return;
    };
    if let Some(g) = &mut d.group {
        if g.session == session {
            g.depth += 1;
            return;
        }
        d.flush_group();
    }
    d.group = Some(Group {
        session,
        depth: 1,
        start_db: db,
        selected: db,
        cmds: 0,
        buf: Vec::new(),
    });
}

/// Closes a group opened by [`begin_group`].
pub fn end_group(ctx: &mut Ctx<'_>) {
    let session = ctx.session.id;
    let dirty = ctx.st.dirty;
    let Some(d) = ctx.st.propagation.durable.as_deref_mut() else {
        return;
    };
    match &mut d.group {
        Some(g) if g.session == session => {
            g.depth -= 1;
            if g.depth == 0 {
                d.flush_group();
                d.after_write(dirty);
            }
        }
        _ => {}
    }
}

fn log_argv<A: AsRef<[u8]>>(st: &mut State, session: u64, db: usize, argv: &[A]) {
    let dirty = st.dirty;
    let Some(d) = st.propagation.durable.as_deref_mut() else {
        return;
    };
    if let Some(g) = &mut d.group {
        if g.session == session {
            if g.cmds == 0 {
                g.start_db = db;
                g.selected = db;
            } else if g.selected != db {
                encode_select(&mut g.buf, db);
                g.selected = db;
            }
            encode_command(&mut g.buf, argv);
            g.cmds += 1;
            return;
        }
        // The group's command ended without closing it (a bug or a panic
        // in a handler): its effects were applied, so write them.
        d.flush_group();
    }
    let mut buf = std::mem::take(&mut d.scratch);
    buf.clear();
    if d.log.selected != Some(db) {
        encode_select(&mut buf, db);
    }
    encode_command(&mut buf, argv);
    let written = if d.lazy {
        d.log.append_lazy(&buf)
    } else {
        d.log.append(&buf)
    };
    if written.is_ok() {
        d.log.selected = Some(db);
    }
    d.scratch = buf;
    d.after_write(dirty);
    poll_rewrite(st);
}

fn encode_select(out: &mut Vec<u8>, db: usize) {
    encode_command(out, &[&b"SELECT"[..], db.to_string().as_bytes()]);
}

impl Durable {
    fn flush_group(&mut self) {
        let Some(g) = self.group.take() else { return };
        if g.cmds == 0 {
            return;
        }
        // As Redis 7.0's `propagatePendingCommands`: a group of one command
        // is written bare (a single command is atomic anyway).
        let wrap = g.cmds > 1;
        let mut buf = Vec::with_capacity(g.buf.len() + 48);
        if self.log.selected != Some(g.start_db) {
            encode_select(&mut buf, g.start_db);
        }
        if wrap {
            encode_command(&mut buf, &[&b"MULTI"[..]]);
        }
        buf.extend_from_slice(&g.buf);
        if wrap {
            encode_command(&mut buf, &[&b"EXEC"[..]]);
        }
        if self.log.append(&buf).is_ok() {
            self.log.selected = Some(g.selected);
        }
    }

    /// Starts an automatic rewrite when the segment outgrew the snapshot.
    fn after_write(&mut self, dirty: u64) {
        if self.rewrite_percentage == 0 || self.rw.in_progress() || self.group.is_some() {
            return;
        }
        let size = self.log.size;
        if size >= self.rewrite_min_size
            && size.saturating_mul(100)
                >= self.snapshot_size.saturating_mul(self.rewrite_percentage)
        {
            if let Err(e) = self.start_background(dirty) {
                eprintln!("ferrite: automatic rewrite could not start: {e}");
            }
        }
    }

    fn start_background(&mut self, dirty: u64) -> io::Result<()> {
        let t = std::time::Instant::now();
        let result = self.start_background_timed(dirty);
        self.rw.lock_hold = t.elapsed();
        result
    }

    fn start_background_timed(&mut self, dirty: u64) -> io::Result<()> {
        let last = self.log.gen;
        let new_gen = last + 1;
        let old_file = self.log.switch(&self.dir, new_gen)?;
        let job = rewrite::Job {
            dir: self.dir.clone(),
            base: self.base,
            has_snapshot: self.has_snapshot,
            last,
            new_gen,
            old_file,
        };
        self.rw.spawn(job, dirty)
    }
}

/// Applies the outcome of a finished background rewrite (under the engine
/// lock), and starts a scheduled one.
pub fn poll_rewrite(st: &mut State) {
    let Some(d) = st.propagation.durable.as_deref_mut() else {
        return;
    };
    if !d.rw.in_progress() {
        return;
    }
    let t = std::time::Instant::now();
    let Some(out) = d.rw.take_outcome() else {
        return;
    };
    if let Ok(done) = &out.result {
        d.base = done.base;
        d.has_snapshot = true;
        d.snapshot_size = done.snapshot_size;
        st.dirty = st.dirty.saturating_sub(d.rw.dirty_at_start);
        st.lastsave = now_ms() / 1000;
    }
    d.rw.last_lock_hold = d.rw.lock_hold.max(t.elapsed());
    if d.rw.scheduled {
        d.rw.scheduled = false;
        let dirty = st.dirty;
        if let Err(e) = d.start_background(dirty) {
            eprintln!("ferrite: scheduled rewrite could not start: {e}");
        }
    }
}

/// What the last background rewrite cost the engine.
#[derive(Clone, Copy, Debug, Default)]
pub struct RewriteStats {
    /// The longest time the last finished rewrite held the engine lock
    /// (the segment switch when it started, or applying its outcome).
    pub max_lock_hold: std::time::Duration,
    /// Wall time of the last finished rewrite.
    pub last_secs: i64,
}

/// The engine's view of its last finished background rewrite (benches).
pub fn rewrite_stats(st: &State) -> RewriteStats {
    st.propagation
        .durable
        .as_deref()
        .map(|d| RewriteStats {
            max_lock_hold: d.rw.last_lock_hold,
            last_secs: d.rw.last_secs,
        })
        .unwrap_or_default()
}

/// Why a save or rewrite request was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum SaveError {
    /// The engine is in memory only.
    NotDurable,
    /// A background rewrite is running.
    InProgress,
    /// Writing failed.
    Failed(String),
}

/// BGSAVE / BGREWRITEAOF: starts a background rewrite. With `schedule`, a
/// request made while one runs is queued instead of refused; returns
/// `Ok(false)` when it was queued.
pub fn bgsave(st: &mut State, schedule: bool) -> Result<bool, SaveError> {
    poll_rewrite(st);
    let dirty = st.dirty;
    let d = st
        .propagation
        .durable
        .as_deref_mut()
        .ok_or(SaveError::NotDurable)?;
    if d.rw.in_progress() {
        if schedule {
            d.rw.scheduled = true;
            return Ok(false);
        }
        return Err(SaveError::InProgress);
    }
    // Called from inside a transaction, the group's record goes to the new
    // segment, after the switch, which keeps the chain exact (the snapshot
    // is built from the old chain, which lacks the group).
    d.start_background(dirty)
        .map_err(|e| SaveError::Failed(e.to_string()))?;
    Ok(true)
}

/// SAVE: writes a snapshot of the live databases now (the caller holds the
/// engine lock, as Redis's SAVE blocks the server) and restarts the log.
pub fn save(st: &mut State) -> Result<(), SaveError> {
    poll_rewrite(st);
    let State {
        dbs, propagation, ..
    } = &mut *st;
    let d = propagation
        .durable
        .as_deref_mut()
        .ok_or(SaveError::NotDurable)?;
    if d.rw.in_progress() {
        return Err(SaveError::InProgress);
    }
    d.flush_group();
    let fail = |e: io::Error| SaveError::Failed(e.to_string());
    let last = d.log.gen;
    let new_gen = last + 1;
    let old = d.log.switch(&d.dir, new_gen).map_err(fail)?;
    drop(old);
    let size =
        snapshot::write_dbs(&files::snapshot_path(&d.dir, new_gen), dbs, now_ms()).map_err(fail)?;
    rewrite::commit(&d.dir, d.base, last, new_gen).map_err(fail)?;
    d.base = new_gen;
    d.has_snapshot = true;
    d.snapshot_size = size;
    st.dirty = 0;
    st.lastsave = now_ms() / 1000;
    Ok(())
}

/// Waits for a running background rewrite and applies its outcome (tests,
/// benches, and callers that want a save finished).
pub fn wait_rewrite(engine: &Engine) {
    loop {
        {
            let mut st = engine.lock();
            poll_rewrite(&mut st);
            match st.propagation.durable.as_deref() {
                Some(d) if d.rw.in_progress() => {}
                _ => return,
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
}

/// Flushes and closes the log and releases the directory lock (from
/// `Engine::close`). Waits for a running rewrite first.
pub fn on_close(st: &mut State) {
    if let Some(mut d) = st.propagation.durable.take() {
        d.flush_group();
        d.rw.wait();
        let _ = d.log.sync();
    }
}

/// Makes everything logged so far durable, whatever the policy (for a
/// clean shutdown or an explicit flush).
pub fn sync(st: &mut State) -> io::Result<()> {
    match st.propagation.durable.as_deref_mut() {
        Some(d) => {
            d.flush_group();
            d.log.sync()
        }
        None => Ok(()),
    }
}

/// Writes the lines of INFO's persistence section (after `# Persistence`),
/// each ending in `\r\n`.
pub fn info_lines(st: &State, out: &mut String) {
    for (k, v) in info_fields(st) {
        out.push_str(&k);
        out.push(':');
        out.push_str(&v);
        out.push_str("\r\n");
    }
}

/// The `INFO persistence` fields, in Redis 7.0's order.
pub fn info_fields(st: &State) -> Vec<(String, String)> {
    let d = st.propagation.durable.as_deref();
    let rw = d.map(|d| &d.rw);
    let in_progress = rw.is_some_and(|r| r.in_progress());
    let cur_secs = rw
        .and_then(|r| r.started)
        .map(|t| t.elapsed().as_secs() as i64)
        .unwrap_or(-1);
    let ok = |b: bool| if b { "ok" } else { "err" }.to_string();
    let mut v: Vec<(&str, String)> = vec![
        ("loading", (st.propagation.loading as u8).to_string()),
        ("async_loading", "0".into()),
        ("current_cow_peak", "0".into()),
        ("current_cow_size", "0".into()),
        ("current_cow_size_age", "0".into()),
        ("current_fork_perc", "0.00".into()),
        ("current_save_keys_processed", "0".into()),
        ("current_save_keys_total", "0".into()),
        ("rdb_changes_since_last_save", st.dirty.to_string()),
        ("rdb_bgsave_in_progress", (in_progress as u8).to_string()),
        ("rdb_last_save_time", st.lastsave.to_string()),
        ("rdb_last_bgsave_status", ok(rw.is_none_or(|r| r.last_ok))),
        (
            "rdb_last_bgsave_time_sec",
            rw.map_or(-1, |r| r.last_secs).to_string(),
        ),
        ("rdb_current_bgsave_time_sec", cur_secs.to_string()),
        ("rdb_saves", rw.map_or(0, |r| r.rewrites).to_string()),
        ("rdb_last_cow_size", "0".into()),
        ("rdb_last_load_keys_expired", "0".into()),
        ("rdb_last_load_keys_loaded", "0".into()),
        ("aof_enabled", (d.is_some() as u8).to_string()),
        ("aof_rewrite_in_progress", (in_progress as u8).to_string()),
        (
            "aof_rewrite_scheduled",
            (rw.is_some_and(|r| r.scheduled) as u8).to_string(),
        ),
        (
            "aof_last_rewrite_time_sec",
            rw.map_or(-1, |r| r.last_secs).to_string(),
        ),
        ("aof_current_rewrite_time_sec", cur_secs.to_string()),
        (
            "aof_last_bgrewrite_status",
            ok(rw.is_none_or(|r| r.last_ok)),
        ),
        ("aof_rewrites", rw.map_or(0, |r| r.rewrites).to_string()),
        (
            "aof_rewrites_consecutive_failures",
            rw.map_or(0, |r| r.failures).to_string(),
        ),
        (
            "aof_last_write_status",
            ok(d.is_none_or(|d| d.log.write_ok)),
        ),
        ("aof_last_cow_size", "0".into()),
        ("module_fork_in_progress", "0".into()),
        ("module_fork_last_cow_size", "0".into()),
    ];
    if let Some(d) = d {
        v.extend([
            (
                "aof_current_size",
                (d.snapshot_size + d.log.size).to_string(),
            ),
            ("aof_base_size", d.snapshot_size.to_string()),
            ("aof_pending_rewrite", (d.rw.scheduled as u8).to_string()),
            ("aof_buffer_length", "0".into()),
            (
                "aof_pending_bio_fsync",
                (d.log.pending_fsync() as u8).to_string(),
            ),
            ("aof_delayed_fsync", "0".into()),
        ]);
    }
    v.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

/// The deterministic form of a command whose effect depends on the clock:
/// relative expiries become absolute (read back from the entry, so they are
/// exactly what was stored), and a key the command removed becomes `DEL`.
/// `None`: log the command as it is.
fn deterministic(name: &str, argv: &[&[u8]], db: &Db) -> Option<Vec<Vec<u8>>> {
    let key = || argv[1].to_vec();
    let expiry_of = |k: &[u8]| db.find(k).map(|p| db.at(p).expire_at);
    let del = || Some(vec![b"DEL".to_vec(), key()]);
    let at_arg = |at: u64| at.to_string().into_bytes();
    match name {
        "set" => {
            let timed = argv[3..]
                .iter()
                .any(|a| eq_ic(a, "ex") || eq_ic(a, "px") || eq_ic(a, "exat") || eq_ic(a, "pxat"));
            if !timed {
                return None;
            }
            match expiry_of(argv[1]) {
                None => del(),
                Some(0) => Some(vec![b"SET".to_vec(), key(), argv[2].to_vec()]),
                Some(at) => Some(vec![
                    b"SET".to_vec(),
                    key(),
                    argv[2].to_vec(),
                    b"PXAT".to_vec(),
                    at_arg(at),
                ]),
            }
        }
        "setex" | "psetex" => match expiry_of(argv[1]) {
            None => del(),
            Some(0) => Some(vec![b"SET".to_vec(), key(), argv[3].to_vec()]),
            Some(at) => Some(vec![
                b"SET".to_vec(),
                key(),
                argv[3].to_vec(),
                b"PXAT".to_vec(),
                at_arg(at),
            ]),
        },
        "expire" | "pexpire" | "expireat" | "pexpireat" | "getex" => match expiry_of(argv[1]) {
            None => del(),
            Some(0) => Some(vec![b"PERSIST".to_vec(), key()]),
            Some(at) => Some(vec![b"PEXPIREAT".to_vec(), key(), at_arg(at)]),
        },
        "restore" if argv.len() >= 4 => match expiry_of(argv[1]) {
            None => del(),
            Some(at) => {
                let mut v: Vec<Vec<u8>> = argv.iter().map(|a| a.to_vec()).collect();
                v[2] = at_arg(at);
                if !argv[4..].iter().any(|a| eq_ic(a, "absttl")) {
                    v.push(b"ABSTTL".to_vec());
                }
                Some(v)
            }
        },
        _ => None,
    }
}
