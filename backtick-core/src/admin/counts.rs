//! Job counts per state, queue or worker, capped so they stay cheap on a table of millions.

use crate::job::JobState;

/// Each state's jobs are counted up to this many unless asked otherwise.
pub const COUNT_CAP: u64 = 10_000;

/// A count that may have stopped at its cap.
///
/// # Examples
/// ```
/// # extern crate backtick_core as backtick_postgres;
/// use backtick_postgres::admin::Count;
/// assert_eq!(Count { value: 10_000, capped: true }.to_string(), "10000+");
/// assert_eq!(Count::exact(3).to_string(), "3");
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Count {
    /// The number counted: exact, or a lower bound when `capped`.
    pub value: u64,
    /// True when counting stopped at the cap: there are at least `value`.
    pub capped: bool,
}

impl Count {
    /// An exact count.
    pub fn exact(value: u64) -> Self {
        Count { value, capped: false }
    }
}

impl std::fmt::Display for Count {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}{}", self.value, if self.capped { "+" } else { "" })
    }
}

/// What jobs are grouped by.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum GroupBy {
    /// One group per state (the group key is the state's name).
    #[default]
    State,
    /// One group per queue and state.
    Queue,
    /// One group per worker and state.
    Worker,
}

/// A request for job counts; see [`crate::admin::QueueAdmin::count_jobs`].
///
/// # How the cap is applied
/// Per state: the store reads at most `cap + 1` jobs of each state (through that state's
/// index) and counts the first `cap` of them. A state with more than `cap` jobs has every one
/// of its groups marked [`Count::capped`], their values counting only those `cap` jobs (which
/// ones is unspecified): lower bounds. So counting costs at most `5 × (cap + 1)` index reads
/// whatever the table's size, and a dashboard shows `10000+` done jobs rather than scanning
/// ten million rows for the exact figure.
///
/// # Examples
/// ```
/// # extern crate backtick_core as backtick_postgres;
/// use backtick_postgres::admin::{CountQuery, GroupBy};
/// let by_queue = CountQuery::by(GroupBy::Queue);
/// assert_eq!(by_queue.cap, backtick_postgres::admin::COUNT_CAP);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountQuery {
    /// How to group.
    pub group_by: GroupBy,
    /// Count only these states; empty for all.
    pub states: Vec<JobState>,
    /// The most jobs counted per state. Default [`COUNT_CAP`].
    pub cap: u64,
}

impl Default for CountQuery {
    fn default() -> Self {
        CountQuery {
            group_by: GroupBy::State,
            states: Vec::new(),
            cap: COUNT_CAP,
        }
    }
}

impl CountQuery {
    /// Counts grouped by `group_by`, every state, the default cap.
    pub fn by(group_by: GroupBy) -> Self {
        CountQuery {
            group_by,
            ..CountQuery::default()
        }
    }

    /// The same query with another cap.
    pub fn cap(mut self, cap: u64) -> Self {
        self.cap = cap;
        self
    }
}

/// The count of one group in one state.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct GroupCount {
    /// The queue's or worker's name, or the state's name for [`GroupBy::State`].
    pub key: String,
    /// The state.
    pub state: JobState,
    /// How many jobs.
    pub count: Count,
}

/// The answer to a [`CountQuery`]: one [`GroupCount`] per group and state that has jobs,
/// sorted by key then state.
///
/// # Examples
/// ```
/// # extern crate backtick_core as backtick_postgres;
/// use backtick_postgres::JobState;
/// use backtick_postgres::admin::{Count, GroupCount, JobCounts};
/// let counts = JobCounts {
///     groups: vec![GroupCount { key: "mail".into(), state: JobState::Queued, count: Count::exact(4) }],
/// };
/// assert_eq!(counts.get("mail", JobState::Queued), Count::exact(4));
/// assert_eq!(counts.get("mail", JobState::Dead), Count::exact(0));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobCounts {
    /// The groups.
    pub groups: Vec<GroupCount>,
}

impl JobCounts {
    /// The count of `key` in `state` (exactly 0 when absent).
    pub fn get(&self, key: &str, state: JobState) -> Count {
        self.groups
            .iter()
            .find(|g| g.key == key && g.state == state)
            .map_or(Count::exact(0), |g| g.count)
    }

    /// The sum over every group in `state`; capped if any of them is.
    pub fn total(&self, state: JobState) -> Count {
        self.groups
            .iter()
            .filter(|g| g.state == state)
            .fold(Count::exact(0), |sum, g| Count {
                value: sum.value + g.count.value,
                capped: sum.capped || g.count.capped,
            })
    }
}
