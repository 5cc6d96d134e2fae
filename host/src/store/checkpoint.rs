//! Background WAL checkpoints for a SQLite file.
//!
//! SQLite's own policy checkpoints inside the commit that takes the WAL past 1,000 pages: the
//! committing connection copies the WAL into the database file and waits for two `fsync`s while
//! every later write queues behind it. On one core that stall left the server idle for ~15% of a
//! client_credentials run, and copying the same hot index pages every 1,000 frames cost CPU as
//! well (docs/adr/0014-sqlite-writer-thread.md). So every connection of a process that runs this
//! thread opens with `wal_autocheckpoint=0`, and this thread checkpoints instead:
//!
//! - every [`Tuning::interval`], if any connection (of any process) committed since its last
//!   look (`PRAGMA data_version`), a `PASSIVE` checkpoint on a connection of its own: it copies
//!   what it can while the writer goes on appending;
//! - a passive checkpoint cannot finish while commits keep arriving, and the WAL only starts
//!   over from its beginning after one that finished. So once the WAL holds more than
//!   [`Tuning::restart_frames`] frames, the next pass holds the process's write lock: the
//!   writer waits for that one pass (what is left since the last one), and its next transaction
//!   starts the WAL afresh. The WAL file therefore stays near that size under any load.
//!
//! Durability is unchanged: a commit is durable when it is in the WAL (at the commit itself with
//! `synchronous=FULL`, at the checkpoint's `fsync` of the WAL with `NORMAL`), whoever checkpoints.
//! Another process on the same file (a replica, the CLI) checkpoints the same way; two passes at
//! once are not an error, one of them is simply busy.

use super::WriteLock;
use super::batch::SqliteFile;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::Duration;

/// When the checkpoint thread looks at the WAL, and when it makes the writer wait.
#[derive(Debug, Clone, Copy)]
pub(super) struct Tuning {
    /// Time between two looks at the WAL.
    pub interval: Duration,
    /// WAL size (in pages) beyond which a pass holds the write lock, so that it finishes and
    /// the WAL starts over.
    pub restart_frames: i64,
}

impl Default for Tuning {
    fn default() -> Self {
        // 250 ms: what the writer commits meanwhile at 15k tokens/s is ~4,000 frames, most of
        // them rewrites of the same pages, which one checkpoint copies once. 8,192 frames: a WAL
        // of at most ~32 MiB with 4 KiB pages.
        Self {
            interval: Duration::from_millis(250),
            restart_frames: 8192,
        }
    }
}

/// Starts the checkpoint thread for `file`. It ends when `stop`'s sender is dropped.
pub(super) fn spawn(
    file: SqliteFile,
    write_lock: Option<WriteLock>,
    stop: Receiver<()>,
    tuning: Tuning,
) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("tessera-checkpoint".into())
        .spawn(move || run(&file, write_lock.as_ref(), &stop, tuning))
        .map(drop)
}

fn run(file: &SqliteFile, write_lock: Option<&WriteLock>, stop: &Receiver<()>, tuning: Tuning) {
    let mut state = State::default();
    loop {
        match stop.recv_timeout(tuning.interval) {
            Err(RecvTimeoutError::Timeout) => {}
            Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
        }
        if let Err(e) = state.pass(file, write_lock, tuning) {
            tracing::warn!(error = %e, "checkpointing the SQLite WAL");
            // Opened again at the next pass.
            state.conn = None;
        }
    }
}

#[derive(Default)]
struct State {
    conn: Option<rusqlite::Connection>,
    /// `data_version` at the last pass that copied the whole WAL.
    clean_at: Option<i64>,
}

impl State {
    fn pass(
        &mut self,
        file: &SqliteFile,
        write_lock: Option<&WriteLock>,
        tuning: Tuning,
    ) -> rusqlite::Result<()> {
        let conn = match &mut self.conn {
            Some(c) => c,
            None => self.conn.insert(file.open()?),
        };
        let version: i64 = conn.query_row("PRAGMA data_version", [], |r| r.get(0))?;
        if self.clean_at == Some(version) {
            return Ok(());
        }
        let (busy, log, copied) = checkpoint(conn)?;
        // `log` is the WAL as it was when the pass began: under load the writer has appended
        // more since, and a WAL never copied in full at a moment the writer begins is never
        // started over. So past the limit, one pass runs with the writer held off.
        let (log, copied) = if !busy && log > tuning.restart_frames {
            let _writer_waits = write_lock.map(|l| l.blocking_lock());
            let (_, log, copied) = checkpoint(conn)?;
            (log, copied)
        } else {
            (log, copied)
        };
        self.clean_at = (!busy && copied == log).then_some(version);
        Ok(())
    }
}

/// One `PASSIVE` checkpoint: whether another one was running, the WAL's size and how much of it
/// is now in the database file, in pages.
fn checkpoint(conn: &rusqlite::Connection) -> rusqlite::Result<(bool, i64, i64)> {
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
        Ok((r.get::<_, i64>(0)? != 0, r.get(1)?, r.get(2)?))
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    struct Db {
        dir: std::path::PathBuf,
        file: SqliteFile,
        writer: rusqlite::Connection,
        lock: WriteLock,
    }

    impl Db {
        fn new() -> Self {
            let dir = std::env::temp_dir().join(format!(
                "tessera-checkpoint-{}",
                crate::crypto::secrets::ordered_id()
            ));
            std::fs::create_dir_all(&dir).unwrap();
            let file = SqliteFile {
                path: dir.join("db.sqlite").to_string_lossy().into_owned(),
                pragmas: "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=10000;",
            };
            let writer = file.open().unwrap();
            writer
                .execute_batch("CREATE TABLE t (k BLOB PRIMARY KEY, v BLOB NOT NULL)")
                .unwrap();
            Self {
                dir,
                file,
                writer,
                lock: WriteLock::default(),
            }
        }

        /// The WAL header's checkpoint sequence and salts, which change when it starts over.
        fn wal_header(path: &str) -> Vec<u8> {
            use std::io::Read as _;
            let mut h = [0u8; 24];
            std::fs::File::open(format!("{path}-wal"))
                .unwrap()
                .read_exact(&mut h)
                .unwrap();
            h[12..].to_vec()
        }
    }

    /// One commit of a 4 KB row under the write lock, as the writer thread commits.
    fn commit(conn: &rusqlite::Connection, lock: &WriteLock) {
        let _guard = lock.blocking_lock();
        let mut key = [0u8; 16];
        crate::crypto::secrets::fill_random(&mut key);
        conn.execute(
            "INSERT INTO t (k, v) VALUES (?1, zeroblob(4000))",
            rusqlite::params![key.to_vec()],
        )
        .unwrap();
    }

    const TUNING: Tuning = Tuning {
        interval: Duration::from_millis(5),
        restart_frames: 256,
    };

    /// A writer that never pauses, on a thread of its own: a passive checkpoint alone never
    /// leaves the WAL copied in full at a moment the writer begins, so the WAL would grow for
    /// as long as the load lasts. A pass past `restart_frames` holds the write lock, and the
    /// writer's next commit starts the WAL over.
    #[test]
    fn a_pass_past_the_limit_lets_the_wal_start_over_under_load() {
        use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
        let db = Db::new();
        let path = db.file.path.clone();
        let (stop, commits) = (
            std::sync::Arc::new(AtomicBool::new(false)),
            std::sync::Arc::new(AtomicU64::new(0)),
        );
        let writing = {
            let (stop, commits, lock, file) = (
                stop.clone(),
                commits.clone(),
                db.lock.clone(),
                db.file.clone(),
            );
            std::thread::spawn(move || {
                let conn = file.open().unwrap();
                while !stop.load(Ordering::Relaxed) {
                    commit(&conn, &lock);
                    commits.fetch_add(1, Ordering::Relaxed);
                }
            })
        };
        let wait_for = |n: u64| {
            let deadline = std::time::Instant::now() + Duration::from_secs(30);
            while commits.load(Ordering::Relaxed) < n {
                assert!(std::time::Instant::now() < deadline, "the writer stalled");
                std::thread::sleep(Duration::from_millis(1));
            }
        };
        wait_for(300); // > 256 frames: a data page and an index page per commit
        let before = Db::wal_header(&path);
        State::default()
            .pass(&db.file, Some(&db.lock), TUNING)
            .unwrap();
        wait_for(commits.load(Ordering::Relaxed) + 2);
        let after = Db::wal_header(&path);
        stop.store(true, Ordering::Relaxed);
        writing.join().unwrap();
        assert_ne!(before, after, "the WAL did not start over");
        std::fs::remove_dir_all(&db.dir).unwrap();
    }

    /// The thread itself: while a writer commits, the WAL starts over; once the writes stop,
    /// every row reaches the database file.
    #[test]
    fn the_thread_checkpoints_until_the_writes_stop() {
        let db = Db::new();
        let path = db.file.path.clone();
        let first = Db::wal_header(&path);
        let (stop, stopped) = std::sync::mpsc::channel();
        spawn(db.file.clone(), Some(db.lock.clone()), stopped, TUNING).unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        let mut rows = 0u64;
        while Db::wal_header(&path) == first {
            assert!(
                std::time::Instant::now() < deadline,
                "the WAL never started over"
            );
            for _ in 0..10 {
                commit(&db.writer, &db.lock);
                rows += 1;
            }
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while std::fs::metadata(&path).unwrap().len() < rows * 4000 {
            assert!(
                std::time::Instant::now() < deadline,
                "rows not checkpointed"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        drop(stop);
        let count: i64 = db
            .writer
            .query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(count as u64, rows);
        std::fs::remove_dir_all(&db.dir).unwrap();
    }
}
