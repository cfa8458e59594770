//! Durability: snapshot and append-only log.

/// Where applied writes go (the append-only log, sync).
#[derive(Default)]
pub struct Propagation {}

/// Called after a command changed the dataset (`dirty` grew): hands the
/// command (or its rewritten effect) to the append-only log and sync.
#[inline]
pub fn propagate(
    _ctx: &mut crate::engine::Ctx<'_>,
    _spec: &'static crate::command::CommandSpec,
    _argv: &[&[u8]],
) {
}

/// Writes the lines of INFO's persistence section (after `# Persistence`),
/// each ending in `\r\n`. The persistence layer owns these fields.
pub fn info_lines(st: &crate::engine::State, out: &mut String) {
    let aof = st.config.get_str("appendonly").as_deref() == Some("yes");
    out.push_str(&format!(
        "loading:0\r\nasync_loading:0\r\nrdb_changes_since_last_save:{}\r\n\
         rdb_bgsave_in_progress:0\r\nrdb_last_save_time:{}\r\nrdb_last_bgsave_status:ok\r\n\
         rdb_saves:0\r\naof_enabled:{}\r\naof_rewrite_in_progress:0\r\n\
         aof_last_write_status:ok\r\n",
        st.dirty, st.lastsave, aof as u8
    ));
}
