//! Actions on jobs by id (`RETRY_JOBS`, `CANCEL_JOBS`, `DELETE_JOBS`, `RUN_JOBS_NOW`): the
//! batch check and the report from the rows.

use backtick_core::JobId;
use backtick_core::admin::{ActionReport, AdminError, BULK_BATCH_SIZE};

/// The ids of one `apply_to_jobs` call, as the `$1` column.
///
/// # Errors
/// [`AdminError::InvalidRequest`] for more than [`BULK_BATCH_SIZE`] ids.
pub fn check_batch(ids: &[JobId]) -> Result<Vec<i64>, AdminError> {
    if ids.len() > BULK_BATCH_SIZE as usize {
        return Err(AdminError::invalid(format!(
            "at most {BULK_BATCH_SIZE} jobs per call, not {}",
            ids.len()
        )));
    }
    Ok(ids.iter().map(|id| id.0).collect())
}

/// The report from the rows an action returned (`id`, and for a cancel whether a request was
/// stored instead), in the order of `ids`.
pub fn action_report(ids: &[JobId], rows: impl IntoIterator<Item = (i64, bool)>) -> ActionReport {
    let mut rows: Vec<(usize, i64, bool)> = rows
        .into_iter()
        .map(|(id, requested)| {
            let at = ids.iter().position(|given| given.0 == id).unwrap_or(usize::MAX);
            (at, id, requested)
        })
        .collect();
    rows.sort_unstable();
    let mut report = ActionReport::default();
    for (_, id, requested) in rows {
        if requested {
            report.cancel_requested.push(JobId(id));
        } else {
            report.applied.push(JobId(id));
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_keeps_the_order_given_and_splits_requests() {
        let ids = [JobId(3), JobId(1), JobId(2)];
        let report = action_report(&ids, [(2, true), (1, false), (3, false)]);
        assert_eq!(report.applied, vec![JobId(3), JobId(1)]);
        assert_eq!(report.cancel_requested, vec![JobId(2)]);
        assert!(check_batch(&vec![JobId(1); BULK_BATCH_SIZE as usize + 1]).is_err());
    }
}
