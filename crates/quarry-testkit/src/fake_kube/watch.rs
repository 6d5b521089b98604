//! Streamed watches: newline-delimited JSON events from a resourceVersion,
//! or the current state first; `410 Gone` inside the stream once the
//! history has been compacted past it.

use std::collections::HashMap;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::header;
use axum::response::Response;
use futures::StreamExt;
use serde_json::{Value, json};

use super::api::Shared;
use super::selectors::{FieldSelector, LabelSelector};
use super::store::Refusal;

/// A streamed watch: newline-delimited JSON events from `resourceVersion`
/// (or the current state first, when none is given).
pub(super) fn watch(
    cluster: Shared,
    resource: String,
    ns: Option<String>,
    labels: LabelSelector,
    fields: FieldSelector,
    params: &HashMap<String, String>,
) -> Response {
    let timeout = params
        .get("timeoutSeconds")
        .and_then(|t| t.parse().ok())
        .unwrap_or(300u64);
    let since = params
        .get("resourceVersion")
        .and_then(|v| v.parse::<u64>().ok())
        .filter(|v| *v > 0);
    let (initial, receiver) = {
        let store = cluster.store.lock().expect("store");
        let receiver = store.subscribe();
        let initial: Vec<Value> = match since {
            Some(version) => match store.events_since(&resource, version) {
                Some(events) => events.into_iter().map(|e| e.object).collect(),
                None => {
                    let gone = Refusal {
                        code: 410,
                        reason: "Expired",
                        message: format!(
                            "too old resource version: {version} ({})",
                            store.version()
                        ),
                    };
                    // Watches report expiry as an ERROR event in the stream.
                    let event = json!({"type": "ERROR", "object": gone.status()});
                    return Response::builder()
                        .header(header::CONTENT_TYPE, "application/json")
                        .body(Body::from(format!("{event}\n")))
                        .expect("response");
                }
            },
            None => store
                .list(&resource, ns.as_deref())
                .into_iter()
                .map(|o| json!({"type": "ADDED", "object": o}))
                .collect(),
        };
        (initial, receiver)
    };
    let matches = move |event: &Value| {
        let object = &event["object"];
        ns.as_deref()
            .is_none_or(|n| object["metadata"]["namespace"] == n)
            && labels.matches(object)
            && fields.matches(object)
    };
    let initial = futures::stream::iter(initial);
    let resource_for_live = resource.clone();
    let live = tokio_stream::wrappers::BroadcastStream::new(receiver).filter_map(move |event| {
        let resource = resource_for_live.clone();
        async move {
            match event {
                Ok(event) if event.resource == resource => Some(event.object),
                _ => None,
            }
        }
    });
    let matches_live = matches.clone();
    let stream = initial
        .filter(move |e| futures::future::ready(matches(e)))
        .chain(live.filter(move |e| futures::future::ready(matches_live(e))))
        .map(|event| Ok::<_, std::io::Error>(Bytes::from(format!("{event}\n"))))
        .take_until(tokio::time::sleep(Duration::from_secs(timeout)));
    Response::builder()
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from_stream(stream))
        .expect("response")
}
