//! Broadcast groups of WebSocket connections.
//!
//! A `GroupHub` keeps this process's members of each group. Without Redis a message goes
//! straight to the local members' queues. With Redis every message is published on the
//! group's channel and each process delivers it to its own members from its subscription
//! (the publishing process included, so every member sees one order); a process is
//! subscribed to a group's channel exactly while it has members in that group.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock, Weak};

use std::fmt;

use bytes::Bytes;
use bytestring::ByteString;
use parking_lot::Mutex;
use pyo3::exceptions::PyConnectionError;
use pyo3::prelude::*;
use redis::aio::ConnectionManager;
use redis::{AsyncCommands, IntoConnectionInfo, ProtocolVersion, PushKind, Value};
use tokio::sync::{mpsc, OnceCell};

use super::channel::{Membership, Outgoing, Shared};
use crate::store::errors::RedisUrlError;
use crate::store::redis::{redis_runtime, Pause, CALL_TIMEOUT};

/// Why a group operation through Redis failed; reported to Python's `done(error)`
/// callback as its message (ConnectionError when raised).
#[derive(Debug)]
pub enum GroupError {
    Redis(redis::RedisError),
    /// Redis failed less than a second ago: not asked again yet.
    Paused,
    Stopped,
}

impl fmt::Display for GroupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Redis(e) => write!(f, "Redis: {e}"),
            Self::Paused => f.write_str("Redis: failed less than a second ago"),
            Self::Stopped => f.write_str("the group hub has stopped"),
        }
    }
}

impl std::error::Error for GroupError {}

impl From<GroupError> for PyErr {
    fn from(e: GroupError) -> Self {
        PyConnectionError::new_err(e.to_string())
    }
}

pub struct HubCore {
    groups: Mutex<Groups>,
    redis: Option<RedisLink>,
}

#[derive(Default)]
struct Groups {
    members: HashMap<String, HashMap<u64, Weak<Shared>>>,
    /// Connection id -> the groups it joined, so a closed connection leaves them all.
    joined: HashMap<u64, Vec<String>>,
    /// Groups whose Redis channel this process is subscribed to.
    subscribed: std::collections::HashSet<String>,
}

/// A Python callable told `None` (done) or an error message.
pub type Done = Py<PyAny>;

enum Control {
    Subscribe(String, Option<Done>),
    Unsubscribe(String),
}

struct RedisLink {
    client: redis::Client,
    prefix: String,
    conn: OnceCell<ConnectionManager>,
    control: OnceLock<mpsc::UnboundedSender<Control>>,
    hub: Weak<HubCore>,
    /// A hung or down Redis delays one operation a second, not every one.
    pause: Pause,
}

/// Calls `done(error)` on a Python callable from a Redis thread.
fn report(done: Option<Done>, result: Result<(), GroupError>) {
    if let Some(done) = done {
        Python::attach(|py| {
            let arg = result.err().map(|e| e.to_string());
            if let Err(e) = done.call1(py, (arg,)) {
                e.print(py);
            }
        });
    }
}

impl HubCore {
    /// A hub for this process; with a Redis URL, groups reach every process through it.
    pub fn new(redis_url: Option<&str>, prefix: &str) -> Result<Arc<Self>, RedisUrlError> {
        let client = match redis_url {
            Some(url) => {
                let info = url.into_connection_info().map_err(RedisUrlError)?;
                let settings = info
                    .redis_settings()
                    .clone()
                    .set_protocol(ProtocolVersion::RESP3);
                Some(
                    redis::Client::open(info.set_redis_settings(settings))
                        .map_err(RedisUrlError)?,
                )
            }
            None => None,
        };
        Ok(Arc::new_cyclic(|hub| HubCore {
            groups: Mutex::new(Groups::default()),
            redis: client.map(|client| RedisLink {
                client,
                prefix: prefix.to_owned(),
                conn: OnceCell::new(),
                control: OnceLock::new(),
                hub: hub.clone(),
                pause: Pause::default(),
            }),
        }))
    }

    /// True when groups reach other processes through Redis.
    pub fn is_shared(&self) -> bool {
        self.redis.is_some()
    }

    /// Adds the connection to `name`. True when done; otherwise `done(error)` is called
    /// once this process is subscribed to the group.
    pub fn add(self: &Arc<Self>, name: &str, shared: &Arc<Shared>, done: Done) -> bool {
        if shared.is_closed() {
            return true;
        }
        shared.joined(self);
        let subscribed = self.local_add(name, shared);
        match &self.redis {
            Some(_) if subscribed => true,
            // Queued behind any subscription still in flight, so this caller returns only
            // once messages to the group arrive.
            Some(link) => {
                link.control(Control::Subscribe(name.to_owned(), Some(done)));
                false
            }
            None => true,
        }
    }

    /// Removes connection `id` from `name` (nothing happens when it is not a member).
    pub fn discard(&self, name: &str, id: u64) {
        let emptied = Self::local_discard(&mut self.groups.lock(), name, id);
        if let (true, Some(link)) = (emptied, &self.redis) {
            link.control(Control::Unsubscribe(name.to_owned()));
        }
    }

    /// Sends `message` to every member. Without Redis it is queued for the local members
    /// at once and true is returned; with Redis it is published, `done(error)` is called
    /// when Redis has it, and false is returned.
    pub fn send(self: &Arc<Self>, name: &str, message: Outgoing, done: Done) -> bool {
        let Some(link) = &self.redis else {
            self.deliver(name, &message);
            return true;
        };
        let channel = link.channel(name);
        let payload = encode(&message);
        let core = Arc::clone(self);
        redis_runtime().spawn(async move {
            let link = core.redis.as_ref().expect("a Redis hub");
            let result = link
                .call(|mut conn| async move {
                    conn.publish::<_, _, ()>(channel, payload)
                        .await
                        .map_err(GroupError::Redis)
                })
                .await;
            report(Some(done), result);
        });
        false
    }

    /// Adds a member; true when the process is already subscribed to the group.
    fn local_add(&self, name: &str, shared: &Arc<Shared>) -> bool {
        let mut groups = self.groups.lock();
        let members = groups.members.entry(name.to_owned()).or_default();
        if members.insert(shared.id, Arc::downgrade(shared)).is_none() {
            groups
                .joined
                .entry(shared.id)
                .or_default()
                .push(name.to_owned());
        }
        groups.subscribed.contains(name)
    }

    /// Removes `id` from `name`; true when the group has no local member left.
    fn local_discard(groups: &mut Groups, name: &str, id: u64) -> bool {
        let Some(members) = groups.members.get_mut(name) else {
            return false;
        };
        if members.remove(&id).is_none() {
            return false;
        }
        if let Some(names) = groups.joined.get_mut(&id) {
            names.retain(|n| n != name);
            if names.is_empty() {
                groups.joined.remove(&id);
            }
        }
        if members.is_empty() {
            groups.members.remove(name);
            return true;
        }
        false
    }

    /// A closed connection leaves every group it joined.
    pub fn leave_all(&self, id: u64) {
        let emptied: Vec<String> = {
            let mut groups = self.groups.lock();
            let names = groups.joined.remove(&id).unwrap_or_default();
            names
                .into_iter()
                .filter(|name| {
                    let Some(members) = groups.members.get_mut(name) else {
                        return false;
                    };
                    members.remove(&id);
                    if members.is_empty() {
                        groups.members.remove(name);
                        return true;
                    }
                    false
                })
                .collect()
        };
        if let Some(link) = &self.redis {
            for name in emptied {
                link.control(Control::Unsubscribe(name));
            }
        }
    }

    /// Queues `message` for every local member of `name`; returns how many.
    fn deliver(&self, name: &str, message: &Outgoing) -> usize {
        let mut gone = Vec::new();
        let mut count = 0;
        {
            let groups = self.groups.lock();
            let Some(members) = groups.members.get(name) else {
                return 0;
            };
            for (id, member) in members {
                match member.upgrade() {
                    Some(shared) if !shared.is_closed() => {
                        shared.offer(message.clone());
                        count += 1;
                    }
                    _ => gone.push(*id),
                }
            }
        }
        for id in gone {
            self.leave_all(id);
        }
        count
    }

    /// Members of `name` in this process.
    pub fn size(&self, name: &str) -> usize {
        self.groups.lock().members.get(name).map_or(0, HashMap::len)
    }
}

impl Membership for HubCore {
    fn leave(&self, id: u64) {
        self.leave_all(id);
    }
}

/// Redis envelope: one kind byte, then the message.
fn encode(message: &Outgoing) -> Vec<u8> {
    let (kind, body): (u8, &[u8]) = match message {
        Outgoing::Text(text) => (b't', text.as_bytes()),
        Outgoing::Binary(data) => (b'b', data),
        Outgoing::Close(..) => unreachable!("groups carry text and bytes only"),
    };
    let mut out = Vec::with_capacity(body.len() + 1);
    out.push(kind);
    out.extend_from_slice(body);
    out
}

fn decode(payload: &[u8]) -> Option<Outgoing> {
    let (kind, body) = payload.split_first()?;
    match kind {
        b't' => ByteString::try_from(Bytes::copy_from_slice(body))
            .ok()
            .map(Outgoing::Text),
        b'b' => Some(Outgoing::Binary(Bytes::copy_from_slice(body))),
        _ => None,
    }
}

impl RedisLink {
    fn channel(&self, name: &str) -> String {
        format!("{}ws:{name}", self.prefix)
    }

    async fn connection(&self) -> Result<ConnectionManager, GroupError> {
        let conn = self
            .conn
            .get_or_try_init(|| async {
                let (tx, rx) = mpsc::unbounded_channel();
                let config = redis::aio::ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(CALL_TIMEOUT))
                    .set_response_timeout(Some(CALL_TIMEOUT))
                    .set_number_of_retries(0)
                    .set_push_sender(tx)
                    .set_automatic_resubscription();
                let conn = self
                    .client
                    .get_connection_manager_with_config(config)
                    .await
                    .map_err(GroupError::Redis)?;
                tokio::spawn(receive_pushes(self.hub.clone(), self.prefix.clone(), rx));
                Ok::<_, GroupError>(conn)
            })
            .await?;
        Ok(conn.clone())
    }

    /// `f` with the connection, unless Redis failed less than a second ago; a failure
    /// (the connection's own timeouts bound each wait) starts such a pause.
    async fn call<F, Fut>(&self, f: F) -> Result<(), GroupError>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: std::future::Future<Output = Result<(), GroupError>>,
    {
        if self.pause.paused() {
            return Err(GroupError::Paused);
        }
        let result = match self.connection().await {
            Ok(conn) => f(conn).await,
            Err(e) => Err(e),
        };
        self.pause.after(&result);
        result
    }

    /// Subscriptions change in the order asked for, one at a time.
    fn control(&self, op: Control) {
        let tx = self.control.get_or_init(|| {
            let (tx, rx) = mpsc::unbounded_channel();
            let hub = self.hub.clone();
            redis_runtime().spawn(control_loop(hub, rx));
            tx
        });
        if let Err(mpsc::error::SendError(Control::Subscribe(_, done))) = tx.send(op) {
            report(done, Err(GroupError::Stopped));
        }
    }
}

async fn control_loop(hub: Weak<HubCore>, mut rx: mpsc::UnboundedReceiver<Control>) {
    while let Some(op) = rx.recv().await {
        let Some(hub) = hub.upgrade() else { return };
        let Some(link) = hub.redis.as_ref() else {
            return;
        };
        match op {
            Control::Subscribe(name, done) => {
                let result = if hub.groups.lock().subscribed.contains(&name) {
                    Ok(())
                } else {
                    let channel = link.channel(&name);
                    link.call(|mut conn| async move {
                        conn.subscribe(channel).await.map_err(GroupError::Redis)
                    })
                    .await
                };
                if result.is_ok() {
                    hub.groups.lock().subscribed.insert(name);
                }
                report(done, result);
            }
            Control::Unsubscribe(name) => {
                {
                    // Someone joined again since: keep the subscription. (Checked and
                    // forgotten under one lock, so a join either sees the subscription
                    // kept or queues a new one behind this.)
                    let mut groups = hub.groups.lock();
                    if groups.members.get(&name).is_some_and(|m| !m.is_empty()) {
                        continue;
                    }
                    groups.subscribed.remove(&name);
                }
                if let Ok(mut conn) = link.connection().await {
                    let _ = conn.unsubscribe(link.channel(&name)).await;
                }
            }
        }
    }
}

async fn receive_pushes(
    hub: Weak<HubCore>,
    prefix: String,
    mut rx: mpsc::UnboundedReceiver<redis::PushInfo>,
) {
    let channel_prefix = format!("{prefix}ws:");
    while let Some(push) = rx.recv().await {
        if push.kind != PushKind::Message {
            continue;
        }
        let Some(hub) = hub.upgrade() else { return };
        let (Some(Value::BulkString(channel)), Some(Value::BulkString(payload))) =
            (push.data.first(), push.data.get(1))
        else {
            continue;
        };
        let Some(name) = std::str::from_utf8(channel)
            .ok()
            .and_then(|c| c.strip_prefix(channel_prefix.as_str()))
        else {
            continue;
        };
        if let Some(message) = decode(payload) {
            hub.deliver(name, &message);
        }
    }
}
