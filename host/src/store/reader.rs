//! Point reads on the request's own thread (SQLite only).
//!
//! sqlx runs every SQLite connection on a worker thread of its own: a query is a message to
//! that thread and its rows come back the same way, so each read costs two context switches and
//! the conversion of every value into `AnyValue`. For the reads every token request makes (a
//! token by its hash, its grant, its user) that overhead was most of the request's CPU. These
//! reads instead run on the calling thread, on a small pool of extra read-only connections to
//! the same file, with prepared statements cached per connection. A point read from SQLite's
//! page cache takes a few microseconds; in WAL mode readers never wait for the writer, so the
//! calling thread is held no longer than a mutex would hold it. Writes, PostgreSQL and every
//! other query stay on sqlx. docs/adr/0013-sqlite-reads-on-the-calling-thread.md has the
//! measurements.
//!
//! Each read sees the latest committed transaction, as a read through the sqlx pool does, so a
//! revocation committed by any writer (this process, another process on the file) is seen by the
//! next read.

use super::{StoreError, StoreResult};
use rusqlite::{Connection, OpenFlags};
use std::cell::Cell;
use std::sync::Mutex;

/// Idle connections kept for reuse; more are opened when more threads read at once, and closed
/// when returned beyond this many.
const MAX_IDLE: usize = 16;

/// The read-only connections of one SQLite file.
#[derive(Debug)]
pub(crate) struct Readers {
    path: String,
    idle: Mutex<Vec<Reader>>,
}

/// One read-only connection and the column names of each statement it has run.
#[derive(Debug)]
struct Reader {
    conn: Connection,
    /// Column names by statement (a handful of statements; found by the address of their
    /// static SQL, not by hashing it): looking a column up by name through rusqlite asks SQLite
    /// for every column's name (`sqlite3_column_name`, `strlen`) on every row, which was 7% of
    /// an introspection's CPU.
    names: Vec<(&'static str, Box<[Box<str>]>)>,
}

impl Readers {
    /// Readers for the database file at `path`, or `None` for an in-memory database (another
    /// connection would see another database).
    pub(crate) fn new(path: &str) -> Option<Self> {
        (path != ":memory:" && !path.is_empty()).then(|| Self {
            path: path.to_string(),
            idle: Mutex::new(Vec::new()),
        })
    }

    fn open(&self) -> rusqlite::Result<Reader> {
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        // query_only: these connections can never write, whatever SQL reaches them. The busy
        // timeout only matters while another connection recovers the WAL after a crash. A small
        // page cache (256 KiB instead of SQLite's 2 MiB): every commit by another connection
        // empties it anyway, and one is held per reading thread.
        conn.execute_batch(
            "PRAGMA query_only=ON; PRAGMA busy_timeout=5000; PRAGMA cache_size=-256;",
        )?;
        Ok(Reader {
            conn,
            names: Vec::new(),
        })
    }

    /// Runs `f` on an idle connection (opening one if none is idle) on the calling thread.
    fn read<T>(&self, f: impl FnOnce(&mut Reader) -> StoreResult<T>) -> StoreResult<T> {
        let idle = self.idle.lock().ok().and_then(|mut v| v.pop());
        let mut reader = match idle {
            Some(r) => r,
            None => self.open()?,
        };
        let out = f(&mut reader);
        if let Ok(mut v) = self.idle.lock()
            && v.len() < MAX_IDLE
        {
            v.push(reader);
        }
        out
    }

    /// The first row of `sql` with `key` bound to `$1`, mapped by `T`.
    pub(crate) fn find<T: super::FromColumns>(
        &self,
        sql: &'static str,
        key: &str,
    ) -> StoreResult<Option<T>> {
        self.read(|r| {
            let mut stmt = r.conn.prepare_cached(sql)?;
            let known = r.names.iter().position(|(s, _)| std::ptr::eq(*s, sql));
            let at = known.unwrap_or_else(|| {
                let names = stmt.column_names().into_iter().map(Box::from).collect();
                r.names.push((sql, names));
                r.names.len() - 1
            });
            let names = &r.names[at].1;
            let mut rows = stmt.query([key])?;
            match rows.next()? {
                Some(row) => T::from_columns(&Named {
                    row,
                    names,
                    next: Cell::new(0),
                })
                .map(Some),
                None => Ok(None),
            }
        })
    }
}

/// A row whose columns are found by name in the statement's own list, starting where the last
/// lookup ended: the mappings read columns mostly in `SELECT` order, so a lookup is usually
/// one comparison.
struct Named<'a> {
    row: &'a rusqlite::Row<'a>,
    names: &'a [Box<str>],
    next: Cell<usize>,
}

impl super::Columns for Named<'_> {
    fn col<T: super::Col>(&self, name: &str) -> StoreResult<T> {
        let n = self.names.len();
        let start = self.next.get();
        let i = (0..n)
            .map(|k| (start + k) % n)
            .find(|&i| &*self.names[i] == name)
            .ok_or_else(|| StoreError::Sqlite(rusqlite::Error::InvalidColumnName(name.into())))?;
        self.next.set(i + 1);
        self.row.get(i).map_err(StoreError::from)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn reads_see_commits_and_cannot_write() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.db");
        let path = path.to_str().unwrap();
        let writer = Connection::open(path).unwrap();
        writer
            .execute_batch("PRAGMA journal_mode=WAL; CREATE TABLE t (k TEXT PRIMARY KEY, v TEXT);")
            .unwrap();
        let readers = Readers::new(path).unwrap();
        let get = |k: &str| {
            readers
                .read(|r| {
                    Ok(r.conn
                        .query_row("SELECT v FROM t WHERE k = $1", [k], |r| r.get(0))
                        .ok())
                })
                .unwrap()
        };
        assert_eq!(get("a"), None::<String>);
        writer
            .execute("INSERT INTO t VALUES ('a', 'one')", [])
            .unwrap();
        assert_eq!(get("a").as_deref(), Some("one"));
        writer
            .execute("UPDATE t SET v = 'two' WHERE k = 'a'", [])
            .unwrap();
        assert_eq!(
            get("a").as_deref(),
            Some("two"),
            "a cached statement sees the new commit"
        );
        let refused = readers.read(|r| Ok(r.conn.execute("DELETE FROM t", [])));
        assert!(
            refused.unwrap().is_err(),
            "reader connections are query_only"
        );
        assert!(Readers::new(":memory:").is_none());
    }

    /// Two columns read in and out of `SELECT` order.
    #[derive(Debug, PartialEq)]
    struct Pair(String, String, Option<String>);

    impl crate::store::FromColumns for Pair {
        fn from_columns(r: &impl crate::store::Columns) -> StoreResult<Self> {
            Ok(Pair(r.col("v")?, r.col("k")?, r.col("w")?))
        }
    }

    #[test]
    fn columns_are_found_by_name_in_any_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("n.db");
        let path = path.to_str().unwrap();
        let writer = Connection::open(path).unwrap();
        writer
            .execute_batch(
                "PRAGMA journal_mode=WAL; CREATE TABLE t (k TEXT PRIMARY KEY, v TEXT, w TEXT);
                 INSERT INTO t VALUES ('a', 'one', NULL);",
            )
            .unwrap();
        let readers = Readers::new(path).unwrap();
        for _ in 0..2 {
            let got: Option<Pair> = readers
                .find("SELECT k, w, v FROM t WHERE k = $1", "a")
                .unwrap();
            assert_eq!(got, Some(Pair("one".into(), "a".into(), None)));
        }
        let missing = readers.find::<Pair>("SELECT k, v FROM t WHERE k = $1", "a");
        assert!(
            matches!(
                missing,
                Err(StoreError::Sqlite(rusqlite::Error::InvalidColumnName(ref c))) if c == "w"
            ),
            "{missing:?}"
        );
    }
}
