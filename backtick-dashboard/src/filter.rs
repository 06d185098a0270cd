//! The Jobs page's filter: read from the URL's query string (so a filtered listing can be
//! bookmarked, shared and reloaded) or from a bulk action's form, turned into a
//! [`JobQuery`], and written back into links.

use backtick_core::admin::{JobCursor, JobQuery};
use backtick_core::{JobId, JobState, RunnerId};
use serde::Deserialize;

use crate::error::DashboardError;

/// The filter fields, as text from the URL or a form. Empty fields are unset.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub(crate) struct JobsFilter {
    /// One state's name; empty for every state.
    pub(crate) state: String,
    /// A queue name.
    pub(crate) queue: String,
    /// A worker name.
    pub(crate) worker: String,
    /// A job id.
    pub(crate) id: String,
    /// A JSON value the arguments must contain.
    pub(crate) args: String,
    /// Text the last error must contain.
    pub(crate) error: String,
    /// A runner whose running jobs to show.
    pub(crate) runner: String,
    /// Where the page starts (a previous page's `next`).
    pub(crate) cursor: String,
}

/// The filter's text fields, in the order they appear in a query string.
const FIELDS: [&str; 7] = ["state", "queue", "worker", "id", "args", "error", "runner"];

impl JobsFilter {
    /// The filter from form or query pairs (unknown keys ignored; the first of a repeated
    /// key wins).
    pub(crate) fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let mut filter = JobsFilter::default();
        for (key, value) in pairs {
            let slot = match key {
                "state" => &mut filter.state,
                "queue" => &mut filter.queue,
                "worker" => &mut filter.worker,
                "id" => &mut filter.id,
                "args" => &mut filter.args,
                "error" => &mut filter.error,
                "runner" => &mut filter.runner,
                "cursor" => &mut filter.cursor,
                _ => continue,
            };
            if slot.is_empty() {
                value.trim().clone_into(slot);
            }
        }
        filter
    }

    /// The filter as a [`JobQuery`].
    ///
    /// # Errors
    /// [`DashboardError::BadRequest`] for an unknown state, an id that is not a number, or
    /// args that are not JSON.
    pub(crate) fn query(&self) -> Result<JobQuery, DashboardError> {
        let mut query = JobQuery::default();
        if let Some(state) = self.state()? {
            query = query.state(state);
        }
        if !self.queue.is_empty() {
            query = query.queue(&self.queue);
        }
        if !self.worker.is_empty() {
            query = query.worker(&self.worker);
        }
        if !self.id.is_empty() {
            let id = self
                .id
                .trim_start_matches('#')
                .parse::<i64>()
                .map_err(|_| DashboardError::bad_request(format!("job id {:?} is not a number", self.id)))?;
            query = query.id(JobId(id));
        }
        if !self.args.is_empty() {
            let value = serde_json::from_str(&self.args).map_err(|error| {
                DashboardError::bad_request(format!(
                    "the args filter must be JSON, such as {{\"user_id\": 42}} ({error})"
                ))
            })?;
            query = query.args_contain(value);
        }
        if !self.error.is_empty() {
            query = query.error_contains(&self.error);
        }
        if !self.runner.is_empty() {
            query = query.runner(RunnerId::new(&self.runner));
        }
        Ok(query)
    }

    /// The state filter, if any.
    ///
    /// # Errors
    /// [`DashboardError::BadRequest`] for a name that is not a state.
    pub(crate) fn state(&self) -> Result<Option<JobState>, DashboardError> {
        if self.state.is_empty() {
            return Ok(None);
        }
        self.state
            .parse()
            .map(Some)
            .map_err(|_| DashboardError::bad_request(format!("{:?} is not a job state", self.state)))
    }

    /// The page's cursor, if any.
    ///
    /// # Errors
    /// [`DashboardError::Admin`] for text that is not a cursor.
    pub(crate) fn cursor(&self) -> Result<Option<JobCursor>, DashboardError> {
        if self.cursor.is_empty() {
            return Ok(None);
        }
        Ok(Some(self.cursor.parse()?))
    }

    /// True when no field but the state (and cursor) is set.
    pub(crate) fn is_unfiltered(&self) -> bool {
        self.pairs().all(|(key, _)| key == "state")
    }

    /// The set fields as (name, value), without the cursor.
    pub(crate) fn pairs(&self) -> impl Iterator<Item = (&'static str, &str)> {
        let values = [
            &self.state,
            &self.queue,
            &self.worker,
            &self.id,
            &self.args,
            &self.error,
            &self.runner,
        ];
        FIELDS
            .into_iter()
            .zip(values)
            .filter(|(_, value)| !value.is_empty())
            .map(|(key, value)| (key, value.as_str()))
    }

    /// The query string of the filter (no cursor), with the state replaced by `state`
    /// (`""` for every state), for the state tabs.
    pub(crate) fn with_state(&self, state: &str) -> String {
        let mut query = form_urlencoded::Serializer::new(String::new());
        if !state.is_empty() {
            query.append_pair("state", state);
        }
        for (key, value) in self.pairs().filter(|(key, _)| *key != "state") {
            query.append_pair(key, value);
        }
        query.finish()
    }

    /// The query string of the filter (no cursor).
    pub(crate) fn to_query(&self) -> String {
        self.with_state(&self.state)
    }

    /// The query string of the filter continuing at `cursor`.
    pub(crate) fn at(&self, cursor: &JobCursor) -> String {
        let mut query = self.to_query();
        if !query.is_empty() {
            query.push('&');
        }
        query.push_str("cursor=");
        query.push_str(&cursor.to_string());
        query
    }

    /// A one-line description, for confirmations and the audit log.
    pub(crate) fn describe(&self) -> String {
        let parts: Vec<String> = self.pairs().map(|(key, value)| format!("{key}={value}")).collect();
        if parts.is_empty() {
            "every job".to_owned()
        } else {
            parts.join(", ")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_filter_becomes_a_query_and_a_query_string() {
        let filter = JobsFilter::from_pairs([
            ("state", "dead"),
            ("queue", "mail"),
            ("args", r#"{"to":"ada"}"#),
            ("ignored", "x"),
        ]);
        let query = filter.query().unwrap();
        assert_eq!(query.states, vec![JobState::Dead]);
        assert_eq!(query.queue.as_deref(), Some("mail"));
        assert_eq!(query.args_contain, Some(serde_json::json!({"to": "ada"})));
        assert_eq!(
            filter.to_query(),
            "state=dead&queue=mail&args=%7B%22to%22%3A%22ada%22%7D"
        );
        assert_eq!(filter.with_state(""), "queue=mail&args=%7B%22to%22%3A%22ada%22%7D");
        assert!(!filter.is_unfiltered());
    }

    #[test]
    fn bad_fields_are_bad_requests() {
        for (key, value) in [("state", "sleeping"), ("id", "abc"), ("args", "{nope")] {
            let filter = JobsFilter::from_pairs([(key, value)]);
            assert!(filter.query().is_err(), "{key}={value}");
        }
    }
}
