//! `open_with`: opening a conn on an engine built with options, durable in a
//! directory or in memory (the other NIFs are in `nifs`).

use crate::conn::{self, ConnRes};
use crate::encode;
use ferrite_store::config::Config;
use ferrite_store::persist::{AppendFsync, OpenError, PersistOptions};
use rustler::{Encoder, Env, LocalPid, ResourceArc, Term};
use std::panic::{catch_unwind, AssertUnwindSafe};

rustler::atoms! {
    /// `{:error, {:locked, message}}` from `open_with`.
    locked,
    /// `{:error, {:corrupt, file, offset, message}}` from `open_with`.
    corrupt,
    /// `{:error, {:io, message}}` from `open_with`.
    io,
    /// `{:error, {:other, message}}` from `open_with`.
    other,
}

/// Opens a conn on an engine built with options: durable in `path` (or in
/// memory when `path` is nil), with `appendfsync` (`"always"`,
/// `"everysec"` or `"no"`), `repair`, the rewrite thresholds, and `config`
/// pairs applied as CONFIG SET would (`maxmemory`, `maxmemory-policy`...).
/// Runs on a dirty IO scheduler: it reads the whole dataset.
///
/// Returns `{:ok, conn_ref, warnings}` (recovery's warnings, as binaries),
/// or `{:error, {:locked | :io | :other, message}}`, or
/// `{:error, {:corrupt, file, offset, message}}`.
#[rustler::nif(schedule = "DirtyIo")]
#[allow(clippy::too_many_arguments)]
fn open_with<'a>(
    env: Env<'a>,
    owner: LocalPid,
    store: Term<'a>,
    db: i64,
    path: Term<'a>,
    appendfsync: String,
    repair: bool,
    rewrite: (u64, u64),
    config: Vec<(String, String)>,
) -> Term<'a> {
    let other_error = |msg: String| (encode::error(), (other(), msg)).encode(env);
    let name: Option<Vec<u8>> = if store.is_atom() {
        None
    } else {
        match store.decode_as_binary() {
            Ok(b) => Some(b.as_slice().to_vec()),
            Err(_) => return other_error("ERR store name must be a binary".into()),
        }
    };
    let dir: Option<std::path::PathBuf> = if path.is_atom() {
        None
    } else {
        match path.decode_as_binary() {
            Ok(b) => Some(String::from_utf8_lossy(b.as_slice()).into_owned().into()),
            Err(_) => return other_error("ERR path must be a binary".into()),
        }
    };
    if db < 0 {
        return other_error("ERR DB index is out of range".into());
    }
    let Some(appendfsync) = AppendFsync::parse(&appendfsync) else {
        return other_error(format!("ERR invalid appendfsync '{appendfsync}'"));
    };
    let mut cfg = Config::default();
    let pairs: Vec<(&str, &str)> = config
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    if let Err(e) = cfg.set_many(&pairs) {
        return other_error(e.message());
    }
    let opts = PersistOptions {
        appendfsync,
        rewrite_min_size: rewrite.0,
        rewrite_percentage: rewrite.1,
        repair,
        config: cfg,
    };
    let opened = catch_unwind(AssertUnwindSafe(|| {
        conn::open_with(owner, name.as_deref(), db as usize, dir.as_deref(), opts)
    }));
    let (conn, report) = match opened {
        Ok(Ok(r)) => r,
        Ok(Err(conn::OpenFail::Other(msg))) => return other_error(msg),
        Ok(Err(conn::OpenFail::Open(e))) => {
            let reason = match &e {
                OpenError::Locked { .. } => (locked(), e.to_string()).encode(env),
                OpenError::Io { .. } => (io(), e.to_string()).encode(env),
                OpenError::Corrupt {
                    file,
                    offset,
                    message,
                } => (
                    corrupt(),
                    file.to_string_lossy().into_owned(),
                    *offset,
                    message.clone(),
                )
                    .encode(env),
            };
            return (encode::error(), reason).encode(env);
        }
        Err(_) => return other_error("ERR internal error while opening".into()),
    };
    let res = ResourceArc::new(ConnRes(conn.clone()));
    if res.monitor(Some(env), &owner).is_none() {
        conn.close();
        return other_error("ERR owner process is not alive".into());
    }
    (encode::ok(), res, report.warnings).encode(env)
}
