//! The driver-neutral half of reading rows back: the names stored as text (a job's state and
//! codec) and what a row that does not decode is reported as. A backend decodes the columns
//! with its driver and hands the text here.

use backtick_core::{Codec, JobId, JobState, StateCounts, StoreError};

/// [`StoreError::Corrupt`] for the row of `job_id` (`None` when not even the id decoded).
pub fn corrupt(job_id: Option<JobId>, message: impl Into<String>) -> StoreError {
    StoreError::Corrupt {
        job_id,
        message: message.into(),
    }
}

/// The stored state name of job `job_id`.
///
/// # Errors
/// [`StoreError::Corrupt`] naming the job when the name is not a [`JobState`].
pub fn state(job_id: JobId, name: &str) -> Result<JobState, StoreError> {
    name.parse::<JobState>()
        .map_err(|e| corrupt(Some(job_id), e.to_string()))
}

/// The stored codec name of job `job_id`.
///
/// # Errors
/// [`StoreError::Corrupt`] naming the job when the name is not a [`Codec`].
pub fn codec(job_id: JobId, name: &str) -> Result<Codec, StoreError> {
    name.parse::<Codec>().map_err(|e| corrupt(Some(job_id), e.to_string()))
}

/// Add one row of [`crate::sql::COUNT_BY_STATE`] (`state`, `n`) to `counts`.
///
/// # Errors
/// [`StoreError::Corrupt`] (no job named: the row is a count) when `state` is not a
/// [`JobState`].
pub fn add_count(counts: &mut StateCounts, state: &str, n: i64) -> Result<(), StoreError> {
    let state = state.parse::<JobState>().map_err(|e| corrupt(None, e.to_string()))?;
    counts.0.insert(state, u64::try_from(n).unwrap_or(0));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_names_are_corrupt_rows_naming_the_job() {
        assert_eq!(state(JobId(4), "running").unwrap(), JobState::Running);
        let err = state(JobId(4), "sleeping").unwrap_err();
        assert!(
            matches!(
                &err,
                StoreError::Corrupt {
                    job_id: Some(JobId(4)),
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(err.to_string().contains("job 4"), "{err}");
        assert!(matches!(
            codec(JobId(5), "yaml"),
            Err(StoreError::Corrupt {
                job_id: Some(JobId(5)),
                ..
            })
        ));
    }

    #[test]
    fn counts_add_up_and_an_unknown_state_is_corrupt() {
        let mut counts = StateCounts::default();
        add_count(&mut counts, "queued", 3).unwrap();
        add_count(&mut counts, "done", 2).unwrap();
        assert_eq!((counts.get(JobState::Queued), counts.total()), (3, 5));
        assert!(matches!(
            add_count(&mut counts, "lost", 1),
            Err(StoreError::Corrupt { job_id: None, .. })
        ));
    }
}
