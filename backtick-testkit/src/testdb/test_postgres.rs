//! [`TestPostgres`]: a migrated PostgreSQL database for one integration test (feature
//! `testcontainers`).

use std::sync::atomic::{AtomicU64, Ordering};

use super::container::{PostgresContainer, docker_answers, say, short_id};
use super::container_mode::{ContainerMode, ImageRef};
use super::{TestDbError, pg, server_url, with_database};

/// A migrated PostgreSQL database for one integration test, in a container of its own; the
/// container (or database) is removed when this guard drops, also when the test panics.
///
/// [`TestPostgres::start`] starts a container from `BACKTICK_TEST_POSTGRES_IMAGE` (default
/// [`DEFAULT_POSTGRES_IMAGE`](super::DEFAULT_POSTGRES_IMAGE), the official image), on the
/// host's network with the server on 127.0.0.1 and a free port, waits until it answers, and
/// applies every backtick migration. Hand [`TestPostgres::url`] to the store of your backend:
///
/// | backend | store |
/// | --- | --- |
/// | `backtick-postgres` | `PgStore::connect(pg.url()).await?` |
/// | `backtick-diesel` | `DieselStore::connect(pg.url()).await?` |
///
/// (The testkit cannot hand back a store itself: both backends depend on it for their own
/// tests. `examples/testing-app` shows a whole test.)
///
/// Without a container engine (`docker info` fails), or when the container does not start,
/// it says so in one line on stderr and uses a fresh database, migrated and dropped the same
/// way, on the test server [`server_url`] finds (`BACKTICK_TEST_DATABASE_URL`, else
/// `DATABASE_URL`, else the workspace cluster).
///
/// | `BACKTICK_TEST_CONTAINER` | what [`TestPostgres::start`] does |
/// | --- | --- |
/// | unset | a container; without one, the fallback above |
/// | `1` (`true`, `yes`, `on`) | a container, else an error: no fallback |
/// | `image:tag` | a container from that image, else an error |
/// | `0` (`false`, `no`, `off`) | the fallback, at once |
///
/// A test process killed with SIGKILL leaves nothing either: a watcher process removes its
/// containers, and the next test process removes those of dead processes (see the
/// [module docs](super)).
///
/// # Examples
///
/// ```no_run
/// use backtick_testkit::testdb::TestPostgres;
///
/// # async fn example() -> Result<(), backtick_testkit::testdb::TestDbError> {
/// // In `#[tokio::test] async fn ...`:
/// let pg = TestPostgres::start().await?;
/// println!("a migrated database at {}", pg.url());
/// // let store = backtick_postgres::PgStore::connect(pg.url()).await?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct TestPostgres {
    url: String,
    place: Place,
}

/// Where the database lives, and so what dropping the guard removes.
#[derive(Debug)]
enum Place {
    /// The `postgres` database of a container of our own: the container goes. (Boxed: the
    /// testcontainers handle is large.)
    Container(Box<PostgresContainer>),
    /// A database of our own on a shared server: the database goes.
    Database { server: String, name: String },
}

impl TestPostgres {
    /// Starts a container (or, without one, creates a database on the test server), waits
    /// until it accepts connections and migrates it. See the [type docs](TestPostgres).
    ///
    /// # Errors
    ///
    /// [`TestDbError::Container`] when `BACKTICK_TEST_CONTAINER` requires a container and it
    /// does not start; [`TestDbError::InvalidContainerSetting`] for a value it does not know;
    /// [`TestDbError::Database`] when creating or migrating the database fails; as
    /// [`server_url`] when the fallback finds no server.
    pub async fn start() -> Result<TestPostgres, TestDbError> {
        match ContainerMode::from_env()? {
            ContainerMode::Required(image) => Self::in_container(image).await,
            ContainerMode::Auto(image) => {
                if !off_runtime(|| Ok(docker_answers())).await? {
                    say_once_per_process("no container engine answers (`docker info` failed)");
                    return Self::on_test_server().await;
                }
                match Self::in_container(image.clone()).await {
                    Ok(pg) => Ok(pg),
                    Err(error) => {
                        say(&format!(
                            "no postgres container from {image} ({error}): TestPostgres uses a fresh \
                             database on the test server instead"
                        ));
                        Self::on_test_server().await
                    }
                }
            }
            ContainerMode::Off => {
                say_once_per_process("BACKTICK_TEST_CONTAINER switches containers off");
                Self::on_test_server().await
            }
        }
    }

    /// The URL of the migrated database: user `postgres`, no password, on 127.0.0.1 for a
    /// container.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The id of the container, `None` when the database is on the shared test server.
    pub fn container_id(&self) -> Option<&str> {
        match &self.place {
            Place::Container(container) => Some(container.id()),
            Place::Database { .. } => None,
        }
    }

    /// The image the container runs (`name:tag`), `None` without a container.
    pub fn image(&self) -> Option<String> {
        match &self.place {
            Place::Container(container) => Some(container.image().to_string()),
            Place::Database { .. } => None,
        }
    }

    async fn in_container(image: ImageRef) -> Result<TestPostgres, TestDbError> {
        let container = off_runtime(move || PostgresContainer::start(&image)).await?;
        // If migrating fails, the guard drops here and the container goes with it.
        let pg = TestPostgres {
            url: container.url(),
            place: Place::Container(Box::new(container)),
        };
        pg::migrate(&pg.url).await?;
        Ok(pg)
    }

    async fn on_test_server() -> Result<TestPostgres, TestDbError> {
        let server = off_runtime(server_url).await?;
        let name = fresh_database_name();
        pg::create_database(&server, &name).await?;
        let pg = TestPostgres {
            url: with_database(&server, &name),
            place: Place::Database { server, name },
        };
        pg::migrate(&pg.url).await?;
        Ok(pg)
    }
}

impl Drop for TestPostgres {
    fn drop(&mut self) {
        let Place::Database { server, name } = &self.place else {
            return; // the container's own Drop removes it
        };
        let (server, name) = (server.clone(), name.clone());
        // Drop may run inside a runtime (a test that panicked) or outside one: use a thread
        // with a runtime of its own.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build();
            match runtime {
                Ok(runtime) => runtime.block_on(pg::drop_database(&server, &name)),
                Err(e) => Err(TestDbError::Database {
                    action: "drop the test database",
                    message: format!("no runtime: {e}"),
                }),
            }
        })
        .join();
        if let Ok(Err(error)) = dropped {
            say(&format!("could not drop a test database: {error}"));
        }
    }
}

/// Runs blocking `work` on a thread of its own and waits for it without blocking the runtime.
async fn off_runtime<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, TestDbError> + Send + 'static,
) -> Result<T, TestDbError> {
    let (sender, receiver) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        // The receiver only goes away with a cancelled test; nothing is left to tell then.
        let _ = sender.send(work());
    });
    receiver.await.unwrap_or_else(|_| {
        Err(TestDbError::Container {
            message: "the thread starting the container panicked".to_owned(),
        })
    })
}

/// `bt_testpg_<pid>_<time>_<n>`: unique (the time guards against a reused pid whose killed
/// predecessor left its database), and recognisable.
fn fresh_database_name() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_nanos());
    format!(
        "bt_testpg_{}_{nanos:x}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// Says why there is no container, and where the database comes from instead, once per process.
fn say_once_per_process(why: &str) {
    static SAID: std::sync::Once = std::sync::Once::new();
    SAID.call_once(|| {
        say(&format!(
            "{why}: TestPostgres uses a fresh database on the test server instead \
             (BACKTICK_TEST_DATABASE_URL, else DATABASE_URL, else the workspace cluster)"
        ));
    });
}

/// For the log: `container 0123456789ab (image)` or `database on the test server`.
impl std::fmt::Display for TestPostgres {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.place {
            Place::Container(container) => write!(
                f,
                "container {} ({}) at {}",
                short_id(container.id()),
                container.image(),
                self.url
            ),
            Place::Database { name, .. } => write!(f, "database {name} on the test server"),
        }
    }
}
