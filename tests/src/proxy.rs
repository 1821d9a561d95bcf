//! A fault-injecting proxy between the plugin and the real control plane.
//!
//! The plugin talks plain HTTP to the proxy, which forwards every request to the real
//! kube-apiserver with the test cluster's own client (its credentials and TLS), and answers with
//! the real response, except for the one request a [`Fault`] names: that one is dropped before it
//! reaches the server, dropped after the server answered, or stalled. A [`Meddler`] instead makes
//! a concurrent change to the object a request writes, just before the request reaches the
//! server, as another user racing the plugin would. Nothing here answers in the server's place:
//! every answer the plugin gets is the real API server's.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use http::{Method, Request, Response};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use kube::Client;
use tokio::net::TcpListener;

/// What happens to the request a [`Trigger`] picks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The connection is closed before the request reaches the server.
    DropBefore,
    /// The server gets the request and answers; the connection is closed before the answer.
    DropAfter,
    /// The server gets the request and answers; the answer never comes.
    Stall,
}

/// Which request a fault hits: the first with `method` (after the first `after` request, when
/// given). Only one request is ever hit.
#[derive(Debug, Clone)]
pub struct Trigger {
    pub method: Method,
    pub after: Option<Method>,
    pub fault: Fault,
}

impl Trigger {
    /// The first request with `method`.
    pub fn first(method: Method, fault: Fault) -> Self {
        Trigger {
            method,
            after: None,
            fault,
        }
    }

    /// The first request with `method` after the first `after` request.
    pub fn first_after(method: Method, after: Method, fault: Fault) -> Self {
        Trigger {
            method,
            after: Some(after),
            fault,
        }
    }
}

#[derive(Debug, Default)]
struct State {
    seen_after: bool,
    fired: bool,
    /// Requests a meddler has seen.
    meddled: usize,
    /// `METHOD path` of every request, and whether it was hit.
    log: Vec<(String, bool)>,
}

/// A concurrent change, made with the real client just before each request with `method`
/// reaches the server: `change(n)` for the `n`th such request (from 0) is a JSON merge patch of
/// the object at that request's path, or `None` to leave it alone.
#[derive(Clone)]
pub struct Meddler {
    pub method: Method,
    pub change: Arc<dyn Fn(usize) -> Option<serde_json::Value> + Send + Sync>,
}

impl std::fmt::Debug for Meddler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Meddler")
            .field("method", &self.method)
            .finish_non_exhaustive()
    }
}

/// What the proxy does besides forwarding.
#[derive(Debug, Clone)]
enum Behaviour {
    Fault(Trigger),
    Meddle(Meddler),
}

/// A running proxy. It stops with the test's runtime.
#[derive(Debug)]
pub struct FaultProxy {
    /// A kubeconfig that points at the proxy, for the plugin.
    pub kubeconfig: PathBuf,
    _dir: tempfile::TempDir,
    state: Arc<Mutex<State>>,
}

impl FaultProxy {
    /// Starts a proxy on a free loopback port that forwards with `upstream`, faulting the
    /// request `trigger` picks.
    pub async fn start(upstream: Client, trigger: Trigger) -> Result<Self> {
        Self::serve(upstream, Behaviour::Fault(trigger)).await
    }

    /// Starts a proxy that makes `meddler`'s concurrent changes.
    pub async fn meddling(upstream: Client, meddler: Meddler) -> Result<Self> {
        Self::serve(upstream, Behaviour::Meddle(meddler)).await
    }

    async fn serve(upstream: Client, behaviour: Behaviour) -> Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let dir = tempfile::tempdir()?;
        let kubeconfig = dir.path().join("kubeconfig");
        std::fs::write(&kubeconfig, proxy_kubeconfig(&format!("http://{address}")))
            .context("could not write the proxy's kubeconfig")?;
        let state = Arc::new(Mutex::new(State::default()));
        let shared = (upstream, Arc::new(behaviour), state.clone());
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (upstream, behaviour, state) = shared.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |request| {
                        forward(upstream.clone(), behaviour.clone(), state.clone(), request)
                    });
                    // A dropped request ends its connection with an error: that is the fault.
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(FaultProxy {
            kubeconfig,
            _dir: dir,
            state,
        })
    }

    /// `METHOD path?query` of every request so far, with `!` before the one the fault hit (or
    /// each one a meddler changed the object before).
    pub fn requests(&self) -> Vec<String> {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state
            .log
            .iter()
            .map(|(line, hit)| format!("{}{line}", if *hit { "!" } else { "" }))
            .collect()
    }
}

/// Whether this request is the one the trigger hits; records it either way.
fn hit(trigger: &Trigger, state: &Mutex<State>, method: &Method, line: String) -> bool {
    let mut state = state.lock().unwrap_or_else(|e| e.into_inner());
    let armed = trigger.after.is_none() || state.seen_after;
    let hit = !state.fired && armed && method == trigger.method;
    if trigger.after.as_ref() == Some(method) {
        state.seen_after = true;
    }
    state.fired |= hit;
    state.log.push((line, hit));
    hit
}

/// The merge patch a meddler makes before this request, if any; records the request.
fn meddle(
    meddler: &Meddler,
    state: &Mutex<State>,
    method: &Method,
    line: String,
) -> Option<serde_json::Value> {
    let mut state = state.lock().unwrap_or_else(|e| e.into_inner());
    let change = (method == meddler.method).then(|| {
        state.meddled += 1;
        (meddler.change)(state.meddled - 1)
    });
    let change = change.flatten();
    state.log.push((line, change.is_some()));
    change
}

/// Sends `patch` as a JSON merge patch of the object at `path`, as another user would.
async fn change(upstream: &Client, path: &str, patch: serde_json::Value) -> Result<()> {
    let request = Request::builder()
        .method(Method::PATCH)
        .uri(path)
        .header(http::header::CONTENT_TYPE, "application/merge-patch+json")
        .body(serde_json::to_vec(&patch)?)?;
    upstream
        .request::<serde_json::Value>(request)
        .await
        .context("the meddler's change was refused")?;
    Ok(())
}

async fn forward(
    upstream: Client,
    behaviour: Arc<Behaviour>,
    state: Arc<Mutex<State>>,
    request: Request<Incoming>,
) -> Result<Response<kube::client::Body>> {
    let (parts, body) = request.into_parts();
    let line = format!("{} {}", parts.method, parts.uri);
    let fault = match &*behaviour {
        Behaviour::Fault(trigger) => {
            hit(trigger, &state, &parts.method, line).then_some(trigger.fault)
        }
        Behaviour::Meddle(meddler) => {
            if let Some(patch) = meddle(meddler, &state, &parts.method, line) {
                change(&upstream, parts.uri.path(), patch).await?;
            }
            None
        }
    };
    if fault == Some(Fault::DropBefore) {
        anyhow::bail!("dropped before the server");
    }
    let body = body.collect().await?.to_bytes();
    let mut request = Request::builder().method(parts.method).uri(parts.uri);
    for (name, value) in &parts.headers {
        if name != http::header::HOST && name != http::header::CONTENT_LENGTH {
            request = request.header(name, value);
        }
    }
    let request = request.body(kube::client::Body::from(body.to_vec()))?;
    let response = upstream.send(request).await?;
    match fault {
        Some(Fault::DropAfter) => anyhow::bail!("dropped after the server answered"),
        Some(Fault::Stall) => std::future::pending().await,
        _ => Ok(response),
    }
}

/// A kubeconfig for a server that needs no credentials: the proxy adds the real ones.
fn proxy_kubeconfig(server: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: proxy\n  cluster:\n    server: {server}\n\
         users:\n- name: proxy\n  user: {{}}\ncontexts:\n- name: proxy\n  context:\n    cluster: \
         proxy\n    user: proxy\ncurrent-context: proxy\n"
    )
}
