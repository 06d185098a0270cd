//! Flow control: queue limits held by all claimers together (global concurrency, rate
//! limits) and job dependencies (graphs, release, cancel, cycles).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use backtick_core::flow::{JobGraph, Parent, QueueLimits, RateLimit};
use backtick_core::state::revive;
use backtick_core::{ClaimParams, Job, JobFilter, JobId, JobState, StoreError, Transition};
use tokio::task::JoinSet;

use super::Case;
use super::support::{LEASE, Store, WORKER, at, claim, dead, enqueue, finish_applied, get, job, params, t0, token};

pub(super) fn cases() -> Vec<Case> {
    vec![
        case!("flow", concurrent_claimers_never_exceed_a_global_limit_of_three),
        case!("flow", revived_jobs_release_their_global_slots),
        case!(
            "flow",
            the_plain_claim_leaves_limited_queues_until_their_limits_are_cleared
        ),
        case!("flow", a_rate_limit_holds_over_each_window),
        case!("flow", invalid_limits_are_rejected),
        case!("flow", a_dependent_job_starts_only_after_all_its_parents_are_done),
        case!(
            "flow",
            a_dependent_job_is_cancelled_when_a_parent_goes_dead_and_so_are_its_own
        ),
        case!(
            "flow",
            a_graph_with_a_cycle_or_a_missing_parent_is_rejected_and_stores_nothing
        ),
        case!("flow", a_graph_starts_each_node_by_the_states_of_its_stored_parents),
        case!("flow", parents_finishing_at_once_release_their_child_once),
    ]
}

const LIMITED: &str = "limited";

fn on(queue: &str) -> backtick_core::NewJob {
    job().queue(queue)
}

async fn set_limits(store: &Store, queue: &str, limits: QueueLimits) {
    store
        .set_queue_limits(queue, &limits, Some(t0()))
        .await
        .expect("set_queue_limits failed");
}

async fn claim_limited(store: &Store, params: &ClaimParams) -> Vec<Job> {
    store.claim_limited(params).await.expect("claim_limited failed")
}

async fn enqueue_on(store: &Store, queue: &str, n: usize) -> Vec<JobId> {
    store
        .enqueue_many(vec![on(queue); n], Some(t0()))
        .await
        .expect("enqueue_many failed")
}

async fn concurrent_claimers_never_exceed_a_global_limit_of_three(store: Store) {
    const JOBS: usize = 48;
    const CLAIMERS: usize = 16;
    set_limits(&store, LIMITED, QueueLimits::new().concurrency(3)).await;
    let ids = enqueue_on(&store, LIMITED, JOBS).await;
    // Jobs a claimer holds: counted up once its claim returned and down before it finishes
    // them, so always a subset of the store's running jobs of the queue. Above 3, the store
    // let more than 3 run at once.
    let held = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let mut set = JoinSet::new();
    for n in 0..CLAIMERS {
        let (store, held, peak, done) = (store.clone(), held.clone(), peak.clone(), done.clone());
        set.spawn(async move {
            let runner = format!("claimer-{n}");
            while done.load(Ordering::SeqCst) < JOBS {
                let claimed = claim_limited(&store, &params(&runner, 2, t0())).await;
                if claimed.is_empty() {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                    continue;
                }
                let now_held = held.fetch_add(claimed.len(), Ordering::SeqCst) + claimed.len();
                peak.fetch_max(now_held, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(5)).await;
                held.fetch_sub(claimed.len(), Ordering::SeqCst);
                for job in &claimed {
                    finish_applied(&store, &token(job), Transition::Done, t0()).await;
                }
                done.fetch_add(claimed.len(), Ordering::SeqCst);
            }
        });
    }
    while let Some(joined) = set.join_next().await {
        if let Err(error) = joined {
            std::panic::resume_unwind(error.into_panic());
        }
    }
    let peak = peak.load(Ordering::SeqCst);
    assert!(peak <= 3, "{peak} jobs of a queue limited to 3 ran at once");
    assert_eq!(
        peak, 3,
        "16 claimers never filled the limit of 3: the limit starves claims"
    );
    for id in ids {
        let job = get(&store, id).await;
        assert_eq!(
            (job.state, job.attempt),
            (JobState::Done, 1),
            "job {id} ran other than once: {job:?}"
        );
    }
}

async fn revived_jobs_release_their_global_slots(store: Store) {
    set_limits(&store, LIMITED, QueueLimits::new().concurrency(2)).await;
    enqueue_on(&store, LIMITED, 4).await;
    let first = claim_limited(&store, &params("dies", 10, t0())).await;
    assert_eq!(first.len(), 2, "a limit of 2 allows 2 claims: {first:?}");
    assert!(
        claim_limited(&store, &params("other", 10, at(1))).await.is_empty(),
        "the limit is held while the dead runner's jobs run"
    );
    let expired_at = at(LEASE.as_secs() as i64 + 1);
    let expired = store
        .expired_leases(10, Some(expired_at))
        .await
        .expect("expired_leases failed");
    let revivals: Vec<_> = expired.iter().filter_map(revive).collect();
    assert_eq!(revivals.len(), 2, "both leases ran out: {expired:?}");
    let report = store
        .revive_many(&revivals, Some(expired_at))
        .await
        .expect("revive_many failed");
    assert_eq!(report.applied.len(), 2, "{report:?}");
    let again = claim_limited(&store, &params("other", 10, expired_at)).await;
    assert_eq!(again.len(), 2, "revived jobs give their slots back: {again:?}");
}

async fn the_plain_claim_leaves_limited_queues_until_their_limits_are_cleared(store: Store) {
    set_limits(&store, LIMITED, QueueLimits::new().concurrency(5)).await;
    let limited = enqueue(&store, on(LIMITED), t0()).await;
    let plain = enqueue(&store, job(), t0()).await;
    let listed = store.queue_limits().await.expect("queue_limits failed");
    assert_eq!(listed, vec![(LIMITED.to_owned(), QueueLimits::new().concurrency(5))]);
    let claimed: Vec<JobId> = claim(&store, &params("r", 10, t0()))
        .await
        .iter()
        .map(|j| j.id)
        .collect();
    assert_eq!(claimed, vec![plain], "the plain claim takes no job of a limited queue");
    set_limits(&store, LIMITED, QueueLimits::new()).await;
    assert!(store.queue_limits().await.expect("queue_limits failed").is_empty());
    assert!(claim_limited(&store, &params("r", 10, t0())).await.is_empty());
    let claimed: Vec<JobId> = claim(&store, &params("r", 10, t0()))
        .await
        .iter()
        .map(|j| j.id)
        .collect();
    assert_eq!(
        claimed,
        vec![limited],
        "cleared limits give the queue back to the plain claim"
    );
}

async fn a_rate_limit_holds_over_each_window(store: Store) {
    let rate = RateLimit::new(3, Duration::from_secs(10));
    set_limits(&store, "rated", QueueLimits::new().rate(rate)).await;
    enqueue_on(&store, "rated", 15).await;
    let mut started = Vec::new();
    for second in 0..30 {
        let claimed = claim_limited(&store, &params("r", 10, at(second))).await;
        for job in &claimed {
            finish_applied(&store, &token(job), Transition::Done, at(second)).await;
        }
        started.push(claimed.len());
    }
    for window in 0..3 {
        let in_window: usize = started[window * 10..window * 10 + 10].iter().sum();
        assert_eq!(
            in_window, 3,
            "window {window} started {in_window} jobs, not 3: {started:?}"
        );
    }
    assert_eq!(started[0], 3, "the first window opens at the first claim: {started:?}");
    let workers = [WORKER.to_owned()];
    let due = store
        .next_due(&workers, None, Duration::from_secs(60), Some(at(34)))
        .await
        .expect("next_due failed");
    assert_eq!(due, None, "the window at 30 s is open and unused: nothing to wait for");
    claim_limited(&store, &params("r", 10, at(34))).await;
    let due = store
        .next_due(&workers, None, Duration::from_secs(60), Some(at(35)))
        .await
        .expect("next_due failed");
    assert_eq!(
        due,
        Some(Duration::from_secs(9)),
        "the full window of 34 s reopens at 44 s"
    );
}

async fn invalid_limits_are_rejected(store: Store) {
    for limits in [
        QueueLimits::new().concurrency(0),
        QueueLimits::new().rate(RateLimit::per_minute(0)),
    ] {
        let result = store.set_queue_limits(LIMITED, &limits, Some(t0())).await;
        assert!(
            matches!(result, Err(StoreError::InvalidLimits(_))),
            "{limits:?} was not rejected: {result:?}"
        );
    }
    assert!(store.queue_limits().await.expect("queue_limits failed").is_empty());
}

async fn graph(store: &Store, graph: JobGraph) -> Vec<JobId> {
    store
        .enqueue_graph(graph, Some(t0()))
        .await
        .expect("enqueue_graph failed")
}

fn after(ids: &[JobId]) -> Vec<Parent> {
    ids.iter().copied().map(Parent::from).collect()
}

async fn claim_ids(store: &Store, now: i64) -> Vec<Job> {
    claim(store, &params("r", 50, at(now))).await
}

async fn a_dependent_job_starts_only_after_all_its_parents_are_done(store: Store) {
    let parents = store
        .enqueue_many(vec![job(), job()], Some(t0()))
        .await
        .expect("enqueue_many failed");
    let mut g = JobGraph::new();
    g.add("child", job(), after(&parents));
    let child = graph(&store, g).await[0];
    assert_eq!(get(&store, child).await.state, JobState::Pending);
    let claimed = claim_ids(&store, 1).await;
    let claimed_ids: Vec<JobId> = claimed.iter().map(|j| j.id).collect();
    assert_eq!(claimed_ids, parents, "only the parents are due");
    finish_applied(&store, &token(&claimed[0]), Transition::Done, at(2)).await;
    assert_eq!(
        get(&store, child).await.state,
        JobState::Pending,
        "one parent is still running"
    );
    assert!(claim_ids(&store, 3).await.is_empty());
    finish_applied(&store, &token(&claimed[1]), Transition::Done, at(4)).await;
    assert_eq!(get(&store, child).await.state, JobState::Queued, "every parent is done");
    let claimed: Vec<JobId> = claim_ids(&store, 5).await.iter().map(|j| j.id).collect();
    assert_eq!(claimed, vec![child]);
}

async fn a_dependent_job_is_cancelled_when_a_parent_goes_dead_and_so_are_its_own(store: Store) {
    let mut g = JobGraph::new();
    g.add("a", job(), Vec::<Parent>::new())
        .add("b", job(), ["a"])
        .add("c", job(), ["b"])
        .add("other", job(), Vec::<Parent>::new());
    let ids = graph(&store, g).await;
    let (a, b, c) = (ids[0], ids[1], ids[2]);
    assert_eq!(get(&store, a).await.state, JobState::Queued);
    let claimed = claim_ids(&store, 1).await;
    let first = claimed.iter().find(|j| j.id == a).expect("a is due");
    finish_applied(&store, &token(first), dead("boom"), at(2)).await;
    let b_job = get(&store, b).await;
    assert_eq!(b_job.state, JobState::Cancelled, "{b_job:?}");
    assert_eq!(
        b_job.last_error.as_deref(),
        Some(format!("parent job {a} ended dead").as_str())
    );
    assert!(b_job.finished_at.is_some());
    let c_job = get(&store, c).await;
    assert_eq!(c_job.state, JobState::Cancelled, "the cancel cascades: {c_job:?}");
    assert_eq!(
        c_job.last_error.as_deref(),
        Some(format!("parent job {b} ended cancelled").as_str())
    );
    assert_eq!(
        get(&store, ids[3]).await.state,
        JobState::Running,
        "an unrelated node is untouched"
    );
}

async fn a_graph_with_a_cycle_or_a_missing_parent_is_rejected_and_stores_nothing(store: Store) {
    let mut cycle = JobGraph::new();
    cycle
        .add("a", job(), ["c"])
        .add("b", job(), ["a"])
        .add("c", job(), ["b"])
        .add("free", job(), Vec::<Parent>::new());
    let result = store.enqueue_graph(cycle, Some(t0())).await;
    assert!(matches!(result, Err(StoreError::InvalidGraph(_))), "{result:?}");
    let mut missing = JobGraph::new();
    missing
        .add("free", job(), Vec::<Parent>::new())
        .add("a", job(), [JobId(987_654_321)]);
    let result = store.enqueue_graph(missing, Some(t0())).await;
    assert!(matches!(result, Err(StoreError::InvalidGraph(_))), "{result:?}");
    let stored = store.list(&JobFilter::default()).await.expect("list failed");
    assert!(stored.is_empty(), "a rejected graph stored jobs: {stored:?}");
}

async fn a_graph_starts_each_node_by_the_states_of_its_stored_parents(store: Store) {
    let ok = enqueue(&store, job(), t0()).await;
    let bad = enqueue(&store, job(), t0()).await;
    for claimed in claim_ids(&store, 1).await {
        let end = if claimed.id == ok {
            Transition::Done
        } else {
            dead("gone")
        };
        finish_applied(&store, &token(&claimed), end, at(1)).await;
    }
    let mut g = JobGraph::new();
    // Added children first: ids still come back in the order added.
    g.add("late", job(), ["after-ok"])
        .add("after-ok", job(), [ok])
        .add("after-bad", job(), [bad]);
    let ids = graph(&store, g).await;
    let states: Vec<JobState> = {
        let mut states = Vec::new();
        for id in &ids {
            states.push(get(&store, *id).await.state);
        }
        states
    };
    assert_eq!(states, [JobState::Pending, JobState::Queued, JobState::Cancelled]);
    assert!(ids[1] < ids[0], "parents are stored before their children: {ids:?}");
    let cancelled = get(&store, ids[2]).await;
    assert_eq!(
        cancelled.last_error.as_deref(),
        Some(format!("parent job {bad} ended dead").as_str())
    );
}

async fn parents_finishing_at_once_release_their_child_once(store: Store) {
    const GRAPHS: usize = 10;
    let mut children = Vec::new();
    for n in 0..GRAPHS {
        let mut g = JobGraph::new();
        g.add(format!("p{n}a"), job(), Vec::<Parent>::new())
            .add(format!("p{n}b"), job(), Vec::<Parent>::new())
            .add("child", job().queue("children"), [format!("p{n}a"), format!("p{n}b")]);
        children.push(graph(&store, g).await[2]);
    }
    let claimed = claim(&store, &params("r", 100, at(1))).await;
    assert_eq!(claimed.len(), 2 * GRAPHS, "only the parents are due");
    let mut set = JoinSet::new();
    for job in claimed {
        let store = store.clone();
        set.spawn(async move { finish_applied(&store, &token(&job), Transition::Done, at(2)).await });
    }
    while let Some(joined) = set.join_next().await {
        if let Err(error) = joined {
            std::panic::resume_unwind(error.into_panic());
        }
    }
    for child in children {
        assert_eq!(
            get(&store, child).await.state,
            JobState::Queued,
            "child {child} was not released"
        );
    }
}
