//! Reading jobs: keyset pages and their filters, one job's attempt history, capped counts.

use backtick_core::admin::{AdminError, AttemptOutcome, Count, CountQuery, GroupBy, JobQuery, PageRequest, TimeRange};
use backtick_core::{Codec, JobId, JobState, NewJob, RunAt, RunnerId, Transition};

use super::super::AdminCase;
use super::super::support::{
    LEASE, WORKER, at, claim_one, dead, enqueue, enqueue_and_claim, enqueue_n, finish_applied, job, job_for,
    requeue_after, secs, t0, token,
};
use super::{Admin, after, all_pages, detail, expect_err, ids, page, store};

pub(super) fn cases() -> Vec<AdminCase> {
    vec![
        admin_case!("admin_jobs", list_jobs_pages_newest_first_and_the_pages_join_up),
        admin_case!("admin_jobs", list_jobs_pages_oldest_first_when_asked),
        admin_case!("admin_jobs", pages_are_stable_under_inserts),
        admin_case!("admin_jobs", list_jobs_filters_by_state_queue_worker_and_runner),
        admin_case!("admin_jobs", list_jobs_filters_by_id_and_up_to_id),
        admin_case!("admin_jobs", list_jobs_finds_jobs_whose_arguments_contain_a_json_value),
        admin_case!("admin_jobs", list_jobs_filters_by_error_text_ignoring_case),
        admin_case!("admin_jobs", list_jobs_filters_by_created_and_finished_time_ranges),
        admin_case!(
            "admin_jobs",
            a_page_examines_at_most_its_scan_limit_and_continues_after_it
        ),
        admin_case!("admin_jobs", list_jobs_refuses_an_invalid_page),
        admin_case!("admin_jobs", job_detail_of_a_missing_job_is_an_unknown_job_error),
        admin_case!(
            "admin_jobs",
            job_detail_records_each_failed_attempt_with_runner_times_and_error
        ),
        admin_case!("admin_jobs", job_detail_records_snoozes_revives_and_the_final_failure),
        admin_case!("admin_jobs", an_operator_retry_keeps_the_dead_attempt_in_the_history),
        admin_case!("admin_jobs", counts_group_jobs_by_state_queue_and_worker),
        admin_case!("admin_jobs", counts_stop_at_the_cap_per_state_and_say_so),
    ]
}

async fn list_jobs_pages_newest_first_and_the_pages_join_up(admin: Admin) {
    let enqueued = enqueue_n(&store(&admin), 7, t0()).await;
    let query = JobQuery::default();
    let first = page(&admin, &query, &PageRequest::first(3)).await;
    let newest: Vec<JobId> = enqueued.iter().rev().copied().collect();
    assert_eq!(
        ids(&first),
        newest[..3],
        "the first page holds the newest jobs, newest first"
    );
    let second = page(&admin, &query, &after(PageRequest::first(3), first.next)).await;
    assert_eq!(ids(&second), newest[3..6], "the second page continues after the first");
    assert_eq!(
        all_pages(&admin, &query, PageRequest::first(3)).await,
        newest,
        "following `next` visits every job once"
    );
    let whole = page(&admin, &query, &PageRequest::first(50)).await;
    assert_eq!(ids(&whole), newest);
    assert_eq!(
        whole.jobs[0],
        store(&admin).get(newest[0]).await.expect("get").expect("stored"),
        "whole jobs"
    );
    assert_eq!(whole.next, None, "a page that saw every job is the last");
}

async fn list_jobs_pages_oldest_first_when_asked(admin: Admin) {
    let enqueued = enqueue_n(&store(&admin), 5, t0()).await;
    let first = PageRequest::first(2).oldest_first();
    let page_one = page(&admin, &JobQuery::default(), &first).await;
    assert_eq!(ids(&page_one), enqueued[..2]);
    assert_eq!(all_pages(&admin, &JobQuery::default(), first).await, enqueued);
}

async fn pages_are_stable_under_inserts(admin: Admin) {
    let store = store(&admin);
    let old = enqueue_n(&store, 6, t0()).await;
    let query = JobQuery::default();
    let newest_first = PageRequest::first(2);
    let first = page(&admin, &query, &newest_first).await;
    assert_eq!(ids(&first), vec![old[5], old[4]]);
    let new = enqueue_n(&store, 3, at(1)).await;
    let mut rest = ids(&first);
    let mut request = after(newest_first, first.next);
    loop {
        let found = page(&admin, &query, &request).await;
        rest.extend(ids(&found));
        match found.next {
            Some(next) => request.cursor = Some(next),
            None => break,
        }
        assert!(rest.len() <= 20, "the listing does not end: {rest:?}");
    }
    let expected: Vec<JobId> = old.iter().rev().copied().collect();
    assert_eq!(
        rest, expected,
        "jobs enqueued while paging ({new:?}) neither shift nor repeat the pages after the first"
    );
    let oldest_first = PageRequest::first(2).oldest_first();
    let first = page(&admin, &query, &oldest_first).await;
    let more = enqueue_n(&store, 2, at(2)).await;
    let mut all = ids(&first);
    all.extend(all_pages(&admin, &query, after(oldest_first, first.next)).await);
    let expected: Vec<JobId> = old.iter().chain(&new).chain(&more).copied().collect();
    assert_eq!(all, expected, "oldest first, new jobs come at the end, once");
}

async fn list_jobs_filters_by_state_queue_worker_and_runner(admin: Admin) {
    let store = store(&admin);
    let mail = enqueue(&store, job().queue("mail"), t0()).await;
    let sms = enqueue(&store, job_for("sms").queue("mail"), t0()).await;
    let other = enqueue(&store, job().queue("other").run_at(at(100)), t0()).await;
    let running = claim_one(&store, "r1", at(1)).await;
    assert_eq!(running.id, mail);
    let dead_job = enqueue_and_claim(&store, job().queue("other"), "r2", at(2)).await;
    finish_applied(&store, &token(&dead_job), dead("boom"), at(3)).await;
    let list = |query: JobQuery| {
        let admin = admin.clone();
        async move { all_pages(&admin, &query, PageRequest::first(10)).await }
    };
    assert_eq!(list(JobQuery::default().queue("mail")).await, vec![sms, mail]);
    assert_eq!(list(JobQuery::default().worker("sms")).await, vec![sms]);
    assert_eq!(list(JobQuery::default().state(JobState::Running)).await, vec![mail]);
    assert_eq!(
        list(JobQuery::default().state(JobState::Queued).state(JobState::Dead)).await,
        vec![dead_job.id, other, sms],
        "several states"
    );
    assert_eq!(
        list(JobQuery::default().state(JobState::Dead).queue("other")).await,
        vec![dead_job.id]
    );
    assert_eq!(
        list(JobQuery::default().runner(RunnerId::new("r1"))).await,
        vec![mail],
        "the jobs r1 holds"
    );
    assert!(
        list(JobQuery::default().runner(RunnerId::new("r2"))).await.is_empty(),
        "r2 holds none now"
    );
    assert!(list(JobQuery::default().queue("nope")).await.is_empty());
}

async fn list_jobs_filters_by_id_and_up_to_id(admin: Admin) {
    let ids_enqueued = enqueue_n(&store(&admin), 5, t0()).await;
    let picked = JobQuery::default()
        .id(ids_enqueued[3])
        .id(ids_enqueued[1])
        .id(JobId(987_654_321));
    assert_eq!(
        all_pages(&admin, &picked, PageRequest::first(10)).await,
        vec![ids_enqueued[3], ids_enqueued[1]],
        "the named jobs that exist, in page order"
    );
    let bounded = JobQuery {
        up_to_id: Some(ids_enqueued[2]),
        ..JobQuery::default()
    };
    assert_eq!(
        all_pages(&admin, &bounded, PageRequest::first(10).oldest_first()).await,
        ids_enqueued[..3],
        "up_to_id keeps the jobs at or below it"
    );
}

async fn list_jobs_finds_jobs_whose_arguments_contain_a_json_value(admin: Admin) {
    let store = store(&admin);
    let args = |value: serde_json::Value, codec: Codec| NewJob::with_codec(WORKER, &value, codec).expect("encodes");
    let cbor_one = enqueue(
        &store,
        args(serde_json::json!({"user": 1, "tags": ["vip", "eu"]}), Codec::Cbor),
        t0(),
    )
    .await;
    let json_one = enqueue(
        &store,
        args(serde_json::json!({"user": 1, "n": 2.5}), Codec::Json),
        t0(),
    )
    .await;
    let _two = enqueue(&store, args(serde_json::json!({"user": 2}), Codec::Cbor), t0()).await;
    let _garbage = enqueue(
        &store,
        NewJob::from_encoded(WORKER, vec![0xff, 0x00], Codec::Cbor),
        t0(),
    )
    .await;
    let _list = enqueue(&store, args(serde_json::json!([1, 2]), Codec::Json), t0()).await;
    let find = |needle: serde_json::Value| {
        let admin = admin.clone();
        async move {
            all_pages(
                &admin,
                &JobQuery::default().args_contain(needle),
                PageRequest::first(10),
            )
            .await
        }
    };
    assert_eq!(
        find(serde_json::json!({"user": 1})).await,
        vec![json_one, cbor_one],
        "CBOR and JSON payloads alike; an undecodable one matches nothing"
    );
    assert_eq!(
        find(serde_json::json!({"tags": ["eu"]})).await,
        vec![cbor_one],
        "arrays by containment"
    );
    assert!(find(serde_json::json!({"user": 3})).await.is_empty());
    assert_eq!(find(serde_json::json!({"n": 2.5})).await, vec![json_one]);
}

async fn list_jobs_filters_by_error_text_ignoring_case(admin: Admin) {
    let store = store(&admin);
    let mut dead_with = Vec::new();
    for error in [
        "Connection Refused by db-1",
        "disk 50% full",
        "disk 500 full",
        "timeout",
    ] {
        let claimed = enqueue_and_claim(&store, job(), "r1", t0()).await;
        finish_applied(&store, &token(&claimed), dead(error), at(1)).await;
        dead_with.push(claimed.id);
    }
    enqueue(&store, job(), t0()).await;
    let find = |text: &str| {
        let (admin, query) = (admin.clone(), JobQuery::default().error_contains(text));
        async move { all_pages(&admin, &query, PageRequest::first(10)).await }
    };
    assert_eq!(find("connection refused").await, vec![dead_with[0]], "ignoring case");
    assert_eq!(
        find("50%").await,
        vec![dead_with[1]],
        "`%` is a character, not a wildcard"
    );
    assert_eq!(
        find("disk 50_").await,
        Vec::<JobId>::new(),
        "`_` is a character, not a wildcard"
    );
    assert_eq!(find("disk").await, vec![dead_with[2], dead_with[1]]);
}

async fn list_jobs_filters_by_created_and_finished_time_ranges(admin: Admin) {
    let store = store(&admin);
    let early = enqueue(&store, job().run_at(at(1_000)), at(10)).await;
    let middle = enqueue_and_claim(&store, job(), "r1", at(20)).await;
    finish_applied(&store, &token(&middle), Transition::Done, at(25)).await;
    let late = enqueue_and_claim(&store, job(), "r1", at(30)).await;
    finish_applied(&store, &token(&late), Transition::Done, at(50)).await;
    let list = |query: JobQuery| {
        let admin = admin.clone();
        async move { all_pages(&admin, &query, PageRequest::first(10)).await }
    };
    assert_eq!(
        list(JobQuery::default().created(TimeRange::between(at(10), at(30)))).await,
        vec![middle.id, early],
        "from is inclusive, until exclusive"
    );
    assert_eq!(
        list(JobQuery::default().created(TimeRange::since(at(21)))).await,
        vec![late.id]
    );
    assert_eq!(
        list(JobQuery::default().finished(TimeRange::before(at(30)))).await,
        vec![middle.id],
        "an unfinished job never matches a finished range"
    );
    assert_eq!(
        list(JobQuery::default().finished(TimeRange::since(at(0)))).await,
        vec![late.id, middle.id]
    );
}

async fn a_page_examines_at_most_its_scan_limit_and_continues_after_it(admin: Admin) {
    let store = store(&admin);
    let mut enqueued = enqueue_n(&store, 2, t0()).await;
    let rare = enqueue(&store, job().queue("rare"), t0()).await;
    enqueued.extend(enqueue_n(&store, 7, t0()).await);
    let query = JobQuery::default().queue("rare");
    let request = PageRequest::first(5).scan_limit(4);
    let first = page(&admin, &query, &request).await;
    assert!(
        first.jobs.is_empty(),
        "the first 4 jobs examined are not on `rare`: {first:?}"
    );
    let next = first.next.expect("a scan stopped by its limit continues");
    assert_eq!(next.last_seen(), enqueued[5], "after the last job examined");
    assert_eq!(
        all_pages(&admin, &query, request).await,
        vec![rare],
        "the listing still finds it"
    );
}

async fn list_jobs_refuses_an_invalid_page(admin: Admin) {
    let query = JobQuery::default();
    for bad in [
        PageRequest::first(0),
        PageRequest::first(100_000),
        PageRequest::first(10).scan_limit(0),
    ] {
        expect_err(admin.list_jobs(&query, &bad).await, "an invalid page", |e| {
            matches!(e, AdminError::InvalidRequest { .. })
        });
    }
    let newest_cursor = "n5".parse().expect("a cursor");
    let mixed = PageRequest {
        cursor: Some(newest_cursor),
        ..PageRequest::first(10).oldest_first()
    };
    expect_err(
        admin.list_jobs(&query, &mixed).await,
        "a cursor of the other order",
        |e| matches!(e, AdminError::InvalidRequest { .. }),
    );
}

async fn job_detail_of_a_missing_job_is_an_unknown_job_error(admin: Admin) {
    expect_err(
        admin.job_detail(JobId(987_654_321)).await,
        "a missing job",
        |e| matches!(e, AdminError::UnknownJob { id } if *id == JobId(987_654_321)),
    );
}

async fn job_detail_records_each_failed_attempt_with_runner_times_and_error(admin: Admin) {
    let store = store(&admin);
    let never_claimed = enqueue(&store, job().run_at(at(1_000)), t0()).await;
    assert!(
        detail(&admin, never_claimed).await.attempts.is_empty(),
        "no attempt before the first claim"
    );
    let first = enqueue_and_claim(&store, job().max_attempts(5), "r1", at(1)).await;
    finish_applied(&store, &token(&first), requeue_after(secs(10), Some("boom 1")), at(2)).await;
    let second = claim_one(&store, "r2", at(20)).await;
    finish_applied(&store, &token(&second), requeue_after(secs(10), Some("boom 2")), at(21)).await;
    let third = claim_one(&store, "r3", at(40)).await;
    let seen = detail(&admin, first.id).await;
    assert_eq!(seen.job, store.get(first.id).await.expect("get").expect("stored"));
    let summary: Vec<_> = seen
        .attempts
        .iter()
        .map(|a| {
            (
                a.attempt,
                a.runner.clone(),
                a.started_at,
                a.finished_at,
                a.outcome,
                a.error.clone(),
            )
        })
        .collect();
    let r = |name: &str| Some(RunnerId::new(name));
    assert_eq!(
        summary,
        vec![
            (
                1,
                r("r1"),
                Some(at(1)),
                Some(at(2)),
                AttemptOutcome::Failed,
                Some("boom 1".to_owned())
            ),
            (
                2,
                r("r2"),
                Some(at(20)),
                Some(at(21)),
                AttemptOutcome::Failed,
                Some("boom 2".to_owned())
            ),
            (3, r("r3"), Some(at(40)), None, AttemptOutcome::Running, None),
        ]
    );
    finish_applied(&store, &token(&third), Transition::Done, at(41)).await;
    let last = detail(&admin, first.id).await.attempts.pop().expect("three attempts");
    assert_eq!(
        (
            last.attempt,
            last.runner,
            last.started_at,
            last.finished_at,
            last.outcome,
            last.error
        ),
        (3, r("r3"), Some(at(40)), Some(at(41)), AttemptOutcome::Completed, None),
        "the completed attempt, its runner kept though the lease is gone"
    );
}

async fn job_detail_records_snoozes_revives_and_the_final_failure(admin: Admin) {
    let store = store(&admin);
    let first = enqueue_and_claim(&store, job().max_attempts(2), "r1", at(1)).await;
    let snooze = Transition::Queued {
        run_at: RunAt::After(secs(5)),
        error: None,
        refund_attempt: true,
    };
    finish_applied(&store, &token(&first), snooze, at(2)).await;
    let second = claim_one(&store, "r2", at(10)).await;
    let lease = chrono::Duration::from_std(LEASE).expect("small");
    let expired_at = at(10) + lease + chrono::Duration::seconds(1);
    let expired = store
        .expired_leases(10, Some(expired_at))
        .await
        .expect("expired_leases");
    let revival = backtick_core::state::revive(&expired[0]).expect("running");
    let revived = store
        .revive_many(&[revival], Some(expired_at))
        .await
        .expect("revive_many");
    assert_eq!(revived.applied, vec![second.id]);
    let third = claim_one(&store, "r3", expired_at).await;
    finish_applied(
        &store,
        &token(&third),
        dead("gave up"),
        expired_at + chrono::Duration::seconds(1),
    )
    .await;
    let attempts = detail(&admin, first.id).await.attempts;
    let outcomes: Vec<_> = attempts.iter().map(|a| (a.attempt, a.outcome)).collect();
    assert_eq!(
        outcomes,
        vec![
            (1, AttemptOutcome::Snoozed),
            (2, AttemptOutcome::LeaseExpired),
            (3, AttemptOutcome::Dead)
        ]
    );
    assert_eq!(attempts[0].error, None, "a snooze is no error");
    assert!(
        attempts[1]
            .error
            .as_deref()
            .is_some_and(|e| e.contains("lease expired")),
        "the revive's reason: {:?}",
        attempts[1]
    );
    assert_eq!(attempts[1].finished_at, Some(expired_at));
    assert_eq!(attempts[2].error.as_deref(), Some("gave up"));
}

async fn an_operator_retry_keeps_the_dead_attempt_in_the_history(admin: Admin) {
    let store = store(&admin);
    let claimed = enqueue_and_claim(&store, job().max_attempts(1), "r1", at(1)).await;
    finish_applied(&store, &token(&claimed), dead("no attempts left"), at(2)).await;
    assert!(store.retry(claimed.id, Some(at(3))).await.expect("retry"), "retried");
    let again = claim_one(&store, "r2", at(4)).await;
    finish_applied(&store, &token(&again), Transition::Done, at(5)).await;
    let attempts = detail(&admin, claimed.id).await.attempts;
    let summary: Vec<_> = attempts
        .iter()
        .map(|a| (a.attempt, a.outcome, a.error.clone()))
        .collect();
    assert_eq!(
        summary,
        vec![
            (1, AttemptOutcome::Dead, Some("no attempts left".to_owned())),
            (2, AttemptOutcome::Completed, None)
        ]
    );
    assert_eq!(attempts[0].runner, Some(RunnerId::new("r1")));
}

async fn counts_group_jobs_by_state_queue_and_worker(admin: Admin) {
    let store = store(&admin);
    enqueue(&store, job().queue("a"), t0()).await;
    enqueue(&store, job().queue("a"), t0()).await;
    enqueue(&store, job_for("sms").queue("b"), t0()).await;
    let claimed = enqueue_and_claim(&store, job().queue("b").priority(-1), "r1", t0()).await;
    assert_eq!(claimed.queue, "b");
    let by_state = admin
        .count_jobs(&CountQuery::by(GroupBy::State))
        .await
        .expect("count_jobs");
    assert_eq!(by_state.get("queued", JobState::Queued), Count::exact(3));
    assert_eq!(by_state.get("running", JobState::Running), Count::exact(1));
    assert_eq!(
        by_state.groups.len(),
        2,
        "states without a job are absent: {by_state:?}"
    );
    let by_queue = admin
        .count_jobs(&CountQuery::by(GroupBy::Queue))
        .await
        .expect("count_jobs");
    assert_eq!(by_queue.get("a", JobState::Queued), Count::exact(2));
    assert_eq!(by_queue.get("b", JobState::Queued), Count::exact(1));
    assert_eq!(by_queue.get("b", JobState::Running), Count::exact(1));
    assert_eq!(by_queue.total(JobState::Queued), Count::exact(3));
    let keys: Vec<(&str, JobState)> = by_queue.groups.iter().map(|g| (g.key.as_str(), g.state)).collect();
    assert_eq!(
        keys,
        vec![
            ("a", JobState::Queued),
            ("b", JobState::Queued),
            ("b", JobState::Running)
        ],
        "sorted"
    );
    let by_worker = admin
        .count_jobs(&CountQuery::by(GroupBy::Worker))
        .await
        .expect("count_jobs");
    assert_eq!(by_worker.get(WORKER, JobState::Queued), Count::exact(2));
    assert_eq!(by_worker.get("sms", JobState::Queued), Count::exact(1));
}

async fn counts_stop_at_the_cap_per_state_and_say_so(admin: Admin) {
    let store = store(&admin);
    enqueue_n(&store, 5, t0()).await;
    enqueue_and_claim(&store, job().priority(-1), "r1", t0()).await;
    enqueue_and_claim(&store, job().priority(-1), "r1", t0()).await;
    let counts = admin
        .count_jobs(&CountQuery::by(GroupBy::State).cap(3))
        .await
        .expect("count_jobs");
    assert_eq!(
        counts.get("queued", JobState::Queued),
        Count { value: 3, capped: true },
        "5 queued jobs, counted up to the cap"
    );
    assert_eq!(
        counts.get("running", JobState::Running),
        Count::exact(2),
        "under the cap: exact"
    );
    let only_running = CountQuery {
        states: vec![JobState::Running],
        ..CountQuery::by(GroupBy::Queue)
    };
    let counts = admin.count_jobs(&only_running).await.expect("count_jobs");
    assert_eq!(
        counts.total(JobState::Queued),
        Count::exact(0),
        "only the states asked for"
    );
    assert_eq!(counts.total(JobState::Running), Count::exact(2));
}
