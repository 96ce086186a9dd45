//! Bearer token authentication against the real registry configured with `auth.token` and a
//! token server of the tests (RS256 JWTs with an x5c header).

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use common::*;
use wharf_core::NoProgress;
use wharf_oci_format::Reference;
use wharf_registry::{pull, push, Credentials, ErrorKind};
use wharf_tests::oci_layout::{push_layout, umoci_image};
use wharf_tests::registry::{Registry, TokenPolicy, TokenServer, TOKEN_SERVICE};

/// A token-auth registry holding `test/img:1` (two layers).
fn setup(tmp: &std::path::Path) -> (TokenServer, Registry, std::path::PathBuf) {
    let tokens = TokenServer::start(TokenPolicy::default());
    let reg = Registry::start_with_token_auth(&tokens);
    let src = tmp.join("src");
    umoci_image(&src, "img", &[&[("a", b"a")], &[("b", b"b")]]);
    push_layout(&src, "img", &reg.image("test/img:1"), &[]);
    (tokens, reg, src)
}

fn unauthorized_blob_requests(reg: &Registry) -> usize {
    reg.requests()
        .iter()
        .filter(|(_, p, s)| *s == 401 && p.contains("/blobs/"))
        .count()
}

#[test]
fn bearer_tokens_for_pull_and_push() {
    let tmp = tempfile::tempdir().unwrap();
    let (tokens, reg, src) = setup(tmp.path());
    let r = Reference::parse(&reg.image("test/img:1")).unwrap();
    let c = client(&r.registry);
    let cache = tmp.path().join("cache");
    let p = pull(&c, &r, &amd64(), &cache, &NoProgress).unwrap();
    assert_eq!(p.downloaded_blobs, 3);
    // One token for the repository, reused by the manifest GET and the parallel blob GETs.
    assert_eq!(c.tokens_fetched(), 1);
    let asked = tokens.requests();
    let last = asked.last().unwrap();
    assert_eq!(last.query("scope"), vec!["repository:test/img:pull"]);
    assert_eq!(last.query("service"), vec![TOKEN_SERVICE]);
    assert!(last.header("authorization").is_none(), "anonymous");
    assert_cache_valid(&cache);

    // Push asks for pull,push on the target repository.
    let target = Reference::parse(&reg.image("test/copy:1")).unwrap();
    push(&c, &src, "img", &target, &NoProgress).unwrap();
    let scopes: Vec<String> = tokens
        .requests()
        .iter()
        .flat_map(|r| r.query("scope"))
        .collect();
    assert!(
        scopes.contains(&"repository:test/copy:pull,push".to_string()),
        "{scopes:?}"
    );

    // Token servers answering `access_token` (OAuth2 style) work the same.
    tokens.policy.lock().unwrap().access_token_field = true;
    let c = client(&r.registry);
    let p = pull(
        &c,
        &target,
        &amd64(),
        &tmp.path().join("cache2"),
        &NoProgress,
    )
    .unwrap();
    assert_eq!(p.downloaded_blobs, 3);
}

#[test]
fn basic_credentials_go_to_the_token_server() {
    let tmp = tempfile::tempdir().unwrap();
    let (tokens, reg, _src) = setup(tmp.path());
    tokens.policy.lock().unwrap().credentials = Some(("alice".into(), "s3cret".into()));
    let r = Reference::parse(&reg.image("test/img:1")).unwrap();
    let cache = tmp.path().join("cache");

    let e = pull(&client(&r.registry), &r, &amd64(), &cache, &NoProgress).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unauthorized, "{e}");
    let msg = e.to_string();
    assert!(
        msg.starts_with(&format!("registry {}: token server 127.0.0.1:", reg.host())),
        "{msg}"
    );
    assert!(
        msg.contains("unauthorized: bad credentials (anonymous access refused)"),
        "{msg}"
    );

    let wrong = client_with(&r.registry, Some(Credentials::new("alice", "nope")));
    let e = pull(&wrong, &r, &amd64(), &cache, &NoProgress).unwrap_err();
    assert!(e.to_string().contains("(credentials refused)"), "{e}");

    let right = client_with(&r.registry, Some(Credentials::new("alice", "s3cret")));
    pull(&right, &r, &amd64(), &cache, &NoProgress).unwrap();
    assert_cache_valid(&cache);
}

#[test]
fn expired_tokens_are_renewed() {
    let tmp = tempfile::tempdir().unwrap();
    let (tokens, reg, _src) = setup(tmp.path());
    let r = Reference::parse(&reg.image("test/img:1")).unwrap();

    // The next token is expired when issued: the registry answers 401 and the client asks
    // for a new one.
    let issued = tokens.issued.load(Ordering::SeqCst) as usize;
    tokens.policy.lock().unwrap().expired_first = issued + 1;
    let c = client(&r.registry);
    pull(&c, &r, &amd64(), &tmp.path().join("cache1"), &NoProgress).unwrap();
    assert_eq!(c.tokens_fetched(), 2);

    // (distribution accepts tokens up to 60 s past their `exp`, so a token expiring in the
    // middle of a pull is played by the scripted registry in tampered.rs.)

    // `expires_in` is honoured: a token announced for 1 s is renewed before the blobs.
    {
        let mut p = tokens.policy.lock().unwrap();
        p.lifetime = 300;
        p.expires_in = Some(1);
    }
    let before = unauthorized_blob_requests(&reg);
    let c = client(&r.registry);
    let slow = Counting {
        sleep_on_begin: Some(Duration::from_millis(1500)),
        ..Counting::default()
    };
    pull(&c, &r, &amd64(), &tmp.path().join("cache3"), &slow).unwrap();
    assert_eq!(unauthorized_blob_requests(&reg), before);
    assert!(c.tokens_fetched() >= 2, "{}", c.tokens_fetched());
}
