//! --verify=signature: SHA256SUMS(.gpg|.asc), per-file .sha256 signatures, keyring formats.

mod common;

use std::io::Read;
use std::path::PathBuf;

use common::gpg::Gpg;
use common::server::Server;
use common::{client, data, sums_line};
use tempfile::TempDir;
use wharf_http::{PullError, SumsStyle, Verify};

/// A server with `/d/img.raw` listed in `/d/SHA256SUMS` (not yet signed) and a keyring file
/// holding `keys`.
fn setup(keys: &[u8]) -> (Server, TempDir, PathBuf, Vec<u8>, Vec<u8>) {
    let server = Server::start();
    let image = data(10_000, 1);
    let sums = format!(
        "{}{}",
        sums_line(b"other", "other.raw"),
        sums_line(&image, "img.raw")
    )
    .into_bytes();
    server.put("/d/img.raw", image.clone());
    server.put("/d/SHA256SUMS", sums.clone());
    let dir = tempfile::tempdir().unwrap();
    let keyring = dir.path().join("import-pubring.gpg");
    std::fs::write(&keyring, keys).unwrap();
    (server, dir, keyring, image, sums)
}

fn plan_err(server: &Server, keyring: PathBuf) -> PullError {
    client(Verify::Signature, Some(keyring))
        .plan(&server.url("/d/img.raw"))
        .expect_err("plan must fail")
}

#[test]
fn good_binary_signature() {
    let gpg = Gpg::new("good");
    let (server, _dir, keyring, image, sums) = setup(&gpg.export(false));
    server.put("/d/SHA256SUMS.gpg", gpg.sign(&sums, false));
    let c = client(Verify::Signature, Some(keyring));
    let plan = c.plan(&server.url("/d/img.raw")).expect("plan");
    let s = plan.sums.as_ref().unwrap();
    assert!(s.signed);
    assert_eq!(s.style, SumsStyle::PerDirectory);
    assert_eq!(plan.expected_sha256, Some(common::sha256(&image)));
    let mut got = Vec::new();
    c.open(&plan, 0).unwrap().read_to_end(&mut got).unwrap();
    assert_eq!(got, image);
    assert!(server.requested("/d/SHA256SUMS.asc").is_empty());
}

#[test]
fn armored_signature_and_armored_keyring_with_several_keys() {
    let other = Gpg::new("other");
    let gpg = Gpg::new("good");
    // Two armor blocks in one file, the signing key second.
    let mut ring = other.export(true);
    ring.extend(gpg.export(true));
    let (server, _dir, keyring, _, sums) = setup(&ring);
    server.put("/d/SHA256SUMS.asc", gpg.sign(&sums, true));
    let plan = client(Verify::Signature, Some(keyring))
        .plan(&server.url("/d/img.raw"))
        .expect("plan");
    assert!(plan.sums.unwrap().signed);
    assert_eq!(
        server.requested("/d/SHA256SUMS.gpg").len(),
        1,
        "tried .gpg first"
    );
}

#[test]
fn binary_keyring_with_several_keys() {
    let gpg = Gpg::new("good");
    let other = Gpg::new("other");
    let mut ring = other.export(false);
    ring.extend(gpg.export(false));
    let (server, _dir, keyring, _, sums) = setup(&ring);
    server.put("/d/SHA256SUMS.gpg", gpg.sign(&sums, false));
    client(Verify::Signature, Some(keyring))
        .plan(&server.url("/d/img.raw"))
        .expect("plan");
}

#[test]
fn signing_subkey_and_keybox_keyring() {
    let gpg = Gpg::new("sub");
    let sub = gpg.add_signing_subkey();
    let (server, dir, _, _, sums) = setup(b"");
    let keybox = gpg.keybox(dir.path());
    server.put("/d/SHA256SUMS.gpg", gpg.sign_with(Some(&sub), &sums, false));
    client(Verify::Signature, Some(keybox))
        .plan(&server.url("/d/img.raw"))
        .expect("plan with a subkey signature and a keybox keyring");
}

#[test]
fn signature_by_another_key_is_rejected() {
    let gpg = Gpg::new("trusted");
    let stranger = Gpg::new("stranger");
    let (server, _dir, keyring, _, sums) = setup(&gpg.export(false));
    server.put("/d/SHA256SUMS.gpg", stranger.sign(&sums, false));
    let err = plan_err(&server, keyring);
    assert!(matches!(err, PullError::SignatureInvalid { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.starts_with(&format!(
            "signature of SHA256SUMS at {} is invalid: made by key",
            server.url("/d/SHA256SUMS.gpg")
        )),
        "{msg}"
    );
    assert!(msg.contains("not in keyring"), "{msg}");
}

#[test]
fn tampered_sums_are_rejected() {
    let gpg = Gpg::new("trusted");
    let (server, _dir, keyring, _, sums) = setup(&gpg.export(false));
    server.put("/d/SHA256SUMS.gpg", gpg.sign(&sums, false));
    // The attacker swaps in a list with their own image's hash.
    let evil = sums_line(&data(10_000, 666), "img.raw");
    server.put("/d/SHA256SUMS", evil);
    let err = plan_err(&server, keyring);
    let msg = err.to_string();
    assert!(matches!(err, PullError::SignatureInvalid { .. }), "{err:?}");
    assert!(msg.contains("bad signature by key"), "{msg}");
}

#[test]
fn unlisted_image_is_rejected() {
    let gpg = Gpg::new("trusted");
    let (server, _dir, keyring, _, _) = setup(&gpg.export(false));
    let sums = sums_line(b"x", "something-else.raw").into_bytes();
    server.put("/d/SHA256SUMS", sums.clone());
    server.put("/d/SHA256SUMS.gpg", gpg.sign(&sums, false));
    let err = plan_err(&server, keyring);
    assert_eq!(
        err.to_string(),
        format!("img.raw is not listed in {}", server.url("/d/SHA256SUMS"))
    );
}

#[test]
fn missing_signature_is_an_error() {
    let gpg = Gpg::new("trusted");
    let (server, _dir, keyring, _, _) = setup(&gpg.export(false));
    let err = plan_err(&server, keyring);
    assert!(matches!(err, PullError::SignatureMissing { .. }), "{err:?}");
    assert!(err.to_string().contains("SHA256SUMS.asc"), "{err}");
}

#[test]
fn per_file_sha256_with_detached_and_inline_signatures() {
    let gpg = Gpg::new("trusted");
    let (server, _dir, keyring, image, _) = setup(&gpg.export(false));
    let c = client(Verify::Signature, Some(keyring));
    let per_file = sums_line(&image, "img.raw").into_bytes();

    // Detached: img.raw.sha256 + img.raw.sha256.asc.
    server.put("/d/img.raw.sha256", per_file.clone());
    server.put("/d/img.raw.sha256.asc", gpg.sign(&per_file, true));
    let plan = c.plan(&server.url("/d/img.raw")).expect("detached");
    assert_eq!(plan.sums.as_ref().unwrap().style, SumsStyle::PerFile);
    assert!(server.requested("/d/SHA256SUMS").is_empty());

    // Inline (openSUSE style): the .sha256 itself is clearsigned.
    let server2 = Server::start();
    server2.put("/d/img.raw", image.clone());
    server2.put("/d/img.raw.sha256", gpg.clearsign(&per_file));
    let plan = c.plan(&server2.url("/d/img.raw")).expect("inline");
    assert!(plan.sums.unwrap().signed);

    // A clearsigned list edited afterwards fails.
    let signed = String::from_utf8(gpg.clearsign(&per_file)).unwrap();
    let hex = wharf_http::hex_digest(&common::sha256(&image));
    let forged = signed.replace(&hex, &"0".repeat(64));
    server2.put("/d/img.raw.sha256", forged);
    let err = c.plan(&server2.url("/d/img.raw")).unwrap_err();
    assert!(matches!(err, PullError::SignatureInvalid { .. }), "{err:?}");
}

#[test]
fn keyring_problems_fail_before_any_download() {
    let missing = PathBuf::from("/nonexistent/wharf/import-pubring.gpg");
    let err = wharf_http::Client::new(wharf_http::PullOptions {
        verify: Verify::Signature,
        keyring: Some(missing),
        user_agent: "t".into(),
    })
    .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("cannot use keyring /nonexistent/wharf/import-pubring.gpg:"),
        "{err}"
    );
    // Without --keyring the default locations are used; on a machine without them that is
    // the documented NoKeyring error.
    if !wharf_http::DEFAULT_KEYRINGS
        .iter()
        .any(|p| std::path::Path::new(p).exists())
    {
        let err = wharf_http::Client::new(wharf_http::PullOptions::default()).unwrap_err();
        assert!(matches!(err, PullError::NoKeyring));
        assert_eq!(
            err.to_string(),
            "no keyring for signature verification: create /etc/systemd/import-pubring.gpg or pass --keyring (or use --verify=checksum)"
        );
    }
}
