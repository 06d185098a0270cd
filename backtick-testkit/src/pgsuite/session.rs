//! [`SqlSession`]: raw SQL on a plain connection of a backend's driver, for the cases that set
//! up odd rows, inspect tables or provision databases.

use std::fmt;

use backtick_core::BoxError;

use super::PgBackend;

/// A plain connection of `B`'s driver running raw SQL. Its methods panic with the statement
/// and the driver's error, as a test wants.
///
/// Statements go through the backend's [`MigrationConnection`](backtick_pg_common::MigrationConnection),
/// the one raw-SQL channel every backend already implements for the migration runner; values
/// come back through its row shape (see [`SqlSession::texts`]), so a backend's tests need
/// nothing more to give the harness raw SQL.
pub struct SqlSession<B: PgBackend> {
    conn: B::Connection,
}

impl<B: PgBackend> fmt::Debug for SqlSession<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqlSession")
            .field("backend", &B::NAME)
            .finish_non_exhaustive()
    }
}

impl<B: PgBackend> SqlSession<B> {
    /// A session on a new connection to `url`, or the driver's error.
    pub(crate) async fn try_open(url: &str) -> Result<Self, BoxError> {
        Ok(SqlSession {
            conn: B::open(url).await?,
        })
    }

    /// A session on a new connection to `url`.
    ///
    /// # Panics
    /// When it cannot connect.
    pub async fn open(url: &str) -> Self {
        match Self::try_open(url).await {
            Ok(session) => session,
            Err(error) => panic!("cannot open a {} connection for raw SQL: {error}", B::NAME),
        }
    }

    /// Run `sql` like [`SqlSession::execute`], returning the driver's error.
    pub(crate) async fn try_execute(&mut self, sql: &str) -> Result<(), BoxError> {
        B::migration_connection(&mut self.conn).execute(sql).await
    }

    /// Run `sql`, one statement or several separated by `;` (the simple query protocol: no
    /// binds, rows discarded).
    ///
    /// # Panics
    /// When a statement fails.
    pub async fn execute(&mut self, sql: &str) {
        if let Err(error) = self.try_execute(sql).await {
            panic!("{sql}: {error}");
        }
    }

    /// The values of `query`'s one column like [`SqlSession::texts`], or the driver's error.
    async fn try_texts(&mut self, query: &str) -> Result<Vec<String>, BoxError> {
        // Shaped as the migration tracking table's rows, the one row shape every backend's
        // migration connection decodes; numbering the rows keeps the query's order.
        let wrapped = format!(
            "SELECT row_number() OVER ()::int8 AS version, coalesce(v::text, 'NULL') AS name, \
             ''::text AS checksum, now() AS applied_at FROM ({query}) AS q(v) ORDER BY 1"
        );
        let rows = B::migration_connection(&mut self.conn).query_applied(&wrapped).await?;
        Ok(rows.into_iter().map(|row| row.name).collect())
    }

    /// The values of `query`'s one column, as text, in the query's order; a NULL reads as
    /// `"NULL"`.
    ///
    /// # Panics
    /// When the query fails.
    pub async fn texts(&mut self, query: &str) -> Vec<String> {
        match self.try_texts(query).await {
            Ok(values) => values,
            Err(error) => panic!("{query}: {error}"),
        }
    }

    /// The one value of `query`, a query of one row and one column, as text.
    ///
    /// # Panics
    /// When the query fails or returns other than one row.
    pub async fn text(&mut self, query: &str) -> String {
        let mut values = self.texts(query).await;
        assert_eq!(values.len(), 1, "{query} must return one row: {values:?}");
        values.remove(0)
    }

    /// The one value of `query` as an integer.
    ///
    /// # Panics
    /// As [`SqlSession::text`], and when the value is not an integer.
    pub async fn integer(&mut self, query: &str) -> i64 {
        let text = self.text(query).await;
        text.parse()
            .unwrap_or_else(|_| panic!("{query} must return an integer, not {text}"))
    }

    /// The one value of `query` as a boolean.
    ///
    /// # Panics
    /// As [`SqlSession::text`], and when the value is not a boolean.
    pub async fn boolean(&mut self, query: &str) -> bool {
        parse_bool(&self.text(query).await)
    }

    /// The values of `query`'s one boolean column.
    ///
    /// # Panics
    /// When the query fails or a value is not a boolean.
    pub async fn booleans(&mut self, query: &str) -> Vec<bool> {
        self.texts(query).await.iter().map(|text| parse_bool(text)).collect()
    }

    /// The driver's connection, for driver-specific work.
    pub fn connection(&mut self) -> &mut B::Connection {
        &mut self.conn
    }
}

/// Postgres' text form of a boolean.
fn parse_bool(text: &str) -> bool {
    match text {
        "true" => true,
        "false" => false,
        other => panic!("not a boolean: {other}"),
    }
}
