//! `provider: amqp` (AMQP 0-9-1 with `lapin`): the message is published to `exchange` with
//! `routingKey` as persistent JSON with the properties of SPEC 7 — content type
//! `application/json`, delivery mode 2, message id the process etag (the hash of the event
//! that made the notification owed), app id `letsflow` — plus the correlation id (the
//! notification id, stable across retries). Publishing is mandatory and confirmed: a message
//! the broker cannot route or store is an error, retried later.
//!
//! With `reply` or `replyTo` the node waits up to `responseTimeout` for the answer carrying
//! the same correlation id on its reply queue (its own exclusive queue, or the one named);
//! the answer's body (JSON, else text) is the response, an empty body none.
//!
//! One connection and channel per service, opened on first use and opened again after an
//! error.

use super::config::AmqpConfig;
use super::{Answer, Delivered, DeliveryError, Outgoing};
use futures::StreamExt;
use lapin::options::{
    BasicConsumeOptions, BasicPublishOptions, ConfirmSelectOptions, QueueDeclareOptions,
};
use lapin::types::{FieldTable, ShortString};
use lapin::{BasicProperties, Channel, Confirmation, Connection, ConnectionProperties};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;

/// Replies awaited, by correlation id.
type Waiting = Arc<Mutex<HashMap<String, oneshot::Sender<Vec<u8>>>>>;

struct Link {
    /// Kept open for the channel's sake.
    _connection: Connection,
    channel: Channel,
    reply_queue: Option<ShortString>,
    consumer: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for Link {
    fn drop(&mut self) {
        if let Some(task) = self.consumer.take() {
            task.abort();
        }
    }
}

/// An AMQP service: its settings and its connection.
pub(super) struct Amqp {
    config: AmqpConfig,
    link: tokio::sync::Mutex<Option<Arc<Link>>>,
    waiting: Waiting,
}

impl std::fmt::Debug for Amqp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Amqp")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

fn short(text: &str) -> Result<ShortString, DeliveryError> {
    ShortString::try_new(text).map_err(|e| DeliveryError::Setup(format!("'{text}': {e}")))
}

fn broker(e: lapin::Error) -> DeliveryError {
    DeliveryError::Connect(e.to_string())
}

impl Amqp {
    pub(super) fn new(config: AmqpConfig) -> Self {
        Amqp {
            config,
            link: tokio::sync::Mutex::new(None),
            waiting: Arc::default(),
        }
    }

    async fn connect(&self) -> Result<Link, DeliveryError> {
        let connection = Connection::connect(
            &self.config.url,
            ConnectionProperties::default().with_connection_name("letsflow".into()),
        )
        .await
        .map_err(broker)?;
        let channel = connection.create_channel().await.map_err(broker)?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .map_err(broker)?;
        let mut link = Link {
            _connection: connection,
            channel,
            reply_queue: None,
            consumer: None,
        };
        let Some(reply) = &self.config.reply else {
            return Ok(link);
        };
        let (name, options) = match reply {
            Some(queue) => (
                short(queue)?,
                QueueDeclareOptions {
                    durable: true,
                    ..QueueDeclareOptions::default()
                },
            ),
            None => (
                short("")?,
                QueueDeclareOptions {
                    exclusive: true,
                    auto_delete: true,
                    ..QueueDeclareOptions::default()
                },
            ),
        };
        let queue = link
            .channel
            .queue_declare(name, options, FieldTable::default())
            .await
            .map_err(broker)?;
        let mut consumer = link
            .channel
            .basic_consume(
                queue.name().clone(),
                short("letsflow-replies")?,
                BasicConsumeOptions {
                    no_ack: true,
                    ..BasicConsumeOptions::default()
                },
                FieldTable::default(),
            )
            .await
            .map_err(broker)?;
        let waiting = self.waiting.clone();
        link.consumer = Some(tokio::spawn(async move {
            while let Some(delivery) = consumer.next().await {
                let Ok(delivery) = delivery else { break };
                let Some(id) = delivery.properties.correlation_id() else {
                    tracing::debug!("an AMQP reply without correlation id; ignored");
                    continue;
                };
                let waiter = waiting.lock().ok().and_then(|mut w| w.remove(id.as_str()));
                match waiter {
                    // Ignored: the delivery gave up waiting meanwhile.
                    Some(waiter) => drop(waiter.send(delivery.data)),
                    None => tracing::debug!(correlation = %id, "an AMQP reply nobody waits for"),
                }
            }
        }));
        link.reply_queue = Some(queue.name().clone());
        Ok(link)
    }

    async fn link(&self) -> Result<Arc<Link>, DeliveryError> {
        let mut guard = self.link.lock().await;
        if let Some(link) = guard.as_ref() {
            if link.channel.status().connected() {
                return Ok(link.clone());
            }
        }
        let link = Arc::new(self.connect().await?);
        *guard = Some(link.clone());
        Ok(link)
    }

    pub(super) async fn send(&self, out: &Outgoing<'_>) -> Result<Delivered, DeliveryError> {
        let result = self.publish(out).await;
        if let Err(DeliveryError::Connect(_)) = &result {
            // Open a new connection next time.
            *self.link.lock().await = None;
        }
        result
    }

    async fn publish(&self, out: &Outgoing<'_>) -> Result<Delivered, DeliveryError> {
        let link = self.link().await?;
        let body =
            serde_json::to_vec(out.message).map_err(|e| DeliveryError::Setup(e.to_string()))?;
        let mut properties = BasicProperties::default()
            .with_content_type(short("application/json")?)
            .with_delivery_mode(2)
            .with_message_id(short(out.etag)?)
            .with_app_id(short("letsflow")?)
            .with_correlation_id(short(out.id)?);
        let waiting = match &link.reply_queue {
            Some(queue) => {
                properties = properties.with_reply_to(queue.clone());
                let (sender, receiver) = oneshot::channel();
                if let Ok(mut w) = self.waiting.lock() {
                    w.insert(out.id.to_string(), sender);
                }
                Some(receiver)
            }
            None => None,
        };
        let forget = || {
            if let Ok(mut w) = self.waiting.lock() {
                w.remove(out.id);
            }
        };
        let confirmed = async {
            link.channel
                .basic_publish(
                    short(&self.config.exchange)?,
                    short(&self.config.routing_key)?,
                    BasicPublishOptions {
                        mandatory: true,
                        ..BasicPublishOptions::default()
                    },
                    &body,
                    properties,
                )
                .await
                .map_err(broker)?
                .await
                .map_err(broker)
        }
        .await;
        let refused = |what: &str| {
            DeliveryError::Connect(format!(
                "the broker {what} the message (exchange '{}', routing key '{}')",
                self.config.exchange, self.config.routing_key
            ))
        };
        match confirmed {
            Ok(Confirmation::Ack(None) | Confirmation::NotRequested) => {}
            Ok(Confirmation::Ack(Some(_))) => {
                forget();
                return Err(refused("could not route"));
            }
            Ok(Confirmation::Nack(_)) => {
                forget();
                return Err(refused("refused"));
            }
            Err(e) => {
                forget();
                return Err(e);
            }
        }
        let Some(receiver) = waiting else {
            return Ok(Delivered {
                answer: Answer::Nothing,
                status: None,
            });
        };
        let timeout = self.config.response_timeout;
        let data = match tokio::time::timeout(timeout, receiver).await {
            Ok(Ok(data)) => data,
            Ok(Err(_)) => {
                return Err(DeliveryError::Connect(
                    "the reply queue closed before the reply came".into(),
                ))
            }
            Err(_) => {
                forget();
                return Err(DeliveryError::Timeout(timeout));
            }
        };
        let answer = if data.iter().all(u8::is_ascii_whitespace) {
            Answer::Nothing
        } else {
            Answer::Response(match serde_json::from_slice(&data) {
                Ok(value) => value,
                Err(_) => Value::String(String::from_utf8(data).map_err(|_| {
                    DeliveryError::BadAnswer("the reply is neither JSON nor UTF-8 text".into())
                })?),
            })
        };
        Ok(Delivered {
            answer,
            status: None,
        })
    }
}
