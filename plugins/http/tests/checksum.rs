//! --verify=checksum, --verify=no, --verify=<hex>, and sidecars.

mod common;

use std::io::Read;
use std::time::{Duration, Instant};

use common::server::Server;
use common::{client, data, sha256, sums_line};
use wharf_http::{pull_error, sidecar_url, PullError, SumsStyle, Verify};

fn read_all(c: &wharf_http::Client, plan: &wharf_http::Plan) -> std::io::Result<Vec<u8>> {
    let mut got = Vec::new();
    c.open(plan, 0).expect("open").read_to_end(&mut got)?;
    Ok(got)
}

#[test]
fn sha256sums_checksum_passes() {
    let server = Server::start();
    let image = data(50_000, 2);
    server.put("/img.tar.xz", image.clone());
    server.put("/SHA256SUMS", sums_line(&image, "img.tar.xz"));
    let c = client(Verify::Checksum, None);
    let plan = c.plan(&server.url("/img.tar.xz")).unwrap();
    assert_eq!(plan.sums.as_ref().unwrap().style, SumsStyle::PerDirectory);
    assert!(!plan.sums.as_ref().unwrap().signed);
    let mut dl = c.open(&plan, 0).unwrap();
    assert_eq!(dl.content_length(), Some(50_000));
    assert_eq!(dl.etag(), Some("\"img.tar.xz-50000\""));
    let mut got = Vec::new();
    dl.read_to_end(&mut got).unwrap();
    assert_eq!(got, image);
    assert_eq!(dl.sha256(), Some(sha256(&image)));
    // The .sha256 was tried first, then SHA256SUMS; no signature was fetched.
    let paths: Vec<String> = server.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(paths, ["/img.tar.xz.sha256", "/SHA256SUMS", "/img.tar.xz"]);
    let ua = server.requested("/img.tar.xz")[0]
        .header("user-agent")
        .map(str::to_string);
    assert_eq!(ua.as_deref(), Some("wharf-test/1"));
}

#[test]
fn wrong_checksum_fails_at_eof_through_read() {
    let server = Server::start();
    let image = data(200_000, 3);
    server.put("/img.raw", image.clone());
    server.put("/SHA256SUMS", sums_line(b"not the image", "img.raw"));
    let c = client(Verify::Checksum, None);
    let plan = c.plan(&server.url("/img.raw")).unwrap();
    let mut dl = c.open(&plan, 0).unwrap();
    let mut got = Vec::new();
    let err = dl.read_to_end(&mut got).unwrap_err();
    // Every byte was delivered; only the final read failed instead of returning Ok(0).
    assert_eq!(got.len(), image.len());
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
    assert_eq!(
        err.to_string(),
        format!(
            "checksum of {} does not match SHA256SUMS",
            server.url("/img.raw")
        )
    );
    assert!(matches!(
        pull_error(&err),
        Some(PullError::ChecksumMismatch { .. })
    ));
    // It keeps failing.
    assert!(dl.read(&mut [0u8; 16]).is_err());
    assert!(matches!(
        dl.drain_and_verify(),
        Err(PullError::ChecksumMismatch { .. })
    ));
}

#[test]
fn per_file_sha256_is_preferred_over_sha256sums() {
    let server = Server::start();
    let image = data(1000, 4);
    server.put("/img.raw", image.clone());
    // SHA256SUMS is stale; the per-file list is right and wins.
    server.put("/SHA256SUMS", sums_line(b"stale", "img.raw"));
    server.put("/img.raw.sha256", sums_line(&image, "img.raw"));
    let c = client(Verify::Checksum, None);
    let plan = c.plan(&server.url("/img.raw")).unwrap();
    assert_eq!(plan.sums.as_ref().unwrap().style, SumsStyle::PerFile);
    assert_eq!(read_all(&c, &plan).unwrap(), image);
    assert!(server.requested("/SHA256SUMS").is_empty());
}

#[test]
fn missing_lists_and_unlisted_files() {
    let server = Server::start();
    server.put("/img.raw", b"x".to_vec());
    let c = client(Verify::Checksum, None);
    let err = c.plan(&server.url("/img.raw")).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "no checksum list for {0}: neither {0}.sha256 nor {1} exists (use --verify=no to skip verification)",
            server.url("/img.raw"),
            server.url("/SHA256SUMS")
        )
    );
    server.put("/SHA256SUMS", sums_line(b"x", "other.raw"));
    let err = c.plan(&server.url("/img.raw")).unwrap_err();
    assert!(matches!(err, PullError::ChecksumMissing { .. }), "{err:?}");
}

#[test]
fn image_404() {
    let server = Server::start();
    let c = client(Verify::No, None);
    let plan = c.plan(&server.url("/nope.raw")).unwrap();
    let err = c.open(&plan, 0).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "download of {} failed: 404 not found",
            server.url("/nope.raw")
        )
    );
    // With checksums, the missing list is reported first.
    let err = client(Verify::Checksum, None)
        .plan(&server.url("/nope.raw"))
        .unwrap_err();
    assert!(matches!(err, PullError::SumsNotFound { .. }), "{err:?}");
}

#[test]
fn verify_no_skips_everything() {
    let server = Server::start();
    let image = data(3000, 5);
    server.put("/img.raw", image.clone());
    server.put("/img.nspawn", b"[Exec]\n".to_vec());
    // A list that would fail everything, to show it is never read.
    server.put("/SHA256SUMS", sums_line(b"wrong", "img.raw"));
    let c = client(Verify::No, None);
    let plan = c.plan(&server.url("/img.raw")).unwrap();
    assert!(plan.expected_sha256.is_none() && plan.sums.is_none());
    assert_eq!(read_all(&c, &plan).unwrap(), image);
    let nspawn = c
        .fetch_sidecar(&plan, &sidecar_url(plan.url.as_str(), ".nspawn"), 1 << 20)
        .unwrap();
    assert_eq!(nspawn.as_deref(), Some(&b"[Exec]\n"[..]));
    let paths: Vec<String> = server.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(paths, ["/img.raw", "/img.nspawn"]);
}

#[test]
fn literal_sha256() {
    let server = Server::start();
    let image = data(3000, 6);
    server.put("/img.raw", image.clone());
    server.put("/img.nspawn", b"[Exec]\n".to_vec());
    let good = client(Verify::Sha256(sha256(&image)), None);
    let plan = good.plan(&server.url("/img.raw")).unwrap();
    assert_eq!(read_all(&good, &plan).unwrap(), image);
    // Sidecars are off with a literal checksum, as in systemd.
    assert!(good
        .fetch_sidecar(&plan, &server.url("/img.nspawn"), 1 << 20)
        .unwrap()
        .is_none());
    let bad = client(Verify::Sha256([7; 32]), None);
    let plan = bad.plan(&server.url("/img.raw")).unwrap();
    let err = read_all(&bad, &plan).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "checksum of {} does not match --verify",
            server.url("/img.raw")
        )
    );
}

#[test]
fn sidecars() {
    let server = Server::start();
    let image = data(3000, 7);
    let nspawn = b"[Exec]\nBoot=yes\n".to_vec();
    let roothash = b"abcdef\n".to_vec();
    server.put("/d/img.raw.xz", image.clone());
    server.put("/d/img.nspawn", nspawn.clone());
    server.put("/d/img.roothash", roothash.clone());
    server.put("/d/img.verity", b"unlisted".to_vec());
    let sums = format!(
        "{}{}{}",
        sums_line(&image, "img.raw.xz"),
        sums_line(&nspawn, "img.nspawn"),
        sums_line(b"something else", "img.roothash"),
    );
    server.put("/d/SHA256SUMS", sums);
    let c = client(Verify::Checksum, None);
    let url = server.url("/d/img.raw.xz");
    let plan = c.plan(&url).unwrap();

    // Listed and right.
    let got = c
        .fetch_sidecar(&plan, &sidecar_url(&url, ".nspawn"), 1 << 20)
        .unwrap();
    assert_eq!(got, Some(nspawn));

    // Missing: Ok(None), quickly.
    let start = Instant::now();
    let got = c
        .fetch_sidecar(&plan, &sidecar_url(&url, ".roothash.p7s"), 1 << 20)
        .unwrap();
    assert!(got.is_none());
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );

    // Present but not listed.
    let err = c
        .fetch_sidecar(&plan, &sidecar_url(&url, ".verity"), 1 << 20)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "sidecar img.verity is not listed in {}",
            server.url("/d/SHA256SUMS")
        )
    );

    // Listed with another hash.
    let err = c
        .fetch_sidecar(&plan, &sidecar_url(&url, ".roothash"), 1 << 20)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "checksum of {} does not match SHA256SUMS",
            server.url("/d/img.roothash")
        )
    );

    // Size limit.
    let err = c
        .fetch_sidecar(&plan, &sidecar_url(&url, ".nspawn"), 4)
        .unwrap_err();
    assert!(matches!(err, PullError::TooLarge { max: 4, .. }), "{err:?}");
}

#[test]
fn unreachable_server_is_a_connect_error() {
    // Bind and drop to get a port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/img.raw");
    let c = client(Verify::No, None);
    let plan = c.plan(&url).unwrap();
    let err = c.open(&plan, 0).unwrap_err();
    assert!(matches!(err, PullError::Connect { .. }), "{err:?}");
    assert!(
        err.to_string()
            .starts_with(&format!("cannot connect to {url}: ")),
        "{err}"
    );
}

#[test]
fn tls_failure_is_a_tls_error() {
    use std::io::Write;
    // A plain-text "server" on an https URL: the TLS handshake must fail as such.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let answer = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let _ = s.read(&mut [0u8; 4096]);
        let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
    });
    let url = format!("https://127.0.0.1:{port}/img.raw");
    let c = client(Verify::No, None);
    let err = c.open(&c.plan(&url).unwrap(), 0).unwrap_err();
    answer.join().unwrap();
    assert!(matches!(err, PullError::Tls { .. }), "{err:?}");
    assert!(
        err.to_string()
            .starts_with(&format!("tls error talking to {url}: ")),
        "{err}"
    );
}
