//! A fake Kubernetes API server with a kubelet stand-in, good enough for an
//! unmodified Spark driver (fabric8 client) and Quarry's kube-rs code to run
//! real executors through it — no cluster can be installed on the machines
//! that run Quarry's tests.
//!
//! * [`store`] — objects (core, RBAC, network policies), resourceVersions,
//!   watch history (410 Gone when compacted), quota admission,
//!   ownerReference cascade.
//! * [`psa`] — Pod Security Admission at the `restricted` level, for
//!   namespaces labelled to enforce it.
//! * [`admission`] — the validating admission chain: Pod Security, then
//!   ValidatingAdmissionPolicies evaluated with a real CEL implementation.
//! * [`selectors`] — label and field selectors.
//! * [`request`] — a request's verb, group, resource, namespace and name,
//!   resolved from its path as the API server does.
//! * [`rbac`] — bearer tokens and RBAC from the stored Role, ClusterRole
//!   and binding objects, with Kubernetes' own Forbidden texts.
//! * [`api`] — the REST paths, TokenRequest, SelfSubjectAccessReview from
//!   the same rules, pod logs, the record of permissions used, test
//!   controls under `/fake/`; [`watch`] — streamed watches.
//! * [`kubelet`] — pods become local processes with podIP 127.0.0.1.
//!
//! It serves HTTPS with a throwaway CA and writes a service-account folder
//! (`token`, `namespace`, `ca.crt`) like the one mounted into real pods.
//!
//! ```text
//! request ─▶ gatekeeper: token → user, path → RequestInfo, RBAC ─▶ handler ─▶ admission ─▶ store (quota)
//!                                          └─ 401 / Kubernetes' 403    kubelet ◀─┘ (watch)
//! ```

pub mod admission;
pub mod api;
pub mod apply;
pub mod kubelet;
pub mod psa;
pub mod rbac;
pub mod request;
pub mod selectors;
pub mod store;
pub mod watch;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::service::TowerToHyperService;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

pub use api::Cluster;

/// A CA certificate (PEM) and a server certificate chain + key signed by it
/// for 127.0.0.1 and localhost.
pub struct Tls {
    pub ca_pem: String,
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
}

impl Tls {
    pub fn generate() -> Result<Tls, rcgen::Error> {
        let ca_key = KeyPair::generate()?;
        let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "quarry fake cluster CA");
        let ca_cert = ca_params.self_signed(&ca_key)?;
        let issuer = Issuer::new(ca_params, ca_key);
        let server_key = KeyPair::generate()?;
        let mut server_params =
            CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])?;
        server_params
            .distinguished_name
            .push(DnType::CommonName, "kubernetes");
        let server_cert = server_params.signed_by(&server_key, &issuer)?;
        Ok(Tls {
            ca_pem: ca_cert.pem(),
            chain: vec![server_cert.der().clone(), ca_cert.der().clone()],
            key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der())),
        })
    }
}

/// Writes the service-account folder a pod would have mounted.
pub fn write_service_account(
    dir: &Path,
    token: &str,
    namespace: &str,
    ca_pem: &str,
) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    std::fs::write(dir.join("token"), token)?;
    std::fs::write(dir.join("namespace"), namespace)?;
    std::fs::write(dir.join("ca.crt"), ca_pem)
}

/// Serves the API over HTTPS on `listener` until the task is dropped.
pub async fn serve(cluster: Arc<Cluster>, tls: Tls, listener: TcpListener) -> std::io::Result<()> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(std::io::Error::other)?
        .with_no_client_auth()
        .with_single_cert(tls.chain, tls.key)
        .map_err(std::io::Error::other)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let app = api::router(cluster);
    loop {
        let (stream, peer): (_, SocketAddr) = listener.accept().await?;
        let acceptor = acceptor.clone();
        let service = TowerToHyperService::new(app.clone());
        tokio::spawn(async move {
            let stream = match acceptor.accept(stream).await {
                Ok(stream) => stream,
                Err(e) => {
                    tracing::debug!("TLS handshake with {peer} failed: {e}");
                    return;
                }
            };
            let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            if let Err(e) = builder
                .serve_connection_with_upgrades(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!("connection from {peer}: {e}");
            }
        });
    }
}
