//! Parses real output of umoci 0.4.7 and skopeo 1.9.3 (generated with them, see
//! tests/data/README) and samples modelled on `docker save` (legacy, Docker 25, Docker 29),
//! BuildKit indexes and Docker Hub manifest lists; checks what wharf relies on.

use wharf_oci_format::*;

fn data(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// umoci's Go encoder ends every file with a newline
fn trim_nl(mut b: Vec<u8>) -> Vec<u8> {
    if b.last() == Some(&b'\n') {
        b.pop();
    }
    b
}

fn p(s: &str) -> Platform {
    Platform::parse(s).unwrap()
}

#[test]
fn umoci_layout_round_trips_byte_for_byte() {
    check_oci_layout(&data("umoci-oci-layout")).unwrap();
    assert_eq!(
        trim_nl(data("umoci-oci-layout")),
        OCI_LAYOUT_JSON.as_bytes()
    );

    let index_bytes = data("umoci-index.json");
    let index = Index::parse(&index_bytes).unwrap();
    assert_eq!(index.to_json(), trim_nl(index_bytes.clone()));
    assert_eq!(index.media_type, None);
    let tagged = index.find_ref("t");
    assert_eq!(tagged.len(), 1);
    let entry = tagged[0];
    assert_eq!(entry.ref_name(), Some("t"));

    let manifest_bytes = data("umoci-manifest.json");
    entry.verify(&manifest_bytes).unwrap();
    assert_eq!(
        blob_path(&entry.digest),
        "blobs/sha256/4e7a4b55ec3b2726526ec41b4ed8190be574805e796333af43fb06ec3c88085d"
    );
    let manifest = Manifest::parse(&manifest_bytes).unwrap();
    assert_eq!(manifest.to_json(), trim_nl(manifest_bytes.clone()));
    assert_eq!(index.select(&Platform::host()).unwrap(), entry);
    assert_eq!(
        manifest.layers[0].media_type.layer_compression(),
        Some(LayerCompression::Gzip)
    );

    let config_bytes = data("umoci-config.json");
    manifest.config.verify(&config_bytes).unwrap();
    let config = ImageConfig::parse(&config_bytes).unwrap();
    assert_eq!(config.to_json(), trim_nl(config_bytes.clone()));
    assert_eq!(config.platform(), p("linux/amd64"));
    let c = &config.config;
    assert_eq!(c.user.as_deref(), Some("1000:1000"));
    assert_eq!(c.exposed_ports, ["80/tcp"]);
    assert_eq!(c.env, ["A=1"]);
    assert_eq!(c.cmd.as_deref(), Some(&["/bin/sh".to_string()][..]));
    assert_eq!(c.entrypoint, None);
    assert_eq!(c.volumes, ["/data"]);
    assert_eq!(c.working_dir.as_deref(), Some("/srv"));
    assert_eq!(c.labels.get("x").map(String::as_str), Some("y"));
    assert_eq!(c.stop_signal.as_deref(), Some("SIGINT"));
    assert_eq!(config.rootfs.diff_ids.len(), manifest.layers.len());
    assert_eq!(config.layer_history().count(), 1);
    assert!(config.history[0].empty_layer);
    assert_eq!(
        chain_id(&config.rootfs.diff_ids),
        Some(config.rootfs.diff_ids[0].clone())
    );

    let fresh = data("umoci-config-new.json");
    let fresh_config = ImageConfig::parse(&fresh).unwrap();
    assert_eq!(
        fresh_config.to_json(),
        trim_nl(fresh),
        "config {{}} is kept"
    );
    assert_eq!(fresh_config.config, ExecConfig::default());
}

#[test]
fn skopeo_v2s2_in_an_oci_layout() {
    let index = Index::parse(&data("skopeo-v2s2-index.json")).unwrap();
    let entry = index.find_ref("t")[0];
    assert_eq!(entry.media_type, MediaType::DockerManifest);
    let bytes = data("skopeo-v2s2-manifest.json");
    entry.verify(&bytes).unwrap();
    let Parsed::Manifest(m) = parse_manifest_or_index(&bytes, None).unwrap() else {
        panic!("not a manifest")
    };
    assert_eq!(m.media_type, Some(MediaType::DockerManifest));
    assert_eq!(m.config.media_type, MediaType::DockerConfig);
    assert_eq!(m.layers[0].media_type, MediaType::DockerLayer);
    assert!(m.layers.iter().all(|l| l.media_type.is_docker()));
    // a registry serving it with the right Content-Type, and one that lies
    parse_manifest_or_index(
        &bytes,
        Some("application/vnd.docker.distribution.manifest.v2+json"),
    )
    .unwrap();
    let e = parse_manifest_or_index(&bytes, Some("application/vnd.oci.image.manifest.v1+json"))
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::UnsupportedMediaType);
    // re-serialised with OCI field order, it parses to the same value
    assert_eq!(Manifest::parse(&m.to_json()).unwrap(), m);
}

#[test]
fn docker_archive_manifests() {
    // skopeo 1.9.3 docker-archive: uncompressed <diffid>.tar layers
    let skopeo = parse_docker_archive_manifest(&data("skopeo-archive-manifest.json")).unwrap();
    assert_eq!(skopeo.len(), 1);
    assert_eq!(
        skopeo[0].config,
        "134e885d0468a21c01f39f6e112aef5ae522a39f305328ffd5e79be013ab65a0.json"
    );
    assert_eq!(skopeo[0].repo_tags, ["example.com/foo:t"]);
    assert_eq!(
        skopeo[0].layers,
        ["04c7aae60c6f3001b95cdf1b499c4bd01b4624d735dde6417de0537b7b7cbb41.tar"]
    );
    assert!(skopeo[0].layer_sources.is_empty() && skopeo[0].parent.is_none());
    // the legacy v1 `json` next to layer.tar is not an image config (no rootfs)
    assert_eq!(
        ImageConfig::parse(&data("skopeo-archive-v1.json"))
            .unwrap_err()
            .kind,
        ErrorKind::Json
    );

    // legacy docker save: two images, <v1id>/layer.tar, a foreign layer, RepoTags null
    let legacy = parse_docker_archive_manifest(&data("legacy-save-manifest.json")).unwrap();
    assert_eq!(legacy.len(), 2);
    assert_eq!(legacy[0].repo_tags.len(), 2);
    assert_eq!(legacy[0].layers.len(), 2);
    assert!(legacy[0].layers[0].ends_with("/layer.tar"));
    assert!(legacy[0].parent.is_some());
    let (diff_id, foreign) = legacy[0].layer_sources.iter().next().unwrap();
    assert!(diff_id.parse::<Digest>().is_ok());
    assert_eq!(foreign.media_type, MediaType::DockerForeignLayer);
    assert_eq!(foreign.urls.len(), 1);
    assert!(legacy[1].repo_tags.is_empty());

    // Docker 25: paths into blobs/sha256, LayerSources for every layer
    let d25 = parse_docker_archive_manifest(&data("docker25-save-manifest.json")).unwrap();
    assert!(d25[0].config.starts_with("blobs/sha256/"));
    assert!(d25[0].layers[0].starts_with("blobs/sha256/"));
    assert_eq!(
        d25[0].layer_sources.values().next().unwrap().media_type,
        MediaType::OciLayer(LayerCompression::None)
    );
    let index = Index::parse(&data("docker25-save-index.json")).unwrap();
    assert_eq!(index.find_ref("latest").len(), 1);
    assert_eq!(index.find_ref("docker.io/library/busybox:latest").len(), 1);

    // Docker 29 / containerd store: the tagged entry is a nested index without platform
    let d29 = Index::parse(&data("docker29-save-index.json")).unwrap();
    let top = d29.select(&p("linux/amd64")).unwrap();
    assert_eq!(top.media_type, MediaType::OciIndex);
}

#[test]
fn docker_archive_path_traversal_is_refused() {
    for (config, layer) in [
        ("../../etc/passwd", "a/layer.tar"),
        ("a.json", "/etc/shadow"),
        ("a.json", "a/../../layer.tar"),
        ("a.json", ".."),
        ("a.json", ""),
        ("", "a/layer.tar"),
    ] {
        let json = format!(r#"[{{"Config":"{config}","RepoTags":[],"Layers":["{layer}"]}}]"#);
        let e = parse_docker_archive_manifest(json.as_bytes()).unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidLayout, "{json}");
        assert!(
            e.to_string()
                .starts_with("docker archive manifest.json: image 0"),
            "{e}"
        );
    }
    for bad in [
        &b"[]"[..],
        b"{}",
        br#"[{"RepoTags":[],"Layers":[]}]"#,
        br#"[{"Config":"a.json","Layers":[],"LayerSources":{"notadigest":{"mediaType":"x","size":1,"digest":"sha256:0000000000000000000000000000000000000000000000000000000000000000"}}}]"#,
    ] {
        assert!(parse_docker_archive_manifest(bad).is_err());
    }
    // moby#47065: an image without layers is fine
    let empty =
        parse_docker_archive_manifest(br#"[{"Config":"a.json","RepoTags":null,"Layers":[]}]"#);
    assert!(empty.unwrap()[0].layers.is_empty());
}

#[test]
fn platform_selection_in_real_shaped_indexes() {
    let list = Index::parse(&data("docker-manifest-list.json")).unwrap();
    assert_eq!(list.media_type, Some(MediaType::DockerManifestList));
    let pick = |i: &Index, s: &str| i.select(&p(s)).map(|d| d.digest.hex[..2].to_string());
    assert_eq!(pick(&list, "linux/amd64").unwrap(), "6a");
    assert_eq!(pick(&list, "linux/arm").unwrap(), "7d");
    assert_eq!(pick(&list, "linux/arm/v6").unwrap(), "7d");
    assert_eq!(pick(&list, "linux/arm64/v8").unwrap(), "8e");
    assert!(pick(&list, "linux/arm/v7").is_err());
    let mut win = p("windows/amd64");
    win.os_version = Some("10.0.17763.5329".into());
    assert_eq!(pick(&list, &win.to_string()).unwrap(), "9e");
    assert_eq!(list.select(&win).unwrap().digest.hex[..2], *"9e");
    win.os_version = Some("10.0.20348.1".into());
    assert!(list.select(&win).is_err());

    let bk = Index::parse(&data("buildkit-index.json")).unwrap();
    assert_eq!(
        bk.manifests.iter().filter(|d| d.is_attestation()).count(),
        2
    );
    assert_eq!(pick(&bk, "linux/amd64").unwrap(), "1e");
    assert_eq!(pick(&bk, "linux/arm/v7").unwrap(), "2e");
    assert_eq!(pick(&bk, "linux/arm64").unwrap(), "3e");
    let e = bk.select(&p("linux/riscv64")).unwrap_err();
    assert_eq!(e.kind, ErrorKind::NoMatchingPlatform);
    assert_eq!(
        e.to_string(),
        "image index has no manifest for platform linux/riscv64 (available: linux/amd64, \
         linux/arm/v7, linux/arm64/v8)"
    );
    assert!(matches!(
        parse_manifest_or_index(&data("buildkit-index.json"), None),
        Ok(Parsed::Index(_))
    ));
}

#[test]
fn docker_config_with_nulls() {
    let c = ImageConfig::parse(&data("docker-config.json")).unwrap();
    assert_eq!(c.config.user, None);
    assert_eq!(c.config.working_dir, None);
    assert_eq!(c.config.exposed_ports, ["443/tcp", "80/tcp"]);
    assert!(c.config.volumes.is_empty());
    assert_eq!(
        c.config.entrypoint.as_deref(),
        Some(&["/docker-entrypoint.sh".to_string()][..])
    );
    assert_eq!(c.config.cmd.as_ref().unwrap().len(), 3);
    assert_eq!(c.config.stop_signal.as_deref(), Some("SIGQUIT"));
    assert_eq!(c.layer_history().count(), c.rootfs.diff_ids.len());
    let again = ImageConfig::parse(&c.to_json()).unwrap();
    assert_eq!(again, c);
    let json = String::from_utf8(c.to_json()).unwrap();
    assert!(
        json.contains(r#""ExposedPorts":{"443/tcp":{},"80/tcp":{}}"#),
        "{json}"
    );
    assert!(!json.contains("null"), "{json}");
}

#[test]
fn size_limit_applies_to_every_parser() {
    let mut big = vec![b' '; MAX_MANIFEST_SIZE + 1];
    big[0] = b'{';
    let kinds = [
        Index::parse(&big).unwrap_err().kind,
        Manifest::parse(&big).unwrap_err().kind,
        ImageConfig::parse(&big).unwrap_err().kind,
        parse_manifest_or_index(&big, None).unwrap_err().kind,
        check_oci_layout(&big).unwrap_err().kind,
        parse_docker_archive_manifest(&big).unwrap_err().kind,
        parse_token_response(&big).unwrap_err().kind,
    ];
    assert!(kinds.iter().all(|k| *k == ErrorKind::TooLarge), "{kinds:?}");
    assert!(parse_registry_errors(&big).is_empty());
    let e = Index::parse(&big).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "image index is {} bytes, more than the 4194304 byte limit",
            big.len()
        )
    );
}

/// every parser on every prefix and on single-byte corruptions of every fixture: no panic.
#[test]
fn malformed_input_never_panics() {
    let dir = format!("{}/tests/data", env!("CARGO_MANIFEST_DIR"));
    let mut inputs = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        for cut in 0..bytes.len() {
            inputs.push(bytes[..cut].to_vec());
        }
        for (i, b) in [b'"', b'{', b'}', b'[', b'\\', b'0', b'-', b'\xff', b'n']
            .iter()
            .enumerate()
        {
            let mut m = bytes.clone();
            let at = (i * 37 + 11) % m.len().max(1);
            if !m.is_empty() {
                m[at] = *b;
            }
            inputs.push(m);
        }
    }
    for input in &inputs {
        let _ = Index::parse(input);
        let _ = Manifest::parse(input);
        let _ = ImageConfig::parse(input);
        let _ = parse_manifest_or_index(input, None);
        let _ = parse_manifest_or_index(input, Some("application/vnd.oci.image.index.v1+json"));
        let _ = check_oci_layout(input);
        let _ = parse_docker_archive_manifest(input);
        let _ = parse_token_response(input);
        let _ = parse_registry_errors(input);
        let s = String::from_utf8_lossy(input);
        let _ = parse_www_authenticate(&s);
        let _ = Reference::parse(&s);
        let _ = Digest::parse(&s);
        let _ = Platform::parse(&s);
    }
}
