//! Small OCI layouts for the registry tests, built with umoci and moved around with skopeo.

use std::path::Path;

use crate::sh;

/// Adds image `tag` to the OCI layout `layout` (created if missing) with umoci: one gzip layer
/// per entry of `layers`, each holding the given `(path, contents)` files, and `cmd` as Cmd.
pub fn umoci_image(layout: &Path, tag: &str, layers: &[&[(&str, &[u8])]]) {
    let l = layout.to_str().expect("utf-8 path");
    if !layout.join("index.json").exists() {
        sh("umoci", &["init", "--layout", l]);
    }
    let image = format!("{l}:{tag}");
    sh("umoci", &["new", "--image", &image]);
    let work = tempfile::tempdir().expect("tempdir");
    for (i, files) in layers.iter().enumerate() {
        let root = work.path().join(format!("layer{i}"));
        std::fs::create_dir_all(&root).unwrap();
        for (path, data) in files.iter() {
            let p = root.join(path.trim_start_matches('/'));
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, data).unwrap();
        }
        let tar = work.path().join(format!("layer{i}.tar"));
        sh(
            "tar",
            &[
                "-C",
                root.to_str().unwrap(),
                "--owner=0",
                "--group=0",
                // Reproducible layers: the same files make the same digest whenever they are
                // written (images that share a layer must share its blob; tar keeps mtimes to
                // the second, so two images built across a second boundary did not).
                "--mtime=@0",
                "--sort=name",
                "-cf",
                tar.to_str().unwrap(),
                ".",
            ],
        );
        sh(
            "umoci",
            &["raw", "add-layer", "--image", &image, tar.to_str().unwrap()],
        );
    }
    sh(
        "umoci",
        &["config", "--image", &image, "--config.cmd", "/bin/true"],
    );
}

/// `skopeo copy --src-tls-verify=false --dest-tls-verify=false EXTRA… SRC DEST`
pub fn skopeo_copy(src: &str, dest: &str, extra: &[&str]) {
    let mut args = vec![
        "copy",
        "--quiet",
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
    ];
    args.extend_from_slice(extra);
    args.push(src);
    args.push(dest);
    sh("skopeo", &args);
}

/// Pushes image `tag` of `layout` to `docker://REFERENCE` with skopeo.
pub fn push_layout(layout: &Path, tag: &str, reference: &str, extra: &[&str]) {
    skopeo_copy(
        &format!("oci:{}:{tag}", layout.display()),
        &format!("docker://{reference}"),
        extra,
    );
}

/// `skopeo inspect --raw` of `docker://REFERENCE`, parsed.
pub fn inspect_raw(reference: &str) -> serde_json::Value {
    let out = sh(
        "skopeo",
        &[
            "inspect",
            "--raw",
            "--tls-verify=false",
            &format!("docker://{reference}"),
        ],
    );
    serde_json::from_str(&out).expect("manifest json")
}

/// Writes `bytes` as a blob of `layout` and returns `(sha256:hex, size)`.
pub fn put_blob(layout: &Path, bytes: &[u8]) -> (String, u64) {
    let hex = sha256_hex(bytes);
    let dir = layout.join("blobs/sha256");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(&hex), bytes).unwrap();
    (format!("sha256:{hex}"), bytes.len() as u64)
}

/// Reads blob `digest` (`sha256:hex`) of `layout`.
pub fn get_blob(layout: &Path, digest: &str) -> Vec<u8> {
    let hex = digest.strip_prefix("sha256:").expect("sha256 digest");
    std::fs::read(layout.join("blobs/sha256").join(hex)).expect("blob")
}

/// The descriptor tagged `tag` in `layout`'s index.json.
pub fn tagged(layout: &Path, tag: &str) -> serde_json::Value {
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["annotations"]["org.opencontainers.image.ref.name"] == tag)
        .unwrap_or_else(|| panic!("no {tag} in {}", layout.display()))
        .clone()
}

/// Adds (or replaces) the index.json entry tagged `tag`.
pub fn set_tag(layout: &Path, tag: &str, mut desc: serde_json::Value) {
    let path = layout.join("index.json");
    let mut index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    desc["annotations"] = serde_json::json!({ "org.opencontainers.image.ref.name": tag });
    let list = index["manifests"].as_array_mut().unwrap();
    list.retain(|d| d["annotations"]["org.opencontainers.image.ref.name"] != tag);
    list.push(desc);
    std::fs::write(&path, serde_json::to_vec(&index).unwrap()).unwrap();
}

/// sha256 in hex, by `sha256sum` (the test crate has no hash library).
pub fn sha256_hex(bytes: &[u8]) -> String {
    use std::io::Write as _;
    let mut child = std::process::Command::new("sha256sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("sha256sum");
    child.stdin.take().unwrap().write_all(bytes).unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8(out.stdout).unwrap()[..64].to_string()
}
