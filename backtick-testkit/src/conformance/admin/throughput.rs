//! Counting finished jobs in a time range (`count_finished`): what throughput figures are made
//! of, capped like every count.

use backtick_core::admin::{Count, JobCounts, TimeRange};
use backtick_core::{JobState, Transition};

use super::super::AdminCase;
use super::super::support::{at, enqueue, enqueue_and_claim, finish_applied, job, t0, token};
use super::{Admin, store};

pub(super) fn cases() -> Vec<AdminCase> {
    vec![
        admin_case!(
            "admin_throughput",
            count_finished_counts_each_state_finished_in_the_range
        ),
        admin_case!(
            "admin_throughput",
            count_finished_keeps_the_newest_finishes_up_to_the_cap
        ),
    ]
}

/// Enqueue a job at t0, claim it and end it with `transition` at `finished`.
async fn finish_at(admin: &Admin, transition: Transition, finished: i64) {
    let claimed = enqueue_and_claim(&store(admin), job(), "r1", t0()).await;
    finish_applied(&store(admin), &token(&claimed), transition, at(finished)).await;
}

async fn count(admin: &Admin, range: TimeRange, cap: u64) -> JobCounts {
    admin.count_finished(range, cap).await.expect("count_finished failed")
}

fn summary(counts: &JobCounts) -> Vec<(JobState, Count)> {
    JobState::ALL.iter().map(|s| (*s, counts.get(s.as_str(), *s))).collect()
}

async fn count_finished_counts_each_state_finished_in_the_range(admin: Admin) {
    finish_at(&admin, Transition::Done, 10).await;
    finish_at(&admin, Transition::Done, 20).await;
    finish_at(&admin, Transition::Dead { error: "boom".into() }, 25).await;
    finish_at(&admin, Transition::Done, 30).await;
    let cancelled = enqueue(&store(&admin), job(), t0()).await;
    assert!(
        store(&admin)
            .cancel(cancelled, "not needed", Some(at(21)))
            .await
            .expect("cancel")
    );
    let _running = enqueue_and_claim(&store(&admin), job(), "r2", at(22)).await;
    enqueue(&store(&admin), job(), t0()).await;

    let range = TimeRange::between(at(20), at(30));
    let counted = count(&admin, range, 100).await;
    assert_eq!(
        summary(&counted),
        vec![
            (JobState::Pending, Count::exact(0)),
            (JobState::Queued, Count::exact(0)),
            (JobState::Running, Count::exact(0)),
            (JobState::Done, Count::exact(1)),
            (JobState::Dead, Count::exact(1)),
            (JobState::Cancelled, Count::exact(1)),
        ],
        "from inclusive (the done job at 20), until exclusive (not the one at 30); queued and running never count"
    );
    assert_eq!(counted.groups.len(), 3, "one group per state that has jobs");
    assert_eq!(counted.groups[0].key, "cancelled", "keyed by state name, sorted");
    let all = count(&admin, TimeRange::default(), 100).await;
    assert_eq!(
        all.total(JobState::Done),
        Count::exact(3),
        "an open range counts every finish"
    );
    let since = count(&admin, TimeRange::since(at(25)), 100).await;
    assert_eq!(
        (since.total(JobState::Done), since.total(JobState::Dead)),
        (Count::exact(1), Count::exact(1))
    );
    assert!(
        count(&admin, TimeRange::before(at(10)), 100).await.groups.is_empty(),
        "nothing finished before 10"
    );
}

async fn count_finished_keeps_the_newest_finishes_up_to_the_cap(admin: Admin) {
    for second in 1..=4 {
        finish_at(&admin, Transition::Done, second).await;
    }
    finish_at(&admin, Transition::Dead { error: "boom".into() }, 5).await;
    let capped = count(&admin, TimeRange::default(), 2).await;
    assert_eq!(
        (capped.total(JobState::Dead), capped.total(JobState::Done)),
        (Count { value: 1, capped: true }, Count { value: 1, capped: true }),
        "the two newest finishes (dead at 5, done at 4), both marked capped"
    );
    let exact = count(&admin, TimeRange::default(), 5).await;
    assert_eq!(
        (exact.total(JobState::Dead), exact.total(JobState::Done)),
        (Count::exact(1), Count::exact(4)),
        "exactly the cap: not capped"
    );
}
