//! Answers no real registry gives, from a scripted server: wrong media types and digests,
//! oversized or truncated blobs, cross-host redirects, tokens revoked mid-pull, rate limits.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use common::*;
use serde_json::json;
use wharf_core::NoProgress;
use wharf_oci_format::{Digest, Reference};
use wharf_registry::{pull, Credentials, ErrorKind};
use wharf_tests::registry::{Request, Response, ScriptedServer};

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";

/// A one-layer image as bytes.
#[derive(Clone)]
struct Image {
    config: Vec<u8>,
    layer: Vec<u8>,
    manifest: Vec<u8>,
}

impl Image {
    fn new(layer_type: &str) -> Image {
        let layer = noise(100_000);
        let config = json!({"architecture":"amd64","os":"linux",
            "rootfs":{"type":"layers","diff_ids":[Digest::sha256(&layer).to_string()]}})
        .to_string()
        .into_bytes();
        let manifest = json!({"schemaVersion":2,"mediaType":OCI_MANIFEST,
            "config":{"mediaType":"application/vnd.oci.image.config.v1+json",
                      "digest":Digest::sha256(&config).to_string(),"size":config.len()},
            "layers":[{"mediaType":layer_type,"digest":Digest::sha256(&layer).to_string(),
                       "size":layer.len()}]})
        .to_string()
        .into_bytes();
        Image {
            config,
            layer,
            manifest,
        }
    }

    fn layer_digest(&self) -> String {
        Digest::sha256(&self.layer).to_string()
    }

    /// The normal answer for `req`: manifest for any reference, the two blobs, 404 otherwise.
    fn serve(&self, req: &Request) -> Response {
        let route = req.route();
        if route == "/v2/" {
            return Response::new(200);
        }
        if route.starts_with("/v2/test/img/manifests/") {
            return Response::new(200)
                .header("Content-Type", OCI_MANIFEST)
                .header(
                    "Docker-Content-Digest",
                    Digest::sha256(&self.manifest).to_string(),
                )
                .body(self.manifest.clone());
        }
        for blob in [&self.config, &self.layer] {
            if route == format!("/v2/test/img/blobs/{}", Digest::sha256(blob)) {
                return Response::new(200).body(blob.clone());
            }
        }
        Response::error(404, "BLOB_UNKNOWN", "blob unknown to registry")
    }
}

fn start(
    img: Image,
    tamper: impl Fn(&Image, &Request) -> Option<Response> + Send + Sync + 'static,
) -> ScriptedServer {
    ScriptedServer::start(move |req| tamper(&img, req).unwrap_or_else(|| img.serve(req)))
}

fn pull_from(
    server: &ScriptedServer,
    reference: &str,
) -> wharf_registry::Result<wharf_registry::Pulled> {
    let tmp = tempfile::tempdir().unwrap();
    let r = pull_ref(
        &format!("{}/test/img{reference}", server.host()),
        tmp.path(),
    );
    if r.is_ok() {
        assert_cache_valid(tmp.path());
    } else if let Ok(dir) = std::fs::read_dir(tmp.path().join("blobs/sha256")) {
        // Only complete, valid blobs under their names; partial downloads stay as .tmp-*.
        for e in dir {
            let e = e.unwrap();
            let name = e.file_name().into_string().unwrap();
            if let Some(hex) = name.strip_prefix(".tmp-") {
                let len = e.metadata().unwrap().len();
                assert!(len > 0, "empty {name} left behind");
                assert!(!tmp.path().join("blobs/sha256").join(hex).exists());
            } else {
                let bytes = std::fs::read(e.path()).unwrap();
                assert_eq!(Digest::sha256(&bytes).hex, name);
            }
        }
    }
    r
}

fn one_line(e: &wharf_registry::Error) -> String {
    let s = e.to_string();
    assert!(!s.contains('\n'), "{s:?}");
    s
}

#[test]
fn untampered_image_pulls() {
    let s = start(
        Image::new("application/vnd.oci.image.layer.v1.tar+gzip"),
        |_, _| None,
    );
    let p = pull_from(&s, ":1").unwrap();
    assert_eq!(p.downloaded_blobs, 2);
}

#[test]
fn content_type_must_match_the_body() {
    let s = start(
        Image::new("application/vnd.oci.image.layer.v1.tar"),
        |img, req| {
            req.route().contains("/manifests/").then(|| {
                Response::new(200)
                    .header("Content-Type", DOCKER_MANIFEST)
                    .body(img.manifest.clone())
            })
        },
    );
    let e = pull_from(&s, ":1").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidData);
    let msg = one_line(&e);
    assert!(
        msg.starts_with(&format!("registry {}: manifest test/img:1: ", s.host())),
        "{msg}"
    );
    assert!(msg.contains("disagrees"), "{msg}");
}

#[test]
fn manifest_digests_are_checked() {
    let s = start(
        Image::new("application/vnd.oci.image.layer.v1.tar"),
        |img, req| {
            req.route().contains("/manifests/").then(|| {
                Response::new(200)
                    .header("Content-Type", OCI_MANIFEST)
                    .header(
                        "Docker-Content-Digest",
                        format!("sha256:{}", "1".repeat(64)),
                    )
                    .body(img.manifest.clone())
            })
        },
    );
    let e = pull_from(&s, ":1").unwrap_err();
    assert!(
        one_line(&e).contains("Docker-Content-Digest does not match"),
        "{e}"
    );

    // Pulled by a digest the body does not have.
    let s = start(
        Image::new("application/vnd.oci.image.layer.v1.tar"),
        |_, _| None,
    );
    let e = pull_from(&s, &format!("@sha256:{}", "2".repeat(64))).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidData);
    assert!(
        one_line(&e).contains(&format!("expected sha256:{}", "2".repeat(64))),
        "{e}"
    );
}

#[test]
fn blob_digest_and_size_are_checked() {
    // Same size, one byte changed.
    let s = start(
        Image::new("application/vnd.oci.image.layer.v1.tar"),
        |img, req| {
            req.route().ends_with(&img.layer_digest()).then(|| {
                let mut bad = img.layer.clone();
                bad[500] ^= 1;
                Response::new(200).body(bad)
            })
        },
    );
    let e = pull_from(&s, ":1").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidData);
    let msg = one_line(&e);
    assert!(msg.contains("content has digest sha256:"), "{msg}");

    // Longer than the descriptor.
    let s = start(
        Image::new("application/vnd.oci.image.layer.v1.tar"),
        |img, req| {
            req.route().ends_with(&img.layer_digest()).then(|| {
                let mut more = img.layer.clone();
                more.extend_from_slice(b"extra");
                Response::new(200).body(more)
            })
        },
    );
    let e = pull_from(&s, ":1").unwrap_err();
    assert!(
        one_line(&e).contains("registry announces 100005 bytes, descriptor says 100000"),
        "{e}"
    );

    // Shorter, every time (resumes do not help): bounded retries, then one line.
    let s = start(
        Image::new("application/vnd.oci.image.layer.v1.tar"),
        |img, req| {
            req.route()
                .ends_with(&img.layer_digest())
                .then(|| Response::new(200).body(img.layer[..1000].to_vec()))
        },
    );
    let e = pull_from(&s, ":1").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Network);
    assert!(
        one_line(&e).contains("truncated at 1000 of 100000 bytes"),
        "{e}"
    );
    let layer_gets = s
        .requests()
        .iter()
        .filter(|r| {
            r.route().contains("/blobs/")
                && r.route()
                    .ends_with(&Image::new("application/vnd.oci.image.layer.v1.tar").layer_digest())
        })
        .count();
    assert_eq!(layer_gets, wharf_registry::MAX_ATTEMPTS as usize);
}

#[test]
fn unknown_layer_types_are_refused_not_skipped() {
    let s = start(Image::new("application/vnd.example.weird.v1"), |_, _| None);
    let e = pull_from(&s, ":1").unwrap_err();
    let msg = one_line(&e);
    assert!(
        msg.contains("has unsupported media type application/vnd.example.weird.v1"),
        "{msg}"
    );
    assert!(!s.requests().iter().any(|r| r.route().contains("/blobs/")));
}

#[test]
fn redirect_to_another_host_carries_no_authorization() {
    let img = Image::new("application/vnd.oci.image.layer.v1.tar+gzip");
    let cdn = {
        let img = img.clone();
        ScriptedServer::start(move |req| {
            if req.route() == "/cdn/layer" {
                Response::new(200).body(img.layer.clone())
            } else {
                Response::new(404)
            }
        })
    };
    let cdn_url = cdn.url("/cdn/layer");
    let basic = Credentials::new("u", "p");
    let s = start(img, move |img, req| {
        if req.header("authorization") != Some("Basic dTpw") {
            return Some(
                Response::error(401, "UNAUTHORIZED", "authentication required")
                    .header("WWW-Authenticate", "Basic realm=\"test\""),
            );
        }
        req.route()
            .ends_with(&img.layer_digest())
            .then(|| Response::new(307).header("Location", cdn_url.clone()))
    });
    let r = Reference::parse(&format!("{}/test/img:1", s.host())).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let c = client_with(&r.registry, Some(basic));
    pull(&c, &r, &amd64(), tmp.path(), &NoProgress).unwrap();
    let at_cdn = cdn.requests();
    assert_eq!(at_cdn.len(), 1);
    assert_eq!(
        at_cdn[0].header("authorization"),
        None,
        "credentials leaked to the CDN"
    );
    // The registry itself got them on every request after the ping.
    // (The https attempt of the ping shows up as a garbage request: only /v2/… routes count.)
    assert!(s
        .requests()
        .iter()
        .filter(|r| r.route().starts_with("/v2/") && r.route() != "/v2/")
        .all(|r| r.header("authorization") == Some("Basic dTpw")));
    assert_cache_valid(tmp.path());

    // Without credentials: one line, 401.
    let c = client(&r.registry);
    let e = pull(&c, &r, &amd64(), tmp.path(), &NoProgress).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unauthorized);
    assert!(
        one_line(&e).ends_with("unauthorized: authentication required"),
        "{e}"
    );
}

#[test]
fn redirect_to_plain_http_elsewhere_is_refused() {
    let s = start(
        Image::new("application/vnd.oci.image.layer.v1.tar"),
        |img, req| {
            req.route()
                .ends_with(&img.layer_digest())
                .then(|| Response::new(307).header("Location", "http://cdn.example.invalid/layer"))
        },
    );
    let e = pull_from(&s, ":1").unwrap_err();
    assert!(
        one_line(&e).contains("refusing plain http to cdn.example.invalid"),
        "{e}"
    );
}

#[test]
fn token_revoked_mid_pull_is_renewed() {
    let issued = Arc::new(AtomicUsize::new(0));
    let s = {
        let issued = issued.clone();
        let realm = Arc::new(std::sync::OnceLock::<String>::new());
        let server_realm = realm.clone();
        let s = start(
            Image::new("application/vnd.oci.image.layer.v1.tar"),
            move |_, req| {
                let route = req.route();
                if route == "/token" {
                    let n = issued.fetch_add(1, Ordering::SeqCst) + 1;
                    return Some(
                        Response::new(200)
                            .body(json!({"token": format!("t{n}"), "expires_in": 300}).to_string()),
                    );
                }
                let challenge = format!(
                    "Bearer realm=\"{}\",service=\"fake\",scope=\"repository:test/img:pull\"",
                    server_realm.get().unwrap()
                );
                let auth = req.header("authorization").unwrap_or("");
                // Manifests take any token; blobs refuse the first one (revoked after the manifest).
                let ok = auth.starts_with("Bearer t")
                    && !(route.contains("/blobs/") && auth == "Bearer t1");
                (!ok).then(|| {
                    Response::error(401, "UNAUTHORIZED", "authentication required")
                        .header("WWW-Authenticate", challenge)
                })
            },
        );
        realm.set(s.url("/token")).unwrap();
        s
    };
    let p = pull_from(&s, ":1").unwrap();
    assert_eq!(p.downloaded_blobs, 2);
    assert_eq!(
        issued.load(Ordering::SeqCst),
        2,
        "one renewal shared by the parallel blob GETs"
    );
}

#[test]
fn transient_errors_are_retried_and_bounded() {
    let failures = Arc::new(AtomicUsize::new(0));
    let f = failures.clone();
    let s = start(
        Image::new("application/vnd.oci.image.layer.v1.tar"),
        move |_, req| {
            (req.route().contains("/manifests/") && f.fetch_add(1, Ordering::SeqCst) < 2).then(
                || Response::error(503, "UNAVAILABLE", "try later").header("Retry-After", "0"),
            )
        },
    );
    pull_from(&s, ":1").unwrap();
    assert_eq!(failures.load(Ordering::SeqCst), 3);

    let s = start(
        Image::new("application/vnd.oci.image.layer.v1.tar"),
        |_, req| {
            req.route().contains("/manifests/").then(|| {
                Response::error(429, "TOOMANYREQUESTS", "rate limit exceeded")
                    .header("Retry-After", "0")
            })
        },
    );
    let e = pull_from(&s, ":1").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TooManyRequests);
    assert!(
        one_line(&e).ends_with("manifest test/img:1: toomanyrequests: rate limit exceeded"),
        "{e}"
    );
    let tries = s
        .requests()
        .iter()
        .filter(|r| r.route().contains("/manifests/"))
        .count();
    assert_eq!(tries, wharf_registry::MAX_ATTEMPTS as usize);
}

#[test]
fn docker_schema1_is_refused() {
    let s = start(
        Image::new("application/vnd.oci.image.layer.v1.tar"),
        |_, req| {
            req.route().contains("/manifests/").then(|| {
                Response::new(200)
                    .header(
                        "Content-Type",
                        "application/vnd.docker.distribution.manifest.v1+prettyjws",
                    )
                    .body(r#"{"schemaVersion":1,"name":"test/img","tag":"1","fsLayers":[]}"#)
            })
        },
    );
    let e = pull_from(&s, ":1").unwrap_err();
    assert!(one_line(&e).contains("schema 1"), "{e}");
}
