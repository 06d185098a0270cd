//! Keyset pagination of job listings: [`PageRequest`] in, [`JobPage`] out, [`JobCursor`] in
//! between. Pages are ordered by job id and continue *after* the last id seen, never by
//! offset, so jobs enqueued meanwhile (which get higher ids) never shift a later page.

use std::fmt;
use std::str::FromStr;

use crate::admin::error::AdminError;
use crate::job::{Job, JobId};

/// How many jobs a page holds unless asked otherwise.
pub const DEFAULT_PAGE_SIZE: u32 = 50;

/// The largest page a store must serve.
pub const MAX_PAGE_SIZE: u32 = 1_000;

/// How many jobs one page may examine unless asked otherwise: the bound on a listing's cost
/// whatever the filters (see [`PageRequest::scan_limit`]).
pub const JOB_SCAN_LIMIT: u32 = 10_000;

/// The order of a listing, by job id.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Order {
    /// Highest id (most recently enqueued) first. The default.
    #[default]
    NewestFirst,
    /// Lowest id first.
    OldestFirst,
}

/// Where the next page of a listing starts: after this job, in this order. Opaque to
/// callers; it travels as text ([`fmt::Display`] / [`FromStr`]) through a CLI flag or a URL.
///
/// # Examples
/// ```
/// # extern crate backtick_core as backtick_postgres;
/// use backtick_postgres::JobId;
/// use backtick_postgres::admin::{JobCursor, Order};
/// let cursor = JobCursor::after(JobId(120), Order::NewestFirst);
/// let text = cursor.to_string();
/// assert_eq!(text.parse::<JobCursor>()?, cursor);
/// assert!("nonsense".parse::<JobCursor>().is_err());
/// # Ok::<(), backtick_postgres::admin::AdminError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct JobCursor {
    after: JobId,
    order: Order,
}

impl JobCursor {
    /// The cursor of a page that ended at `last` in `order`.
    pub fn after(last: JobId, order: Order) -> Self {
        JobCursor { after: last, order }
    }

    /// The last job id already seen: the next page starts strictly after it.
    pub fn last_seen(&self) -> JobId {
        self.after
    }

    /// The order of the listing the cursor belongs to.
    pub fn order(&self) -> Order {
        self.order
    }
}

impl fmt::Display for JobCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let direction = match self.order {
            Order::NewestFirst => "n",
            Order::OldestFirst => "o",
        };
        write!(f, "{direction}{}", self.after)
    }
}

impl FromStr for JobCursor {
    type Err = AdminError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid = || AdminError::invalid(format!("{s:?} is not a job cursor; pass the `next` of a previous page"));
        let order = match s.get(..1) {
            Some("n") => Order::NewestFirst,
            Some("o") => Order::OldestFirst,
            _ => return Err(invalid()),
        };
        let after = s[1..].parse::<i64>().map_err(|_| invalid())?;
        Ok(JobCursor::after(JobId(after), order))
    }
}

/// Which page of a listing to return.
///
/// A page *examines* at most [`PageRequest::scan_limit`] jobs: the jobs after the cursor, in
/// the page's order, that are in the query's states (every state when none is given) and
/// have one of its ids (any id when none is given). Its other filters only pick among the
/// examined jobs, so a page can come back short, even empty, and still have a `next` cursor
/// when matching jobs lie further on. That bound is what keeps a listing cheap on a table of
/// millions of jobs whatever the filter; callers that want a full page keep following `next`.
///
/// # Examples
/// ```
/// # extern crate backtick_core as backtick_postgres;
/// use backtick_postgres::admin::{Order, PageRequest};
/// let first = PageRequest::first(20);
/// assert_eq!((first.limit, first.order), (20, Order::NewestFirst));
/// assert!(first.validate().is_ok());
/// assert!(PageRequest::first(0).validate().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    /// Continue after this cursor (from a previous page's `next`); `None` for the first page.
    pub cursor: Option<JobCursor>,
    /// The order of the listing. Must match the cursor's.
    pub order: Order,
    /// At most this many jobs, 1 to [`MAX_PAGE_SIZE`]. Default [`DEFAULT_PAGE_SIZE`].
    pub limit: u32,
    /// At most this many jobs examined (see above), at least 1. Default [`JOB_SCAN_LIMIT`].
    pub scan_limit: u32,
}

impl Default for PageRequest {
    fn default() -> Self {
        PageRequest {
            cursor: None,
            order: Order::NewestFirst,
            limit: DEFAULT_PAGE_SIZE,
            scan_limit: JOB_SCAN_LIMIT,
        }
    }
}

impl PageRequest {
    /// The first page, newest first, of at most `limit` jobs.
    pub fn first(limit: u32) -> Self {
        PageRequest {
            limit,
            ..PageRequest::default()
        }
    }

    /// The page after `cursor`, in the cursor's order, of at most `limit` jobs.
    pub fn after(cursor: JobCursor, limit: u32) -> Self {
        PageRequest {
            cursor: Some(cursor),
            order: cursor.order(),
            limit,
            ..PageRequest::default()
        }
    }

    /// The same request, oldest first.
    pub fn oldest_first(mut self) -> Self {
        self.order = Order::OldestFirst;
        self
    }

    /// The same request, examining at most `scan_limit` jobs.
    pub fn scan_limit(mut self, scan_limit: u32) -> Self {
        self.scan_limit = scan_limit;
        self
    }

    /// The id bound of the page's scan: after the cursor's job, if any.
    pub fn after_id(&self) -> Option<JobId> {
        self.cursor.map(|cursor| cursor.last_seen())
    }

    /// Check the request.
    ///
    /// # Errors
    /// [`AdminError::InvalidRequest`] for a limit outside `1..=MAX_PAGE_SIZE`, a scan limit of
    /// 0, or a cursor from a listing of the other order.
    pub fn validate(&self) -> Result<(), AdminError> {
        if !(1..=MAX_PAGE_SIZE).contains(&self.limit) {
            return Err(AdminError::invalid(format!(
                "a page holds 1 to {MAX_PAGE_SIZE} jobs, not {}",
                self.limit
            )));
        }
        if self.scan_limit == 0 {
            return Err(AdminError::invalid(
                "a page must examine at least one job (scan_limit 0)",
            ));
        }
        if let Some(cursor) = self.cursor
            && cursor.order() != self.order
        {
            return Err(AdminError::invalid(
                "the cursor belongs to a listing in the other order; keep the order of the first page",
            ));
        }
        Ok(())
    }

    /// Where the next page starts, the way every store ends a page. `last_returned` is the
    /// last job of this page, which is full when it holds `limit` jobs; `scanned` is how many
    /// jobs the page examined and `last_scanned` the last of them. A full page continues
    /// after its last job; a short page whose scan stopped at `scan_limit` continues after
    /// the last job it examined; any other page is the last.
    ///
    /// # Examples
    /// ```
    /// # extern crate backtick_core as backtick_postgres;
    /// use backtick_postgres::JobId;
    /// use backtick_postgres::admin::PageRequest;
    /// let page = PageRequest::first(2).scan_limit(10);
    /// // Full page: continue after its last job.
    /// assert_eq!(page.next_cursor(Some(JobId(8)), 2, 3, Some(JobId(7))).unwrap().last_seen(), JobId(8));
    /// // Short page, scan cut at its limit: continue after the last examined job.
    /// assert_eq!(page.next_cursor(Some(JobId(9)), 1, 10, Some(JobId(1))).unwrap().last_seen(), JobId(1));
    /// // Short page, scan ran out of jobs: the end.
    /// assert_eq!(page.next_cursor(Some(JobId(9)), 1, 4, Some(JobId(5))), None);
    /// ```
    pub fn next_cursor(
        &self,
        last_returned: Option<JobId>,
        returned: usize,
        scanned: u64,
        last_scanned: Option<JobId>,
    ) -> Option<JobCursor> {
        let at = if returned >= self.limit as usize {
            last_returned
        } else if scanned >= u64::from(self.scan_limit) {
            last_scanned
        } else {
            None
        };
        at.map(|id| JobCursor::after(id, self.order))
    }

    /// True when `id` comes after the cursor in the page's order.
    pub fn is_after_cursor(&self, id: JobId) -> bool {
        match (self.after_id(), self.order) {
            (None, _) => true,
            (Some(after), Order::NewestFirst) => id < after,
            (Some(after), Order::OldestFirst) => id > after,
        }
    }
}

/// One page of a job listing.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JobPage {
    /// The jobs, in the page's order.
    pub jobs: Vec<Job>,
    /// Where the next page starts; `None` when no job after this page can match. It may be
    /// `Some` when the page ended exactly at the last match: the next page is then empty.
    pub next: Option<JobCursor>,
}
