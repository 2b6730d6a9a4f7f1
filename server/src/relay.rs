//! System change events between managers on one PostgreSQL database, so that every browser sees
//! every change whichever manager it is connected to. Sent with `NOTIFY`, received with
//! `LISTEN`. A notification sent while a listener was reconnecting is lost, so after a reconnect
//! the clients are told to reload what they show (`resync`).

use crate::events::EventBus;
use app::model::SystemEvent;
use serde::{Deserialize, Serialize};
use sqlx::postgres::{PgListener, PgPool};
use std::time::Duration;
use tokio::sync::mpsc;

const CHANNEL: &str = "standby_events";
/// PostgreSQL refuses a payload of 8000 bytes or more; a larger event goes as "reload".
const MAX_PAYLOAD: usize = 7900;
const RETRY: Duration = Duration::from_secs(1);

#[derive(Debug, Serialize, Deserialize)]
struct Envelope {
    /// The manager that published it (its own notifications come back to it too).
    from: String,
    /// `None`: too large to send; reload.
    event: Option<SystemEvent>,
}

impl Envelope {
    fn payload(from: &str, event: SystemEvent) -> String {
        let full = Envelope { from: from.to_owned(), event: Some(event) };
        match serde_json::to_string(&full) {
            Ok(text) if text.len() < MAX_PAYLOAD => text,
            _ => serde_json::to_string(&Envelope { from: from.to_owned(), event: None })
                .unwrap_or_default(),
        }
    }
}

/// Sends what this manager publishes and publishes what the others send, until the process ends.
pub fn start(bus: &EventBus, pool: PgPool, me: String) {
    let (outbox, sent) = mpsc::unbounded_channel();
    bus.relay_to(outbox);
    tokio::spawn(send(sent, pool.clone(), me.clone()));
    tokio::spawn(receive(bus.clone(), pool, me));
}

async fn send(mut sent: mpsc::UnboundedReceiver<SystemEvent>, pool: PgPool, me: String) {
    while let Some(event) = sent.recv().await {
        let payload = Envelope::payload(&me, event);
        if let Err(error) =
            sqlx::query("SELECT pg_notify($1, $2)").bind(CHANNEL).bind(payload).execute(&pool).await
        {
            tracing::warn!(%error, "cannot tell the other managers of a change");
        }
    }
}

async fn receive(bus: EventBus, pool: PgPool, me: String) {
    loop {
        let mut listener = match listen(&pool).await {
            Ok(listener) => listener,
            Err(error) => {
                tracing::warn!(%error, "cannot listen for the other managers' changes; retrying");
                tokio::time::sleep(RETRY).await;
                continue;
            }
        };
        loop {
            match listener.try_recv().await {
                Ok(Some(notification)) => {
                    match serde_json::from_str::<Envelope>(notification.payload()) {
                        Ok(envelope) if envelope.from == me => {}
                        Ok(envelope) => {
                            bus.publish_here(envelope.event.unwrap_or(SystemEvent::Resync))
                        }
                        Err(error) => tracing::warn!(%error, "a change notification is not ours"),
                    }
                }
                // The connection was lost (and is made again on the next call): what was sent
                // meanwhile is gone.
                Ok(None) => bus.publish_here(SystemEvent::Resync),
                Err(error) => {
                    tracing::warn!(%error, "lost the other managers' changes; listening again");
                    bus.publish_here(SystemEvent::Resync);
                    tokio::time::sleep(RETRY).await;
                    break;
                }
            }
        }
    }
}

async fn listen(pool: &PgPool) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(CHANNEL).await?;
    Ok(listener)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_too_large_for_a_notification_goes_as_reload() {
        let alert = |message: String| SystemEvent::Alert {
            level: "info".into(),
            code: "x".into(),
            message,
        };
        let small: Envelope =
            serde_json::from_str(&Envelope::payload("a", alert("hi".into()))).expect("an envelope");
        assert_eq!(small.event, Some(alert("hi".into())));
        let text = Envelope::payload("a", alert("x".repeat(MAX_PAYLOAD)));
        assert!(text.len() < MAX_PAYLOAD);
        let large: Envelope = serde_json::from_str(&text).expect("an envelope");
        assert_eq!((large.from.as_str(), large.event), ("a", None));
    }
}
