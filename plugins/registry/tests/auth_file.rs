//! Credentials from `$REGISTRY_AUTH_FILE` and `~/.docker/config.json`, used against the token
//! server. One test in this binary: it changes the process environment.

mod common;

use common::*;
use wharf_core::NoProgress;
use wharf_oci_format::Reference;
use wharf_registry::{credentials_for, pull, ErrorKind};
use wharf_tests::oci_layout::{push_layout, umoci_image};
use wharf_tests::registry::{Registry, TokenPolicy, TokenServer};

#[test]
fn credentials_from_auth_files() {
    let tmp = tempfile::tempdir().unwrap();
    let tokens = TokenServer::start(TokenPolicy::default());
    let reg = Registry::start_with_token_auth(&tokens);
    let src = tmp.path().join("src");
    umoci_image(&src, "img", &[&[("a", b"a")]]);
    push_layout(&src, "img", &reg.image("test/img:1"), &[]);
    tokens.policy.lock().unwrap().credentials = Some(("bob".into(), "pa:ss".into()));
    let r = Reference::parse(&reg.image("test/img:1")).unwrap();

    // containers-auth.json style, base64 `auth`.
    let auth_file = tmp.path().join("auth.json");
    std::fs::write(
        &auth_file,
        format!(
            r#"{{"auths":{{"{}":{{"auth":"Ym9iOnBhOnNz"}}}}}}"#,
            reg.host()
        ),
    )
    .unwrap();
    std::env::remove_var("DOCKER_CONFIG");
    std::env::set_var("REGISTRY_AUTH_FILE", &auth_file);
    let creds = credentials_for(&r.registry).expect("credentials from REGISTRY_AUTH_FILE");
    assert_eq!(
        (creds.username.as_str(), creds.password.as_str()),
        ("bob", "pa:ss")
    );
    let c = client_with(&r.registry, Some(creds));
    pull(&c, &r, &amd64(), &tmp.path().join("cache1"), &NoProgress).unwrap();
    let sent = tokens
        .requests()
        .last()
        .unwrap()
        .header("authorization")
        .map(str::to_string);
    assert_eq!(sent.as_deref(), Some("Basic Ym9iOnBhOnNz"));

    // ~/.docker/config.json with an `http://host:port/v2/` key and username/password fields.
    std::env::remove_var("REGISTRY_AUTH_FILE");
    let home = tmp.path().join("home");
    std::fs::create_dir_all(home.join(".docker")).unwrap();
    std::fs::write(
        home.join(".docker/config.json"),
        format!(
            r#"{{"auths":{{"http://{}/v2/":{{"username":"bob","password":"pa:ss"}}}}}}"#,
            reg.host()
        ),
    )
    .unwrap();
    std::env::set_var("HOME", &home);
    let creds = credentials_for(&r.registry).expect("credentials from ~/.docker/config.json");
    let c = client_with(&r.registry, Some(creds));
    pull(&c, &r, &amd64(), &tmp.path().join("cache2"), &NoProgress).unwrap();

    // No entry for the registry: anonymous, refused by the token server.
    assert!(credentials_for("127.0.0.1:1").is_none());
    let e = pull(
        &client(&r.registry),
        &r,
        &amd64(),
        &tmp.path().join("cache3"),
        &NoProgress,
    )
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unauthorized);
}
