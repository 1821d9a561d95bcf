//! A real, throwaway control plane on loopback: etcd, kube-apiserver with RBAC,
//! kube-controller-manager, and the kubelet stand-in, in `target/cluster/`.

use std::fs;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use k8s_openapi::api::core::v1::{Namespace, Node, ServiceAccount};
use kube::Api;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

use crate::controlplane::{self, Binaries, Pinned};
use crate::process::Tracked;
use crate::standin;

/// Start-up attempts; a port taken between choosing it and binding it costs one.
const ATTEMPTS: usize = 3;

/// A control plane that answers, and whether this call started it.
#[derive(Debug)]
pub struct Running {
    pub kubeconfig: PathBuf,
    pub bin: Binaries,
    pub started_here: bool,
}

/// The files of the local control plane.
struct Layout {
    dir: PathBuf,
}

impl Layout {
    fn new(root: &Path) -> Self {
        Layout {
            dir: root.join("target/cluster"),
        }
    }
    fn kubeconfig(&self) -> PathBuf {
        self.dir.join("kubeconfig")
    }
    fn pki(&self, file: &str) -> PathBuf {
        self.dir.join("pki").join(file)
    }
    /// The release the control plane was started from: `kubectl` links to its binaries in
    /// `target/controlplane/<version>/bin`.
    fn version(&self) -> Option<String> {
        let kubectl = fs::read_link(self.dir.join("kubectl")).ok()?;
        let version = kubectl.parent()?.parent()?.file_name()?;
        Some(version.to_string_lossy().into_owned())
    }
    fn etcd_data(&self) -> PathBuf {
        self.dir.join("etcd-data")
    }
    /// The components in start order.
    fn components(&self) -> [Tracked; 4] {
        [
            "etcd",
            "kube-apiserver",
            "kube-controller-manager",
            "kubelet-standin",
        ]
        .map(|name| Tracked::new(&self.dir, name))
    }
}

/// Starts the control plane of `pinned`, or reuses the one that runs when it is that release,
/// and waits until it is usable.
pub fn up(root: &Path, pinned: &Pinned) -> Result<Running> {
    let layout = Layout::new(root);
    let components = layout.components();
    let alive = components
        .iter()
        .filter(|c| c.running_pid().is_some())
        .count();
    if alive == components.len() {
        let kubeconfig = layout.kubeconfig();
        let rt = runtime()?;
        rt.block_on(wait_usable(&kubeconfig, &mut []))
            .map_err(StartError::into_error)?;
        let running = rt.block_on(server_version(&kubeconfig))?;
        if running != pinned.version {
            bail!(
                "the local control plane in {} runs Kubernetes {running}, not {}\nhint: stop it \
                 with `cargo xtask cluster down` first",
                layout.dir.display(),
                pinned.version
            );
        }
        eprintln!(
            "reusing the local control plane in {}",
            layout.dir.display()
        );
        return Ok(Running {
            kubeconfig,
            bin: controlplane::ensure_built(root, pinned)?,
            started_here: false,
        });
    }
    let bin = controlplane::ensure_built(root, pinned)?;
    if alive > 0 {
        eprintln!("stopping a partly running control plane before starting afresh");
        stop_all(&components)?;
    }

    let started = Instant::now();
    for attempt in 1..=ATTEMPTS {
        match start(&layout, &bin) {
            Ok(()) => {
                eprintln!(
                    "local control plane {} up in {:.1?}; logs in {}",
                    bin.version,
                    started.elapsed(),
                    layout.dir.display()
                );
                return Ok(Running {
                    kubeconfig: layout.kubeconfig(),
                    bin,
                    started_here: true,
                });
            }
            Err(StartError::PortTaken(component)) if attempt < ATTEMPTS => {
                eprintln!("{component} lost its port to another process; trying other ports");
            }
            Err(StartError::PortTaken(component)) => {
                bail!("{component} could not get a free port in {ATTEMPTS} attempts")
            }
            Err(StartError::Other(err)) => return Err(err),
        }
    }
    unreachable!("the last attempt returns")
}

/// The `gitVersion` the API server reports, e.g. `v1.36.3`.
async fn server_version(kubeconfig: &Path) -> Result<String> {
    let client = standin::client(kubeconfig).await?;
    let info = client
        .apiserver_version()
        .await
        .context("could not read /version from the local control plane")?;
    Ok(info.git_version)
}

/// Stops what `up` started. Nothing running is not an error.
pub fn down(root: &Path) -> Result<()> {
    let layout = Layout::new(root);
    if stop_all(&layout.components())? == 0 {
        eprintln!("no local control plane is running");
    } else {
        eprintln!("stopped the local control plane");
    }
    remove_if_exists(&layout.etcd_data())
}

/// Prints which components run.
pub fn status(root: &Path) -> Result<()> {
    let layout = Layout::new(root);
    let components = layout.components();
    let mut alive = 0;
    for component in &components {
        match component.running_pid() {
            Some(pid) => {
                alive += 1;
                println!(
                    "{:<24} running (pid {pid}), log {}",
                    component.name,
                    component.log.display()
                );
            }
            None => println!("{:<24} not running", component.name),
        }
    }
    if alive == components.len() {
        if let Some(version) = layout.version() {
            println!("{:<24} {version}", "kubernetes");
        }
        println!("export KUBECONFIG={}", layout.kubeconfig().display());
    } else if alive == 0 {
        println!("no local control plane is running; start one with `cargo xtask cluster up`");
    } else {
        println!("the control plane is partly running; `cargo xtask cluster up` restarts it");
    }
    Ok(())
}

/// Stops components in reverse start order; returns how many were running.
fn stop_all(components: &[Tracked]) -> Result<usize> {
    let mut stopped = 0;
    for component in components.iter().rev() {
        if component.stop()? {
            stopped += 1;
        }
    }
    Ok(stopped)
}

enum StartError {
    /// A component could not bind the port chosen for it.
    PortTaken(&'static str),
    Other(anyhow::Error),
}

impl StartError {
    fn into_error(self) -> anyhow::Error {
        match self {
            StartError::PortTaken(component) => {
                anyhow::anyhow!("{component} could not bind its port")
            }
            StartError::Other(err) => err,
        }
    }
}

impl<E: Into<anyhow::Error>> From<E> for StartError {
    fn from(err: E) -> Self {
        StartError::Other(err.into())
    }
}

/// One start-up attempt on fresh ports. On failure everything it started is stopped again.
fn start(layout: &Layout, bin: &Binaries) -> Result<(), StartError> {
    remove_if_exists(&layout.dir)?;
    fs::create_dir_all(layout.dir.join("pki"))?;
    fs::create_dir_all(layout.etcd_data())?;
    fs::set_permissions(layout.etcd_data(), fs::Permissions::from_mode(0o700))?;
    write_pki(layout)?;
    // Tests and the demo find the kubectl of the same release here.
    std::os::unix::fs::symlink(bin.path("kubectl"), layout.dir.join("kubectl"))?;

    let [etcd_port, etcd_peer_port, apiserver_port, kcm_port] = free_ports()?;
    write_kubeconfig(layout, apiserver_port)?;
    let [etcd, apiserver, kcm, standin] = layout.components();
    let mut children: Vec<(Tracked, Child)> = Vec::new();
    let result = (|| -> Result<(), StartError> {
        let etcd_url = format!("http://127.0.0.1:{etcd_port}");
        let peer_url = format!("http://127.0.0.1:{etcd_peer_port}");
        let child = etcd.spawn(
            Command::new(bin.path("etcd"))
                .arg("--name=gitrollout")
                .arg(format!("--data-dir={}", layout.etcd_data().display()))
                .arg(format!("--listen-client-urls={etcd_url}"))
                .arg(format!("--advertise-client-urls={etcd_url}"))
                .arg(format!("--listen-peer-urls={peer_url}"))
                .arg(format!("--initial-advertise-peer-urls={peer_url}"))
                .arg(format!("--initial-cluster=gitrollout={peer_url}"))
                .arg("--unsafe-no-fsync=true")
                .arg("--log-level=warn"),
        )?;
        children.push((etcd.clone(), child));
        wait_until(&mut children, Duration::from_secs(30), || {
            etcd_healthy(etcd_port)
        })?;

        let pki = |file: &str| layout.pki(file).display().to_string();
        let child = apiserver.spawn(
            Command::new(bin.path("kube-apiserver"))
                .arg(format!("--etcd-servers={etcd_url}"))
                .arg("--bind-address=127.0.0.1")
                .arg(format!("--secure-port={apiserver_port}"))
                .arg(format!("--tls-cert-file={}", pki("apiserver.crt")))
                .arg(format!("--tls-private-key-file={}", pki("apiserver.key")))
                .arg(format!("--client-ca-file={}", pki("ca.crt")))
                .arg("--authorization-mode=RBAC")
                .arg("--service-cluster-ip-range=10.0.0.0/24")
                .arg("--allow-privileged=true")
                .arg("--service-account-issuer=https://kubernetes.default.svc.cluster.local")
                .arg(format!("--service-account-key-file={}", pki("sa.pub")))
                .arg(format!(
                    "--service-account-signing-key-file={}",
                    pki("sa.key")
                ))
                // No kubelet runs, so nothing can serve the `kubernetes` Service's endpoints.
                .arg("--endpoint-reconciler-type=none")
                // ServiceAccount: pods of a brand-new namespace would be refused until its `default`
                // ServiceAccount exists. TaintNodesByCondition: the stand-in's node would stay
                // tainted not-ready, as no node lifecycle controller runs (see below).
                .arg("--disable-admission-plugins=ServiceAccount,TaintNodesByCondition")
                .arg("--profiling=false"),
        )?;
        children.push((apiserver.clone(), child));
        let kubeconfig = layout.kubeconfig();
        let rt = runtime()?;
        rt.block_on(wait_api(&kubeconfig, &mut children))?;

        let child = kcm.spawn(
            Command::new(bin.path("kube-controller-manager"))
                .arg(format!("--kubeconfig={}", kubeconfig.display()))
                .arg(format!(
                    "--authentication-kubeconfig={}",
                    kubeconfig.display()
                ))
                .arg(format!(
                    "--authorization-kubeconfig={}",
                    kubeconfig.display()
                ))
                .arg("--bind-address=127.0.0.1")
                .arg(format!("--secure-port={kcm_port}"))
                .arg("--leader-elect=false")
                .arg(format!("--root-ca-file={}", pki("ca.crt")))
                .arg(format!(
                    "--service-account-private-key-file={}",
                    pki("sa.key")
                ))
                // Without a kubelet's heartbeats it would taint the stand-in's node unreachable.
                .arg("--controllers=*,-node-lifecycle-controller")
                .arg("--profiling=false"),
        )?;
        children.push((kcm.clone(), child));

        let exe = std::env::current_exe()?;
        let child = standin.spawn(
            Command::new(exe)
                .arg("kubelet-standin")
                .arg("--kubeconfig")
                .arg(&kubeconfig),
        )?;
        children.push((standin.clone(), child));
        rt.block_on(wait_usable(&kubeconfig, &mut children))?;
        Ok(())
    })();

    if result.is_err() {
        for (component, _) in children.iter().rev() {
            let _ = component.stop();
        }
    }
    result
}

/// Polls `ready` until it holds, failing as soon as one of the started components exits.
fn wait_until(
    children: &mut [(Tracked, Child)],
    timeout: Duration,
    mut ready: impl FnMut() -> bool,
) -> Result<(), StartError> {
    let deadline = Instant::now() + timeout;
    loop {
        check_alive(children)?;
        if ready() {
            return Ok(());
        }
        if Instant::now() > deadline {
            let (component, _) = children.last().context("nothing was started")?;
            return Err(StartError::Other(anyhow::anyhow!(
                "{} did not become ready within {timeout:?}; the end of {}:\n{}",
                component.name,
                component.log.display(),
                component.log_tail(20)
            )));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Fails when one of the components this attempt started has exited, with the end of its log.
fn check_alive(children: &mut [(Tracked, Child)]) -> Result<(), StartError> {
    for (component, child) in children.iter_mut() {
        if let Some(status) = child.try_wait()? {
            let tail = component.log_tail(20);
            if tail.contains("address already in use") {
                return Err(StartError::PortTaken(component.name));
            }
            return Err(StartError::Other(anyhow::anyhow!(
                "{} exited during start-up ({status}); the end of {}:\n{tail}",
                component.name,
                component.log.display()
            )));
        }
    }
    Ok(())
}

/// Waits until the API server serves requests: the `default` namespace exists.
async fn wait_api(kubeconfig: &Path, children: &mut [(Tracked, Child)]) -> Result<(), StartError> {
    let client = standin::client(kubeconfig).await?;
    let namespaces: Api<Namespace> = Api::all(client);
    poll(children, Duration::from_secs(120), || async {
        namespaces.get_opt("default").await.ok().flatten().is_some()
    })
    .await
}

/// Waits until the cluster is really usable: the API answers, the controllers act (the
/// ServiceAccount controller has made `default/default`) and the stand-in's node is Ready.
async fn wait_usable(
    kubeconfig: &Path,
    children: &mut [(Tracked, Child)],
) -> Result<(), StartError> {
    wait_api(kubeconfig, children).await?;
    let client = standin::client(kubeconfig).await?;
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), "default");
    poll(children, Duration::from_secs(60), || async {
        accounts.get_opt("default").await.ok().flatten().is_some()
    })
    .await?;
    let nodes: Api<Node> = Api::all(client);
    poll(children, Duration::from_secs(60), || async {
        let node = nodes.get_opt(standin::NODE).await.ok().flatten();
        node.as_ref().is_some_and(standin::node_ready)
    })
    .await
}

async fn poll<F, Fut>(
    children: &mut [(Tracked, Child)],
    timeout: Duration,
    mut ready: F,
) -> Result<(), StartError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    loop {
        check_alive(children)?;
        if ready().await {
            return Ok(());
        }
        if Instant::now() > deadline {
            let waiting_for = children.last().map_or("the control plane", |(c, _)| c.name);
            return Err(StartError::Other(anyhow::anyhow!(
                "the control plane did not become usable within {timeout:?} (waiting on \
                 {waiting_for}); see the logs in target/cluster/"
            )));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn etcd_healthy(port: u16) -> bool {
    let probe = || -> std::io::Result<String> {
        let mut stream = TcpStream::connect(("127.0.0.1", port))?;
        stream.set_read_timeout(Some(Duration::from_secs(2)))?;
        stream.write_all(b"GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")?;
        let mut response = String::new();
        stream.read_to_string(&mut response)?;
        Ok(response)
    };
    probe().is_ok_and(|r| r.contains(r#""health":"true""#))
}

/// Four distinct free loopback ports. Another process may still take one before the component
/// binds it; start-up then fails with "address already in use" and is retried.
fn free_ports() -> Result<[u16; 4]> {
    let listeners: Vec<TcpListener> = (0..4)
        .map(|_| TcpListener::bind("127.0.0.1:0"))
        .collect::<std::io::Result<_>>()?;
    let ports: Vec<u16> = listeners
        .iter()
        .map(|l| l.local_addr().map(|a| a.port()))
        .collect::<std::io::Result<_>>()?;
    Ok([ports[0], ports[1], ports[2], ports[3]])
}

/// A cluster CA, the API server's serving certificate, an admin client certificate in
/// `system:masters`, and the service-account signing key.
fn write_pki(layout: &Layout) -> Result<()> {
    let ca_key = KeyPair::generate()?;
    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.distinguished_name
        .push(DnType::CommonName, "gitrollout-local-ca");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca.self_signed(&ca_key)?;
    fs::write(layout.pki("ca.crt"), ca_cert.pem())?;
    let issuer = Issuer::new(ca, ca_key);

    let leaf = |names: Vec<String>, cn: &str, org: Option<&str>, usage| -> Result<()> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(names)?;
        params.distinguished_name.push(DnType::CommonName, cn);
        if let Some(org) = org {
            params
                .distinguished_name
                .push(DnType::OrganizationName, org);
        }
        params.extended_key_usages = vec![usage];
        let cert = params.signed_by(&key, &issuer)?;
        let file = if org.is_some() { "admin" } else { "apiserver" };
        fs::write(layout.pki(&format!("{file}.crt")), cert.pem())?;
        fs::write(layout.pki(&format!("{file}.key")), key.serialize_pem())?;
        Ok(())
    };
    let server_names = ["localhost", "127.0.0.1", "kubernetes", "kubernetes.default"];
    leaf(
        server_names.map(String::from).to_vec(),
        "kube-apiserver",
        None,
        ExtendedKeyUsagePurpose::ServerAuth,
    )?;
    leaf(
        Vec::new(),
        "gitrollout-admin",
        Some("system:masters"),
        ExtendedKeyUsagePurpose::ClientAuth,
    )?;
    let service_accounts = KeyPair::generate()?;
    fs::write(layout.pki("sa.key"), service_accounts.serialize_pem())?;
    fs::write(layout.pki("sa.pub"), service_accounts.public_key_pem())?;
    Ok(())
}

/// An admin kubeconfig (JSON is valid kubeconfig YAML) that points at the certificate files.
fn write_kubeconfig(layout: &Layout, port: u16) -> Result<()> {
    let pki = |file: &str| layout.pki(file).display().to_string();
    let config = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "gitrollout-local", "cluster": {
            "server": format!("https://127.0.0.1:{port}"),
            "certificate-authority": pki("ca.crt"),
        }}],
        "users": [{"name": "gitrollout-admin", "user": {
            "client-certificate": pki("admin.crt"),
            "client-key": pki("admin.key"),
        }}],
        "contexts": [{"name": "gitrollout-local", "context": {
            "cluster": "gitrollout-local",
            "user": "gitrollout-admin",
            "namespace": "default",
        }}],
        "current-context": "gitrollout-local",
    });
    fs::write(
        layout.kubeconfig(),
        serde_json::to_string_pretty(&config)? + "\n",
    )?;
    Ok(())
}

fn remove_if_exists(path: &Path) -> Result<()> {
    match fs::remove_dir_all(path) {
        Err(err) if err.kind() != std::io::ErrorKind::NotFound => {
            Err(err).with_context(|| format!("could not remove {}", path.display()))
        }
        _ => Ok(()),
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

/// Runs `f` with the local control plane up, and stops it afterwards (even when `f` fails) if this
/// call is the one that started it and `keep` is false.
pub fn with_cluster<T>(
    root: &Path,
    pinned: &Pinned,
    keep: bool,
    f: impl FnOnce(&Running) -> Result<T>,
) -> Result<T> {
    let running = up(root, pinned)?;
    let result = f(&running);
    if running.started_here
        && !keep
        && let Err(err) = down(root)
    {
        eprintln!("warning: could not stop the local control plane: {err:#}");
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A component that dies at once, writing `log` first.
    fn dying(dir: &Path, log: &str) -> (Tracked, Child) {
        let component = Tracked::new(dir, "kube-apiserver");
        let child = component
            .spawn(Command::new("sh").args(["-c", &format!("echo '{log}'; exit 3")]))
            .unwrap();
        (component, child)
    }

    fn wait_exit(children: &mut [(Tracked, Child)]) {
        for (_, child) in children.iter_mut() {
            child.wait().unwrap();
        }
    }

    #[test]
    fn a_component_that_dies_shows_the_end_of_its_log() {
        let dir = tempfile::tempdir().unwrap();
        let mut children = [dying(
            dir.path(),
            "E1126 run.go:72] command failed err=bad flag",
        )];
        wait_exit(&mut children);
        let Err(StartError::Other(err)) = check_alive(&mut children) else {
            panic!("a dead component must fail the start");
        };
        let message = err.to_string();
        assert!(
            message.starts_with("kube-apiserver exited during start-up (exit status: 3)"),
            "{message}"
        );
        assert!(
            message.ends_with("command failed err=bad flag"),
            "{message}"
        );
    }

    #[test]
    fn a_lost_port_is_retried_on_other_ports() {
        let dir = tempfile::tempdir().unwrap();
        let log = "listen tcp 127.0.0.1:6443: bind: address already in use";
        let mut children = [dying(dir.path(), log)];
        wait_exit(&mut children);
        assert!(matches!(
            check_alive(&mut children),
            Err(StartError::PortTaken("kube-apiserver"))
        ));
    }

    #[test]
    fn free_ports_are_distinct_and_bindable() {
        let ports = free_ports().unwrap();
        let mut unique = ports.to_vec();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), 4);
        for port in ports {
            drop(TcpListener::bind(("127.0.0.1", port)).unwrap());
        }
    }

    #[test]
    fn down_with_nothing_running_is_not_an_error() {
        let root = tempfile::tempdir().unwrap();
        down(root.path()).unwrap();
        assert!(!root.path().join("target/cluster/etcd-data").exists());
    }
}
