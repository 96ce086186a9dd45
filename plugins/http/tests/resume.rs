//! Transparent resume of dropped transfers, and its refusals.

mod common;

use std::io::Read;

use common::server::Server;
use common::{client, data, sha256, sums_line};
use wharf_http::{pull_error, PullError, Verify};

const SIZE: usize = 1_000_000;

fn checksummed(
    server: &Server,
    path: &str,
    image: &[u8],
) -> (wharf_http::Client, wharf_http::Plan) {
    server.put(
        "/SHA256SUMS",
        sums_line(image, path.trim_start_matches('/')),
    );
    let c = client(Verify::Checksum, None);
    let plan = c.plan(&server.url(path)).unwrap();
    (c, plan)
}

#[test]
fn dropped_connection_is_resumed_with_range_and_if_range() {
    let server = Server::start();
    let image = data(SIZE, 10);
    server.put("/big.raw", image.clone());
    server.drop_after("/big.raw", 400_000, 1);
    let (c, plan) = checksummed(&server, "/big.raw", &image);
    let mut dl = c.open(&plan, 0).unwrap();
    let mut got = Vec::new();
    dl.read_to_end(&mut got).expect("resumed download");
    assert_eq!(got.len(), SIZE);
    assert!(got == image, "content differs after resume");
    assert_eq!(dl.sha256(), Some(sha256(&image)));
    assert_eq!(dl.resumes(), 1);

    let reqs = server.requested("/big.raw");
    assert_eq!(reqs.len(), 2, "{reqs:?}");
    assert_eq!(reqs[0].header("range"), None);
    assert_eq!(reqs[1].header("range"), Some("bytes=400000-"));
    assert_eq!(reqs[1].header("if-range"), Some("\"big.raw-1000000\""));
}

#[test]
fn several_drops_and_last_modified_validator() {
    let server = Server::start();
    let image = data(SIZE, 11);
    // No ETag: If-Range falls back to Last-Modified.
    server.put_with_etag("/big.raw", image.clone(), None);
    server.drop_after("/big.raw", 100_000, 3);
    let (c, plan) = checksummed(&server, "/big.raw", &image);
    let mut dl = c.open(&plan, 0).unwrap();
    let mut got = Vec::new();
    dl.read_to_end(&mut got).expect("resumed download");
    assert!(got == image);
    assert_eq!(dl.resumes(), 3);
    let reqs = server.requested("/big.raw");
    let ranges: Vec<_> = reqs.iter().map(|r| r.header("range")).collect();
    assert_eq!(
        ranges,
        [
            None,
            Some("bytes=100000-"),
            Some("bytes=200000-"),
            Some("bytes=300000-")
        ]
    );
    assert_eq!(
        reqs[1].header("if-range"),
        Some("Mon, 01 Jan 2024 00:00:00 GMT")
    );
}

#[test]
fn server_ignoring_range_after_a_drop_is_a_clean_error() {
    let server = Server::start();
    let image = data(SIZE, 12);
    server.put("/big.raw", image.clone());
    server.drop_after("/big.raw", 300_000, 1);
    server.ignore_range("/big.raw");
    let (c, plan) = checksummed(&server, "/big.raw", &image);
    let mut dl = c.open(&plan, 0).unwrap();
    let mut got = Vec::new();
    let err = dl.read_to_end(&mut got).unwrap_err();
    assert_eq!(got.len(), 300_000, "nothing was spliced in");
    let pull = pull_error(&err).expect("a PullError inside");
    assert!(matches!(pull, PullError::Resume { .. }), "{pull:?}");
    assert_eq!(
        err.to_string(),
        format!(
            "download of {} cannot be resumed: the server answered 200 instead of 206 to a range request from byte 300000: it ignores ranges or the file changed",
            server.url("/big.raw")
        )
    );
    // One failed resume, no retry storm.
    assert_eq!(server.requested("/big.raw").len(), 2);
}

#[test]
fn drop_before_any_byte_restarts_cleanly() {
    let server = Server::start();
    let image = data(SIZE, 13);
    server.put("/big.raw", image.clone());
    server.drop_after("/big.raw", 0, 1);
    server.ignore_range("/big.raw");
    let (c, plan) = checksummed(&server, "/big.raw", &image);
    let mut got = Vec::new();
    c.open(&plan, 0).unwrap().read_to_end(&mut got).unwrap();
    assert!(got == image);
}

#[test]
fn endless_drops_give_up_after_bounded_retries() {
    let server = Server::start();
    let image = data(10_000, 14);
    server.put("/big.raw", image.clone());
    server.drop_after("/big.raw", 0, 100);
    let (c, plan) = checksummed(&server, "/big.raw", &image);
    let mut dl = c.open(&plan, 0).unwrap();
    let err = dl.read_to_end(&mut Vec::new()).unwrap_err();
    assert!(
        matches!(pull_error(&err), Some(PullError::Transfer { .. })),
        "{err}"
    );
    assert!(
        err.to_string().contains("gave up after 5 attempts"),
        "{err}"
    );
    // The first request plus five retries.
    assert_eq!(server.requested("/big.raw").len(), 6);
}

#[test]
fn file_changed_between_drop_and_resume() {
    let server = Server::start();
    let image = data(SIZE, 15);
    server.put("/big.raw", image.clone());
    server.drop_after("/big.raw", 500_000, 1);
    let (c, plan) = checksummed(&server, "/big.raw", &image);
    let mut dl = c.open(&plan, 0).unwrap();
    let mut buf = vec![0u8; 500_000];
    dl.read_exact(&mut buf).unwrap();
    // New content and ETag appear; If-Range makes the server answer 200 → refused.
    server.put("/big.raw", data(SIZE + 1, 16));
    let err = dl.read_to_end(&mut Vec::new()).unwrap_err();
    assert!(
        matches!(pull_error(&err), Some(PullError::Resume { .. })),
        "{err}"
    );
}

#[test]
fn open_after_a_prefix_resumes_and_verifies_the_whole_file() {
    let server = Server::start();
    let image = data(SIZE, 17);
    server.put("/big.raw", image.clone());
    let (c, plan) = checksummed(&server, "/big.raw", &image);
    // A checksum-verified plan cannot resume blind.
    assert!(matches!(c.open(&plan, 10), Err(PullError::Resume { .. })));
    let mut prefix = &image[..123_456];
    let mut dl = c.open_after(&plan, &mut prefix).unwrap();
    assert_eq!(dl.position(), 123_456);
    let mut rest = Vec::new();
    dl.read_to_end(&mut rest).unwrap();
    assert!(rest == image[123_456..]);
    assert_eq!(dl.finish_sha256().unwrap(), sha256(&image));
    let reqs = server.requested("/big.raw");
    assert_eq!(reqs[0].header("range"), Some("bytes=123456-"));

    // Unverified plans may resume from an offset; at the very end the server answers 416.
    let c = client(Verify::No, None);
    let plan = c.plan(&server.url("/big.raw")).unwrap();
    let mut rest = Vec::new();
    let mut dl = c.open(&plan, 999_000).unwrap();
    dl.read_to_end(&mut rest).unwrap();
    assert!(rest == image[999_000..]);
    let mut dl = c.open(&plan, SIZE as u64).unwrap();
    assert_eq!(dl.read(&mut [0u8; 8]).unwrap(), 0);
}

#[test]
fn finish_sha256_drains_what_the_consumer_left() {
    let server = Server::start();
    let image = data(SIZE, 18);
    server.put("/big.raw", image.clone());
    let (c, plan) = checksummed(&server, "/big.raw", &image);
    let mut dl = c.open(&plan, 0).unwrap();
    // A consumer (say a tar reader) stops early.
    let mut head = vec![0u8; 1000];
    (&mut dl).take(1000).read_exact(&mut head).unwrap();
    assert_eq!(dl.drain_and_verify().unwrap(), sha256(&image));
}

#[test]
fn file_urls() {
    let dir = tempfile::tempdir().unwrap();
    let image = data(70_000, 19);
    std::fs::write(dir.path().join("img.raw"), &image).unwrap();
    std::fs::write(dir.path().join("SHA256SUMS"), sums_line(&image, "img.raw")).unwrap();
    let base = wharf_http::Url::from_directory_path(dir.path()).unwrap();
    let url = base.join("img.raw").unwrap().to_string();
    let c = client(Verify::Checksum, None);
    let plan = c.plan(&url).unwrap();
    let mut got = Vec::new();
    let mut dl = c.open(&plan, 0).unwrap();
    assert_eq!(dl.content_length(), Some(70_000));
    dl.read_to_end(&mut got).unwrap();
    assert!(got == image);
    // Missing sidecars are "not found", never a hang.
    let side = wharf_http::sidecar_url(&url, ".nspawn");
    assert!(c.fetch_sidecar(&plan, &side, 1 << 20).unwrap().is_none());
    let missing = base.join("nope.raw").unwrap().to_string();
    let plan = client(Verify::No, None).plan(&missing).unwrap();
    assert!(matches!(
        client(Verify::No, None).open(&plan, 0),
        Err(PullError::NotFound { .. })
    ));
}
