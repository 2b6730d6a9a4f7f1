//! Several managers on one PostgreSQL database: one row of `leadership` is the lease, renewed
//! by its holder every `--renew-ms` and taken over by another manager once it has not been
//! renewed for `--lease-ms`. Only the database's clock decides expiry; each manager's own clock
//! only measures how long since its last renewal began (see [`LeaseConfig::trusted_for`]).

use super::{Leadership, LeaseConfig, Manager, ManagerInfo, Term, Trust};
use chrono::{DateTime, Utc};
use sqlx::postgres::{PgListener, PgPool};
use std::sync::Arc;
use std::time::Instant;
use tokio_util::sync::CancellationToken;

/// Told when a leader resigns, so a follower takes over at once instead of after the lease.
const RESIGNED: &str = "standby_leadership";

/// Takes the lease when it is free or has expired, renews it when this manager holds it. A new
/// holder (or the same one after expiry) gets the next epoch.
const HOLD: &str = "\
    INSERT INTO leadership AS held (name, holder, epoch, elected_at, expires_at) \
    VALUES ('leader', $1, 1, now(), now() + make_interval(secs => $2::float8 / 1000.0)) \
    ON CONFLICT (name) DO UPDATE SET \
        holder = EXCLUDED.holder, \
        epoch = CASE WHEN held.holder = EXCLUDED.holder AND held.expires_at >= now() \
                     THEN held.epoch ELSE held.epoch + 1 END, \
        elected_at = CASE WHEN held.holder = EXCLUDED.holder AND held.expires_at >= now() \
                          THEN held.elected_at ELSE now() END, \
        expires_at = EXCLUDED.expires_at \
    WHERE held.holder = EXCLUDED.holder OR held.expires_at < now() \
    RETURNING epoch";

const CURRENT_EPOCH: &str = "SELECT epoch FROM leadership WHERE name = 'leader'";

const RENEW_MANAGER: &str = "\
    INSERT INTO managers (id, listen, started_at, last_renewed_at) VALUES ($1, $2, $3, now()) \
    ON CONFLICT (id) DO UPDATE SET listen = EXCLUDED.listen, last_renewed_at = now()";

/// Managers not heard of for a day are forgotten.
const FORGET_MANAGERS: &str =
    "DELETE FROM managers WHERE last_renewed_at < now() - interval '1 day'";

/// The managers that renewed within the lease, oldest first.
const MANAGERS: &str = "\
    SELECT managers.id, managers.listen, managers.started_at, managers.last_renewed_at, \
           (leadership.holder = managers.id AND leadership.expires_at >= now()) AS leader, \
           leadership.epoch, leadership.elected_at \
    FROM managers LEFT JOIN leadership ON leadership.holder = managers.id \
    WHERE managers.last_renewed_at >= now() - make_interval(secs => $1::float8 / 1000.0) \
    ORDER BY managers.started_at, managers.id";

const RESIGN: &str = "\
    UPDATE leadership SET expires_at = now() - interval '1 millisecond' \
    WHERE holder = $1 AND epoch = $2";

const LEAVE: &str = "DELETE FROM managers WHERE id = $1";

pub struct Lease {
    pool: PgPool,
    pub(super) config: LeaseConfig,
}

type Row = (
    String,
    String,
    DateTime<Utc>,
    DateTime<Utc>,
    Option<bool>,
    Option<i64>,
    Option<DateTime<Utc>>,
);

impl Lease {
    pub(super) async fn managers(&self) -> Result<Vec<Manager>, sqlx::Error> {
        // A manager that missed a renewal or two is still there; one silent for twice the lease
        // is not.
        let within = (self.config.lease * 2).as_millis() as f64;
        let rows: Vec<Row> = sqlx::query_as(MANAGERS).bind(within).fetch_all(&self.pool).await?;
        Ok(rows
            .into_iter()
            .map(|(id, listen, started_at, last_renewed_at, leader, epoch, elected_at)| {
                let leader = leader.unwrap_or(false);
                Manager {
                    id,
                    listen,
                    leader,
                    epoch: epoch.filter(|_| leader),
                    leader_since: elected_at.filter(|_| leader),
                    started_at,
                    last_renewed_at,
                }
            })
            .collect())
    }
}

impl Leadership {
    /// A manager on a PostgreSQL database shared with others; it leads once [`Leadership::start`]
    /// wins the lease.
    pub fn on_postgres(me: ManagerInfo, pool: PgPool, config: LeaseConfig) -> Leadership {
        Leadership::with(me, Trust::Not, Term::default(), Some(Lease { pool, config }))
    }

    /// One renewal: this manager's row, then the lease.
    pub(super) async fn round(&self, lease: &Lease) {
        let (pool, config) = (&lease.pool, lease.config);
        let began = Instant::now();
        let held = async {
            sqlx::query(RENEW_MANAGER)
                .bind(&self.me.id)
                .bind(self.listen())
                .bind(self.me.started_at)
                .execute(pool)
                .await?;
            let epoch: Option<i64> = sqlx::query_scalar(HOLD)
                .bind(&self.me.id)
                .bind(config.lease.as_millis() as f64)
                .fetch_optional(pool)
                .await?;
            match epoch {
                Some(epoch) => Ok::<_, sqlx::Error>(Ok(epoch)),
                None => {
                    let current: Option<i64> =
                        sqlx::query_scalar(CURRENT_EPOCH).fetch_optional(pool).await?;
                    Ok(Err(current.unwrap_or(0)))
                }
            }
        };
        // A database that does not answer must not hold the round up past the next one: the
        // term ends on time when the lease can no longer be trusted.
        let Ok(held) = tokio::time::timeout(config.renew, held).await else {
            tracing::warn!("renewing the leadership lease took longer than --renew-ms");
            self.renewal_failed();
            return;
        };
        match held {
            Ok(Ok(epoch)) => {
                if !self.term().leading || self.term().epoch != epoch {
                    tracing::info!(epoch, manager = %self.me.id, "this manager leads");
                }
                self.won(epoch, began, config.trusted_for());
            }
            Ok(Err(epoch)) => {
                if self.term().leading {
                    tracing::warn!(epoch, manager = %self.me.id, "another manager leads now");
                }
                self.lost_to(epoch);
            }
            Err(error) => {
                tracing::warn!(%error, "cannot renew the leadership lease");
                self.renewal_failed();
            }
        }
    }

    /// On a graceful stop: the lease is given up at once and the followers told, so one takes
    /// over without waiting for the lease to run out.
    pub async fn resign(&self) {
        let Some(lease) = &self.lease else { return };
        let epoch = self.epoch();
        self.step_down();
        let pool = &lease.pool;
        if let Some(epoch) = epoch {
            let resigned = async {
                sqlx::query(RESIGN).bind(&self.me.id).bind(epoch).execute(pool).await?;
                sqlx::query("SELECT pg_notify($1, $2)")
                    .bind(RESIGNED)
                    .bind(&self.me.id)
                    .execute(pool)
                    .await
            };
            match resigned.await {
                Ok(_) => tracing::info!(epoch, "resigned the lead"),
                Err(error) => {
                    tracing::warn!(%error, "cannot resign the lead; it runs out by itself")
                }
            }
        }
        if let Err(error) = sqlx::query(LEAVE).bind(&self.me.id).execute(pool).await {
            tracing::warn!(%error, "cannot remove this manager from the list");
        }
    }
}

pub(super) async fn renew(leadership: Arc<Leadership>, stop: CancellationToken) {
    let Some(lease) = &leadership.lease else { return };
    let (pool, config) = (lease.pool.clone(), lease.config);
    let mut resigned = listen_for_resignations(&pool).await;
    let mut ticks = tokio::time::interval(config.renew);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut rounds: u64 = 0;
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = ticks.tick() => {}
            told = next_resignation(&mut resigned) => {
                if !told {
                    resigned = None;
                    continue;
                }
            }
        }
        leadership.round(lease).await;
        rounds += 1;
        if rounds.is_multiple_of(3600)
            && let Err(error) = sqlx::query(FORGET_MANAGERS).execute(&pool).await
        {
            tracing::debug!(%error, "cannot forget old managers");
        }
        if resigned.is_none() && rounds.is_multiple_of(10) {
            resigned = listen_for_resignations(&pool).await;
        }
    }
}

/// Without a listener (it could not connect) followers still take over when the lease ends.
async fn listen_for_resignations(pool: &PgPool) -> Option<PgListener> {
    let mut listener = PgListener::connect_with(pool).await.ok()?;
    listener.listen(RESIGNED).await.ok()?;
    Some(listener)
}

/// True when a resignation was announced; false when the listener failed (pending for ever
/// without one).
async fn next_resignation(listener: &mut Option<PgListener>) -> bool {
    match listener {
        Some(listener) => listener.recv().await.is_ok(),
        None => std::future::pending().await,
    }
}
