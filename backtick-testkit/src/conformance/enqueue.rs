//! Enqueue: what a stored job looks like, unique keys, batches, payloads and wake-up hints.

use std::time::Duration;

use backtick_core::{Codec, Enqueued, JobState, NewJob, StoreError};

use super::Case;
use super::support::{Store, WORKER, at, claim, counts, enqueue, get, job, job_for, params, secs, t0};

pub(super) fn cases() -> Vec<Case> {
    vec![
        case!("enqueue", enqueue_stores_a_queued_job_with_the_given_fields),
        case!("enqueue", enqueue_resolves_run_at_relative_to_now),
        case!("enqueue", enqueue_assigns_distinct_increasing_ids),
        case!("enqueue", enqueue_rejects_an_invalid_job_and_stores_nothing),
        case!("enqueue", enqueue_with_a_held_unique_key_returns_the_existing_job),
        case!("enqueue", a_unique_key_is_free_again_once_its_job_is_pruned),
        case!("enqueue", enqueue_many_returns_ids_in_input_order),
        case!("enqueue", enqueue_many_is_atomic_when_one_job_is_invalid),
        case!("enqueue", enqueue_many_of_nothing_returns_nothing),
        case!(
            "enqueue",
            enqueue_many_dedups_unique_keys_against_stored_jobs_and_within_the_batch
        ),
        case!("enqueue", enqueue_reporting_tells_a_fresh_job_from_a_duplicate),
        case!(
            "enqueue",
            enqueue_many_reporting_marks_duplicates_of_stored_jobs_and_within_the_batch
        ),
        case!("enqueue", args_and_codec_round_trip_byte_exact),
        case!("enqueue", a_trace_context_is_stored_and_claimed_with_its_job),
        case!("enqueue", enqueue_without_now_uses_the_store_clock),
        case!("enqueue", subscribers_get_a_hint_naming_the_queue_on_enqueue),
    ]
}

async fn enqueue_stores_a_queued_job_with_the_given_fields(store: Store) {
    let new = NewJob::from_encoded("send_mail", vec![1, 2, 3], Codec::Json)
        .queue("mail")
        .priority(-3)
        .max_attempts(7)
        .unique_key("mail-42");
    let id = enqueue(&store, new, t0()).await;
    let job = get(&store, id).await;
    assert_eq!(job.id, id);
    assert_eq!((job.worker.as_str(), job.queue.as_str()), ("send_mail", "mail"));
    assert_eq!((job.args.as_slice(), job.codec), (&[1u8, 2, 3][..], Codec::Json));
    assert_eq!((job.priority, job.max_attempts), (-3, 7));
    assert_eq!(job.unique_key.as_deref(), Some("mail-42"));
    assert_eq!(
        (job.state, job.attempt),
        (JobState::Queued, 0),
        "a new job is queued with no attempt yet"
    );
    assert_eq!(job.run_at, t0(), "run_at defaults to now");
    assert_eq!(
        (job.created_at, job.updated_at),
        (t0(), t0()),
        "created_at and updated_at are the enqueue time"
    );
    assert_eq!(
        (job.lease_owner, job.lease_expires_at),
        (None, None),
        "a queued job has no lease"
    );
    assert_eq!((job.last_error, job.finished_at), (None, None));
}

async fn enqueue_resolves_run_at_relative_to_now(store: Store) {
    let after = enqueue(&store, job().run_after(secs(90)), at(10)).await;
    let fixed = enqueue(&store, job().run_at(at(-3600)), at(10)).await;
    let millis = enqueue(&store, job().run_after(Duration::from_millis(1500)), at(10)).await;
    assert_eq!(
        get(&store, after).await.run_at,
        at(100),
        "RunAt::After(90s) at t+10s is due at t+100s"
    );
    assert_eq!(
        get(&store, fixed).await.run_at,
        at(-3600),
        "RunAt::At keeps the instant, even in the past"
    );
    let expected = at(11) + chrono::Duration::milliseconds(500);
    assert_eq!(get(&store, millis).await.run_at, expected, "sub-second delays are kept");
}

async fn enqueue_assigns_distinct_increasing_ids(store: Store) {
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(enqueue(&store, job(), t0()).await);
    }
    assert!(
        ids.windows(2).all(|pair| pair[0] < pair[1]),
        "ids must increase: {ids:?}"
    );
    assert_eq!(counts(&store, None).await.get(JobState::Queued), 5);
}

async fn enqueue_rejects_an_invalid_job_and_stores_nothing(store: Store) {
    for (what, bad) in [
        ("an empty worker", job_for(" ")),
        ("an empty queue", job().queue("")),
        ("zero max_attempts", job().max_attempts(0)),
    ] {
        let result = store.enqueue(bad, Some(t0())).await;
        assert!(
            matches!(result, Err(StoreError::InvalidJob(_))),
            "{what} must be StoreError::InvalidJob: {result:?}"
        );
    }
    assert_eq!(
        counts(&store, None).await.total(),
        0,
        "a rejected job must not be stored"
    );
}

async fn enqueue_with_a_held_unique_key_returns_the_existing_job(store: Store) {
    let first = enqueue(&store, job().unique_key("k"), t0()).await;
    let again = enqueue(&store, job().queue("other").priority(5).unique_key("k"), at(1)).await;
    assert_eq!(again, first, "a held unique key returns the existing job's id");
    let other = enqueue(&store, job().unique_key("k2"), t0()).await;
    assert_ne!(other, first, "a different key is a different job");
    let stored = get(&store, first).await;
    assert_eq!(
        (stored.queue.as_str(), stored.priority, stored.created_at),
        ("default", 0, t0()),
        "unchanged"
    );
    // A finished job still holds its key until it is pruned.
    assert!(
        store
            .cancel(first, "done with it", Some(at(2)))
            .await
            .expect("cancel failed")
    );
    assert_eq!(
        enqueue(&store, job().unique_key("k"), at(3)).await,
        first,
        "a finished job still holds its key"
    );
    assert_eq!(counts(&store, None).await.total(), 2);
}

async fn a_unique_key_is_free_again_once_its_job_is_pruned(store: Store) {
    let first = enqueue(&store, job().unique_key("k"), t0()).await;
    assert!(store.cancel(first, "stop", Some(t0())).await.expect("cancel failed"));
    assert_eq!(store.prune_finished(at(1), 10).await.expect("prune failed"), 1);
    let second = enqueue(&store, job().unique_key("k"), at(2)).await;
    assert_ne!(second, first, "a pruned job no longer holds its key");
    assert_eq!(get(&store, second).await.state, JobState::Queued);
}

async fn enqueue_many_returns_ids_in_input_order(store: Store) {
    let jobs: Vec<NewJob> = (0..20).map(|i| job_for(&format!("worker_{i}"))).collect();
    let ids = store.enqueue_many(jobs, Some(t0())).await.expect("enqueue_many failed");
    assert_eq!(ids.len(), 20);
    assert!(
        ids.windows(2).all(|pair| pair[0] < pair[1]),
        "ids follow input order: {ids:?}"
    );
    for (i, id) in ids.iter().enumerate() {
        assert_eq!(
            get(&store, *id).await.worker,
            format!("worker_{i}"),
            "id {id} belongs to input {i}"
        );
    }
}

async fn enqueue_many_is_atomic_when_one_job_is_invalid(store: Store) {
    let batch = vec![job(), job().unique_key("k"), job().max_attempts(0), job()];
    let result = store.enqueue_many(batch, Some(t0())).await;
    assert!(
        matches!(result, Err(StoreError::InvalidJob(_))),
        "expected StoreError::InvalidJob: {result:?}"
    );
    assert_eq!(
        counts(&store, None).await.total(),
        0,
        "a batch with an invalid job stores nothing"
    );
    let id = enqueue(&store, job().unique_key("k"), at(1)).await;
    assert_eq!(
        get(&store, id).await.created_at,
        at(1),
        "the rejected batch must not have taken the key"
    );
}

async fn enqueue_many_of_nothing_returns_nothing(store: Store) {
    let ids = store
        .enqueue_many(Vec::new(), Some(t0()))
        .await
        .expect("enqueue_many failed");
    assert!(ids.is_empty());
    assert_eq!(counts(&store, None).await.total(), 0);
}

async fn enqueue_many_dedups_unique_keys_against_stored_jobs_and_within_the_batch(store: Store) {
    let held = enqueue(&store, job().unique_key("a"), t0()).await;
    let batch = vec![
        job().unique_key("a"),
        job().unique_key("b"),
        job(),
        job().unique_key("b"),
    ];
    let ids = store
        .enqueue_many(batch, Some(at(1)))
        .await
        .expect("enqueue_many failed");
    assert_eq!(ids.len(), 4, "one id per input: {ids:?}");
    assert_eq!(ids[0], held, "a key held by a stored job returns that job");
    assert_eq!(
        ids[3], ids[1],
        "a key repeated within the batch returns the batch's first job with it"
    );
    assert!(
        ids[1] != held && ids[2] != held && ids[1] != ids[2],
        "new jobs get new ids: {ids:?}"
    );
    assert_eq!(
        counts(&store, None).await.total(),
        3,
        "only the first job per key is stored"
    );
}

async fn enqueue_reporting_tells_a_fresh_job_from_a_duplicate(store: Store) {
    let first = store
        .enqueue_reporting(job().unique_key("k"), Some(t0()))
        .await
        .expect("enqueue_reporting failed");
    assert!(!first.duplicate, "the first job with a key is fresh");
    let again = store
        .enqueue_reporting(job().queue("other").unique_key("k"), Some(at(1)))
        .await
        .expect("enqueue_reporting failed");
    assert_eq!(again, Enqueued::duplicate_of(first.id), "a held key reports the holder");
    let plain = store
        .enqueue_reporting(job(), Some(at(2)))
        .await
        .expect("enqueue_reporting failed");
    assert!(
        !plain.duplicate && plain.id != first.id,
        "a job without a key is fresh: {plain:?}"
    );
    assert_eq!(
        get(&store, first.id).await.queue,
        "default",
        "the duplicate changed nothing"
    );
    assert_eq!(counts(&store, None).await.total(), 2);
}

async fn enqueue_many_reporting_marks_duplicates_of_stored_jobs_and_within_the_batch(store: Store) {
    let held = enqueue(&store, job().unique_key("a"), t0()).await;
    let batch = vec![
        job().unique_key("a"),
        job().unique_key("b"),
        job(),
        job().unique_key("b"),
        job().unique_key("c"),
    ];
    let reports = store
        .enqueue_many_reporting(batch, Some(at(1)))
        .await
        .expect("enqueue_many_reporting failed");
    let duplicates: Vec<bool> = reports.iter().map(|e| e.duplicate).collect();
    assert_eq!(
        duplicates,
        vec![true, false, false, true, false],
        "held by a stored job, fresh, fresh, held by the batch's first, fresh: {reports:?}"
    );
    assert_eq!(reports[0].id, held, "a duplicate of a stored job names it");
    assert_eq!(
        reports[3].id, reports[1].id,
        "a duplicate within the batch names its first job"
    );
    let ids = store
        .enqueue_many(vec![job().unique_key("c"), job()], Some(at(2)))
        .await
        .expect("enqueue_many failed");
    assert_eq!(
        ids[0], reports[4].id,
        "enqueue_many returns the same ids without the report"
    );
    assert_eq!(counts(&store, None).await.total(), 5);
}

async fn args_and_codec_round_trip_byte_exact(store: Store) {
    let large: Vec<u8> = (0..65_536u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let payloads = [
        (Vec::new(), Codec::Cbor),
        (vec![0x00, 0xff, 0xfe, 0x00, 0x80, 0xc3, 0x28], Codec::Cbor),
        (
            br#"{"to":"ada@example.com","n":[1,2.5,null],"s":"h\u00e9llo \"q\""}"#.to_vec(),
            Codec::Json,
        ),
        (large, Codec::Cbor),
    ];
    let batch = payloads
        .iter()
        .map(|(args, codec)| NewJob::from_encoded(WORKER, args.clone(), *codec))
        .collect();
    let ids = store
        .enqueue_many(batch, Some(t0()))
        .await
        .expect("enqueue_many failed");
    for (id, (args, codec)) in ids.into_iter().zip(&payloads) {
        let stored = get(&store, id).await;
        assert_eq!(stored.codec, *codec);
        assert!(
            stored.args == *args,
            "job {id}: {} bytes went in, {} different bytes came out",
            args.len(),
            stored.args.len()
        );
    }
    let typed = NewJob::new(WORKER, &("ada", 42u64, vec![1.5f64, -2.0])).expect("encodable");
    let stored = get(&store, enqueue(&store, typed, t0()).await).await;
    let back: (String, u64, Vec<f64>) = stored.codec.decode(&stored.args).expect("the stored args decode");
    assert_eq!(back, ("ada".to_owned(), 42, vec![1.5, -2.0]));
}

async fn enqueue_without_now_uses_the_store_clock(store: Store) {
    let before = store.now().await.expect("now failed");
    let id = store.enqueue(job(), None).await.expect("enqueue failed");
    let delayed = store
        .enqueue(job().run_after(secs(3600)), None)
        .await
        .expect("enqueue failed");
    let after = store.now().await.expect("now failed");
    let stored = get(&store, id).await;
    assert!(
        before <= stored.created_at && stored.created_at <= after,
        "created_at {} is not between {before} and {after}",
        stored.created_at
    );
    assert_eq!(stored.run_at, stored.created_at, "run_at defaults to the store's now");
    let delayed = get(&store, delayed).await;
    assert_eq!(
        delayed.run_at,
        delayed.created_at + chrono::Duration::hours(1),
        "RunAt::After counts from the store's now"
    );
}

async fn subscribers_get_a_hint_naming_the_queue_on_enqueue(store: Store) {
    let Some(mut hints) = store.subscribe() else {
        // The contract allows a store without wake-up hints: runners poll.
        return;
    };
    // Hints are lossy by contract (a listener may still be connecting), so enqueue a few times
    // and expect at least one hint for the queue within a generous wait.
    for attempt in 0..20 {
        enqueue(&store, job().queue("hinted"), at(attempt)).await;
        let deadline = tokio::time::Instant::now() + Duration::from_millis(250);
        while let Ok(received) = tokio::time::timeout_at(deadline, hints.recv()).await {
            match received {
                Ok(queue) if queue == "hinted" => return,
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => panic!("the hint channel closed"),
            }
        }
    }
    panic!("subscribe() returned a receiver, but 20 enqueues on queue \"hinted\" produced no hint naming it");
}

/// The trace context a job was enqueued with comes back on the job, from both enqueue paths
/// (without and with unique keys) and from the claim, byte for byte; a job without one has
/// none.
async fn a_trace_context_is_stored_and_claimed_with_its_job(store: Store) {
    const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let with_state = format!("{TRACEPARENT}\nvendor=opaque,other=x");
    let plain = job().trace_context(Some(TRACEPARENT.to_owned()));
    let unique = job().unique_key("traced").trace_context(Some(with_state.clone()));
    let untraced = job().trace_context(None);
    let plain_id = enqueue(&store, plain, t0()).await;
    let ids = store
        .enqueue_many(vec![unique, untraced], Some(t0()))
        .await
        .expect("enqueue_many failed");
    let expected = [
        (plain_id, Some(TRACEPARENT.to_owned())),
        (ids[0], Some(with_state)),
        (ids[1], None),
    ];
    for (id, context) in &expected {
        assert_eq!(&get(&store, *id).await.trace_context, context, "job {id} as stored");
    }
    let claimed = claim(&store, &params("tracer", 10, t0())).await;
    assert_eq!(claimed.len(), 3, "every job is due: {claimed:?}");
    for (id, context) in &expected {
        let job = claimed.iter().find(|job| job.id == *id).expect("claimed job");
        assert_eq!(&job.trace_context, context, "job {id} as claimed");
    }
    let too_long = job().trace_context(Some("x".repeat(backtick_core::telemetry::MAX_TRACE_CONTEXT_LEN + 1)));
    assert!(
        matches!(
            store.enqueue(too_long, Some(t0())).await,
            Err(StoreError::InvalidJob(_))
        ),
        "an oversized trace context is rejected at enqueue"
    );
}
