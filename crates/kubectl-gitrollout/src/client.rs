//! The connection to the cluster: kubeconfig and flags as kubectl reads them, `-v=6` request
//! logging, and API errors turned into messages that say what to do.

use std::future::Future;
use std::io::Write;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use anyhow::{Result, anyhow};
use http::{Request, Response};
use k8s_openapi::NamespaceResourceScope;
use kube::client::{Body, ClientBuilder};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::core::response::reason;
use kube::{Api, Client, Config, Resource};
use tower::{Layer, Service};

use crate::cli::Global;
use crate::hints::{Hint, hinted};

/// A client, the namespace to work in, and the server's address for messages.
#[derive(Clone)]
pub struct Cluster {
    pub client: Client,
    pub namespace: String,
    pub server: String,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("namespace", &self.namespace)
            .field("server", &self.server)
            .finish_non_exhaustive()
    }
}

/// Connects as kubectl would with the same flags. Makes no request.
pub async fn connect(global: &Global) -> Result<Cluster> {
    let mut config = load_config(global).await?;
    if let Some(timeout) = global.request_timeout.filter(|t| !t.is_zero()) {
        config.connect_timeout = Some(timeout);
        config.read_timeout = Some(timeout);
        config.write_timeout = Some(timeout);
    }
    let namespace = global
        .namespace
        .clone()
        .unwrap_or_else(|| config.default_namespace.clone());
    let server = config.cluster_url.to_string();
    let builder = ClientBuilder::try_from(config)
        .map_err(|e| anyhow!("could not set up a client for {server}: {e}"))?;
    let client = if global.verbosity >= 6 {
        let layer = LogLayer {
            base: server.trim_end_matches('/').to_owned(),
        };
        builder.with_layer(&layer).build()
    } else {
        builder.build()
    };
    Ok(Cluster {
        client,
        namespace,
        server,
    })
}

async fn load_config(global: &Global) -> Result<Config> {
    let options = KubeConfigOptions {
        context: global.context.clone(),
        cluster: global.identity.cluster.clone(),
        user: global.identity.user.clone(),
    };
    if let Some(path) = &global.kubeconfig {
        let mut kubeconfig = Kubeconfig::read_from(path).map_err(|e| {
            anyhow!(
                "could not read the kubeconfig {}: {}",
                path.display(),
                redacted(&e)
            )
        })?;
        global.identity.apply(&mut kubeconfig, &options)?;
        return Config::from_custom_kubeconfig(kubeconfig, &options)
            .await
            .map_err(|e| {
                anyhow!(
                    "the kubeconfig {} is unusable: {}",
                    path.display(),
                    redacted(&e)
                )
            });
    }
    if global.context.is_some() || global.identity.any() {
        // As Config::from_kubeconfig reads it ($KUBECONFIG, else ~/.kube/config), with the
        // connection flags applied over it.
        let mut kubeconfig = Kubeconfig::read()
            .or_else(|e| global.identity.standalone().ok_or(e))
            .map_err(|e| anyhow!("could not load the kubeconfig: {}", redacted(&e)))?;
        global.identity.apply(&mut kubeconfig, &options)?;
        return Config::from_custom_kubeconfig(kubeconfig, &options)
            .await
            .map_err(|e| anyhow!("could not load the kubeconfig: {}", redacted(&e)));
    }
    Config::infer().await.map_err(|e| {
        hinted(
            format_args!("could not find a cluster to talk to: {}", redacted(&e)),
            Hint::SetKubeconfig,
        )
    })
}

/// A kubeconfig error without the file's content: parsers quote the offending lines (tokens and
/// keys included) and values they could not decode, and CI logs keep stderr. Like kubectl, say
/// only where the file is broken; an error that quotes nothing is kept whole, on one line.
fn redacted(err: &dyn std::error::Error) -> String {
    let text = error_chain(err);
    let first_line = text.lines().next().unwrap_or_default();
    let quotes = text.contains('\n') || text.contains('"') || text.contains('`');
    if !quotes {
        return first_line.to_owned();
    }
    match position(&text) {
        Some((line, column)) => format!("it is not valid YAML at line {line}, column {column}"),
        None => "it is not a valid kubeconfig (the details would show its content)".to_owned(),
    }
}

/// The first `line L column C` a parser error names.
fn position(text: &str) -> Option<(u64, u64)> {
    let number = |s: &str| -> Option<u64> {
        let digits: String = s.chars().take_while(char::is_ascii_digit).collect();
        digits.parse().ok()
    };
    let rest = &text[text.find("line ")? + 5..];
    let line = number(rest)?;
    let column = rest
        .find("column ")
        .and_then(|i| number(&rest[i + 7..]))
        .unwrap_or(0);
    Some((line, column))
}

/// Names an API call for error messages: the verb and resource RBAC would name, and the object
/// when the call is about one.
#[derive(Debug, Clone, Copy)]
pub struct Call<'a> {
    pub verb: &'a str,
    pub resource: &'a str,
    pub namespace: &'a str,
    /// The object, for a GET or a write; `None` for a LIST or a WATCH of many.
    pub name: Option<&'a str>,
}

impl<'a> Call<'a> {
    /// A PATCH of one object in `cluster`'s namespace.
    pub fn patch(cluster: &'a Cluster, resource: &'a str, name: &'a str) -> Self {
        Self::on("patch", cluster, resource, name)
    }

    /// A call of `verb` (`get`, `create`, `update`...) on one object in `cluster`'s namespace.
    pub fn on(verb: &'a str, cluster: &'a Cluster, resource: &'a str, name: &'a str) -> Self {
        Call {
            verb,
            resource,
            namespace: &cluster.namespace,
            name: Some(name),
        }
    }
}

impl Cluster {
    /// The same connection, working in `namespace`.
    pub fn in_namespace(&self, namespace: &str) -> Cluster {
        Cluster {
            namespace: namespace.to_owned(),
            ..self.clone()
        }
    }

    /// An API of namespaced objects in the namespace the command works in.
    pub fn api<K>(&self) -> Api<K>
    where
        K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>,
    {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    /// Turns a failed API call into a message that names the object and the next step.
    pub fn explain(&self, call: Call<'_>, err: kube::Error) -> anyhow::Error {
        let Call {
            verb,
            resource,
            namespace,
            name,
        } = call;
        let kind = resource.split('.').next().unwrap_or(resource);
        let singular = kind.strip_suffix('s').unwrap_or(kind);
        let status = match err {
            kube::Error::Api(status) => status,
            other => {
                let message = format!(
                    "cannot reach the Kubernetes API at {}: {}",
                    self.server,
                    error_chain(&other)
                );
                return hinted(message, Hint::CheckCluster);
            }
        };
        if status.is_not_found() {
            let Some(name) = name else {
                return anyhow!("the cluster does not serve {resource}: {}", status.message);
            };
            let message = format!("{singular} {name:?} not found in namespace {namespace:?}");
            let hint = Hint::ListObjects {
                kind: kind.to_owned(),
                namespace: namespace.to_owned(),
            };
            return hinted(message, hint);
        }
        if status.is_forbidden() {
            // The verb the server checked: a server-side apply of an absent object is a create.
            let verb = refused_verb(&status.message).unwrap_or(verb);
            let message = format!(
                "forbidden: RBAC does not allow {verb} on {resource} in namespace {namespace:?}; \
                 the server said: {}",
                status.message
            );
            let hint = Hint::AskForRole {
                verb: verb.to_owned(),
                resource: resource.to_owned(),
            };
            return hinted(message, hint);
        }
        if status.reason == reason::UNAUTHORIZED {
            let message = format!(
                "the cluster at {} does not accept these credentials: {}",
                self.server, status.message
            );
            return hinted(message, Hint::RefreshCredentials);
        }
        let object = name.map_or(String::new(), |n| format!(" {n:?}"));
        anyhow!(
            "could not {verb} {resource}{object} in namespace {namespace:?}: {} ({})",
            status.message,
            status.code
        )
    }
}

/// The verb an RBAC refusal names: `... cannot create resource "deployments" ...`.
fn refused_verb(message: &str) -> Option<&str> {
    let (_, rest) = message.split_once(" cannot ")?;
    let (verb, _) = rest.split_once(" resource ")?;
    (!verb.is_empty() && verb.bytes().all(|b| b.is_ascii_lowercase())).then_some(verb)
}

/// An error and its sources, joined, since connection errors hide the cause deep down.
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text = format!("{text}: {cause_text}");
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_names_the_verb_the_server_checked() {
        let message = "deployments.apps \"web\" is forbidden: User \"system:serviceaccount:a:b\" \
                       cannot create resource \"deployments\" in API group \"apps\" in the namespace \"a\"";
        assert_eq!(refused_verb(message), Some("create"));
        assert_eq!(refused_verb("forbidden"), None);
    }

    #[test]
    fn kubeconfig_errors_never_quote_the_file() {
        let parse = std::io::Error::other(
            "failed to parse kubeconfig YAML: error: line 11 column 9: illegal placement\n  --> \
             <input>:11:9\n 9 |     client-key-data: SECRETKEYDATA\n",
        );
        assert_eq!(
            redacted(&parse),
            "it is not valid YAML at line 11, column 9"
        );
        let value = std::io::Error::other("invalid type: string \"SECRET-TOKEN\", expected a map");
        let text = redacted(&value);
        assert!(!text.contains("SECRET"), "{text}");
        let plain = std::io::Error::other("failed to read /x: No such file or directory");
        assert_eq!(
            redacted(&plain),
            "failed to read /x: No such file or directory"
        );
    }
}

/// Logs one line per API request to stderr: method, URL, status and time, as `kubectl -v=6`.
#[derive(Debug, Clone)]
struct LogLayer {
    base: String,
}

impl<S> Layer<S> for LogLayer {
    type Service = LogService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        LogService {
            inner,
            base: self.base.clone(),
        }
    }
}

#[derive(Debug, Clone)]
struct LogService<S> {
    inner: S,
    base: String,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, B> Service<Request<Body>> for LogService<S>
where
    S: Service<Request<Body>, Response = Response<B>>,
    S::Future: Send + 'static,
    S::Error: std::fmt::Display,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<Result<S::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let method = request.method().clone();
        let url = format!("{}{}", self.base, request.uri());
        let started = Instant::now();
        let response = self.inner.call(request);
        Box::pin(async move {
            let response = response.await;
            let millis = started.elapsed().as_millis();
            let status = match &response {
                Ok(r) => r.status().to_string(),
                Err(e) => format!("error ({e})"),
            };
            let _ = writeln!(
                std::io::stderr(),
                "{method} {url} {status} in {millis} milliseconds"
            );
            response
        })
    }
}
