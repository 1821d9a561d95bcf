//! kubectl's connection and identity flags (`--cluster`, `--user`, `-s/--server`, `--token`,
//! `--as`, `--as-group`, `--as-uid`, `--certificate-authority`, `--client-certificate`,
//! `--client-key`, `--insecure-skip-tls-verify`, `--tls-server-name`), applied as kubectl applies
//! them: over the kubeconfig entries the context names, before kube reads them, so files are
//! read and impersonation headers sent by kube itself.

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use clap::Args;
use kube::config::{AuthInfo, Cluster, KubeConfigOptions, Kubeconfig};
use secrecy::SecretString;

use crate::hints::{Hint, hinted};

/// The flags, spelled as kubectl spells them.
#[derive(Debug, Default, Args)]
#[command(next_help_heading = "Global options")]
pub struct IdentityArgs {
    /// The name of the kubeconfig cluster to use
    #[arg(long, global = true, value_name = "NAME")]
    pub cluster: Option<String>,
    /// The name of the kubeconfig user to use
    #[arg(long, global = true, value_name = "NAME")]
    pub user: Option<String>,
    /// The address and port of the Kubernetes API server
    #[arg(short = 's', long, global = true, value_name = "URL")]
    pub server: Option<String>,
    /// Bearer token for authentication to the API server
    #[arg(long, global = true, value_name = "TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Username to impersonate for the operation (a user or a service account)
    #[arg(long = "as", global = true, value_name = "USER")]
    pub as_user: Option<String>,
    /// Group to impersonate for the operation; repeat for several
    #[arg(long = "as-group", global = true, value_name = "GROUP")]
    pub as_group: Vec<String>,
    /// UID to impersonate for the operation
    #[arg(long = "as-uid", global = true, value_name = "UID")]
    pub as_uid: Option<String>,
    /// Path to a cert file for the certificate authority
    #[arg(long, global = true, value_name = "PATH")]
    pub certificate_authority: Option<PathBuf>,
    /// Path to a client certificate file for TLS
    #[arg(long, global = true, value_name = "PATH")]
    pub client_certificate: Option<PathBuf>,
    /// Path to a client key file for TLS
    #[arg(long, global = true, value_name = "PATH")]
    pub client_key: Option<PathBuf>,
    /// Do not check the server's certificate (insecure: for tests only)
    #[arg(long, global = true)]
    pub insecure_skip_tls_verify: bool,
    /// Server name to use for server certificate validation
    #[arg(long, global = true, value_name = "NAME")]
    pub tls_server_name: Option<String>,
}

impl IdentityArgs {
    /// Whether any flag changes what the kubeconfig says.
    pub fn any(&self) -> bool {
        self.cluster.is_some() || self.user.is_some() || self.overrides_entries()
    }

    fn overrides_entries(&self) -> bool {
        self.server.is_some()
            || self.token.is_some()
            || self.as_user.is_some()
            || !self.as_group.is_empty()
            || self.as_uid.is_some()
            || self.certificate_authority.is_some()
            || self.client_certificate.is_some()
            || self.client_key.is_some()
            || self.insecure_skip_tls_verify
            || self.tls_server_name.is_some()
    }

    /// A kubeconfig made of the flags alone, for `-s/--server` without any kubeconfig file (as
    /// kubectl runs in a pod with `--server` and `--token`): one cluster, user and context.
    pub fn standalone(&self) -> Option<Kubeconfig> {
        let server = self.server.as_ref()?;
        let config = serde_json::json!({
            "clusters": [{"name": "flags", "cluster": {"server": server}}],
            "users": [{"name": "flags", "user": {}}],
            "contexts": [{"name": "flags", "context": {"cluster": "flags", "user": "flags"}}],
            "current-context": "flags",
        });
        serde_json::from_value(config).ok()
    }

    /// Applies the flags to the cluster and user entries that `options` (or the current context)
    /// names, as kubectl's overrides do.
    pub fn apply(&self, kubeconfig: &mut Kubeconfig, options: &KubeConfigOptions) -> Result<()> {
        if self.as_user.is_none() && (!self.as_group.is_empty() || self.as_uid.is_some()) {
            bail!(crate::UsageError::new(
                "--as-group and --as-uid need --as USER, as for kubectl"
            ));
        }
        if !self.overrides_entries() {
            return Ok(());
        }
        let context_name = options
            .context
            .clone()
            .or_else(|| kubeconfig.current_context.clone());
        let context = kubeconfig
            .contexts
            .iter()
            .find(|c| Some(&c.name) == context_name.as_ref())
            .and_then(|c| c.context.clone());
        let cluster_name = options
            .cluster
            .clone()
            .or_else(|| context.as_ref().map(|c| c.cluster.clone()));
        let user_name = options
            .user
            .clone()
            .or_else(|| context.as_ref().and_then(|c| c.user.clone()));
        let (Some(cluster_name), Some(user_name)) = (cluster_name, user_name) else {
            return Err(hinted(
                "the kubeconfig names no context to apply the connection flags to",
                Hint::PassContext,
            ));
        };
        if let Some(named) = kubeconfig
            .clusters
            .iter_mut()
            .find(|c| c.name == cluster_name)
        {
            self.apply_cluster(named.cluster.get_or_insert_with(Cluster::default));
        }
        if let Some(named) = kubeconfig
            .auth_infos
            .iter_mut()
            .find(|u| u.name == user_name)
        {
            self.apply_user(named.auth_info.get_or_insert_with(AuthInfo::default));
        }
        Ok(())
    }

    fn apply_cluster(&self, cluster: &mut Cluster) {
        if let Some(server) = &self.server {
            cluster.server = Some(server.clone());
        }
        if let Some(ca) = &self.certificate_authority {
            cluster.certificate_authority = Some(path(ca));
            cluster.certificate_authority_data = None;
        }
        if self.insecure_skip_tls_verify {
            cluster.insecure_skip_tls_verify = Some(true);
            cluster.certificate_authority = None;
            cluster.certificate_authority_data = None;
        }
        if let Some(name) = &self.tls_server_name {
            cluster.tls_server_name = Some(name.clone());
        }
    }

    fn apply_user(&self, user: &mut AuthInfo) {
        if let Some(token) = &self.token {
            // A token given on the command line is the credential, as for kubectl.
            user.token = Some(SecretString::from(token.clone()));
            user.token_file = None;
            user.exec = None;
            user.auth_provider = None;
            user.username = None;
            user.password = None;
        }
        if let Some(cert) = &self.client_certificate {
            user.client_certificate = Some(path(cert));
            user.client_certificate_data = None;
        }
        if let Some(key) = &self.client_key {
            user.client_key = Some(path(key));
            user.client_key_data = None;
        }
        if let Some(name) = &self.as_user {
            user.impersonate = Some(name.clone());
            user.impersonate_groups = (!self.as_group.is_empty()).then(|| self.as_group.clone());
            user.impersonate_uid = self.as_uid.clone();
        }
    }
}

/// A path as the kubeconfig holds it: relative paths are relative to the current directory,
/// as for kubectl's flags.
fn path(p: &Path) -> String {
    std::path::absolute(p)
        .unwrap_or_else(|_| p.to_path_buf())
        .display()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kubeconfig() -> Kubeconfig {
        serde_json::from_value(serde_json::json!({
            "clusters": [{"name": "c", "cluster": {"server": "https://a:6443", "certificate-authority-data": "eA=="}}],
            "users": [{"name": "u", "user": {"token": "old", "client-certificate-data": "eA=="}}],
            "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
            "current-context": "x",
        }))
        .unwrap_or_default()
    }

    #[test]
    fn flags_override_the_context_s_entries() {
        let flags = IdentityArgs {
            server: Some("https://b:6443".into()),
            token: Some("new".into()),
            as_user: Some("system:serviceaccount:ns:sa".into()),
            as_group: vec!["g1".into(), "g2".into()],
            insecure_skip_tls_verify: true,
            ..IdentityArgs::default()
        };
        let mut config = kubeconfig();
        flags
            .apply(&mut config, &KubeConfigOptions::default())
            .map_err(|e| e.to_string())
            .expect("applies");
        let cluster = config.clusters[0].cluster.clone().unwrap_or_default();
        assert_eq!(cluster.server.as_deref(), Some("https://b:6443"));
        assert_eq!(cluster.insecure_skip_tls_verify, Some(true));
        assert_eq!(cluster.certificate_authority_data, None);
        let user = config.auth_infos[0].auth_info.clone().unwrap_or_default();
        use secrecy::ExposeSecret;
        assert_eq!(user.token.as_ref().map(|t| t.expose_secret()), Some("new"));
        assert_eq!(
            user.impersonate.as_deref(),
            Some("system:serviceaccount:ns:sa")
        );
        assert_eq!(
            user.impersonate_groups,
            Some(vec!["g1".into(), "g2".into()])
        );
    }

    #[test]
    fn a_server_flag_needs_no_kubeconfig() {
        assert!(IdentityArgs::default().standalone().is_none());
        let flags = IdentityArgs {
            server: Some("https://b:6443".into()),
            token: Some("t".into()),
            ..IdentityArgs::default()
        };
        let mut config = flags.standalone().expect("a kubeconfig");
        flags
            .apply(&mut config, &KubeConfigOptions::default())
            .map_err(|e| e.to_string())
            .expect("applies");
        let cluster = config.clusters[0].cluster.clone().unwrap_or_default();
        assert_eq!(cluster.server.as_deref(), Some("https://b:6443"));
        let user = config.auth_infos[0].auth_info.clone().unwrap_or_default();
        assert!(user.token.is_some());
    }

    #[test]
    fn impersonating_groups_needs_a_user() {
        let flags = IdentityArgs {
            as_group: vec!["g".into()],
            ..IdentityArgs::default()
        };
        let err = flags
            .apply(&mut kubeconfig(), &KubeConfigOptions::default())
            .expect_err("refused");
        assert!(err.is::<crate::UsageError>(), "{err}");
    }
}
