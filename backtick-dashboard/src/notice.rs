//! The one-line message shown after an action: carried in the redirect's query string as an
//! action name from a fixed list, a count and a subject, so a crafted link cannot make the
//! page say anything else.

/// What the last action did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Notice {
    /// The action's name: one of [`VERBS`].
    pub(crate) did: &'static str,
    /// How many jobs it touched, for job actions.
    pub(crate) jobs: Option<u64>,
    /// What it acted on otherwise (a queue or schedule name, a job id).
    pub(crate) subject: Option<String>,
}

/// The action names a notice may carry, and what the notice says for each.
const VERBS: [(&str, &str); 10] = [
    ("retry", "Retried"),
    ("cancel", "Cancelled"),
    ("cancel-requested", "Cancellation requested for"),
    ("delete", "Deleted"),
    ("run-now", "Made due now"),
    ("pause", "Paused"),
    ("resume", "Resumed"),
    ("remove", "Removed"),
    ("discard", "Discarded"),
    ("unchanged", "Nothing to change for"),
];

impl Notice {
    /// A notice for `did` (ignored unless it is one of [`VERBS`]).
    pub(crate) fn new(did: &str) -> Option<Self> {
        let did = VERBS.iter().find(|(name, _)| *name == did)?.0;
        Some(Notice {
            did,
            jobs: None,
            subject: None,
        })
    }

    /// The notice read back from a page's query string, if it carries one.
    pub(crate) fn from_query(query: &str) -> Option<Self> {
        let mut notice: Option<Notice> = None;
        let mut jobs = None;
        let mut subject = None;
        for (key, value) in form_urlencoded::parse(query.as_bytes()) {
            match &*key {
                "did" => notice = Notice::new(&value),
                "n" => jobs = value.parse().ok(),
                "on" => subject = Some(value.chars().take(200).collect()),
                _ => {}
            }
        }
        notice.map(|n| Notice { jobs, subject, ..n })
    }

    /// The query string that carries it (without `?`).
    pub(crate) fn to_query(&self) -> String {
        let mut query = form_urlencoded::Serializer::new(String::new());
        query.append_pair("did", self.did);
        if let Some(jobs) = self.jobs {
            query.append_pair("n", &jobs.to_string());
        }
        if let Some(subject) = &self.subject {
            query.append_pair("on", subject);
        }
        query.finish()
    }

    /// What the page says.
    pub(crate) fn text(&self) -> String {
        let verb = VERBS
            .iter()
            .find(|(name, _)| *name == self.did)
            .map_or("Done:", |(_, verb)| verb);
        match (&self.jobs, &self.subject) {
            (Some(1), _) => format!("{verb} 1 job."),
            (Some(n), _) => format!("{verb} {n} jobs."),
            (None, Some(subject)) => format!("{verb} {subject}."),
            (None, None) => format!("{verb}."),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_notice_round_trips_through_the_query_and_ignores_unknown_verbs() {
        let notice = Notice {
            jobs: Some(3),
            ..Notice::new("retry").unwrap()
        };
        let back = Notice::from_query(&notice.to_query()).unwrap();
        assert_eq!(back.text(), "Retried 3 jobs.");
        let queue = Notice {
            subject: Some("mail".into()),
            ..Notice::new("pause").unwrap()
        };
        assert_eq!(Notice::from_query(&queue.to_query()).unwrap().text(), "Paused mail.");
        assert_eq!(Notice::from_query("did=you+have+been+hacked"), None);
    }
}
