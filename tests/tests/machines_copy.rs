//! `wharf copy-to`/`copy-from` with directory trees: every kind of entry, modes, owners,
//! nanosecond times, xattrs and ACLs, symlinks as links, holes; confined on the machine's
//! side; a directory never replaces a non-directory.

use std::path::Path;

use wharf_tests::started::Started;
use wharf_tests::tree::{assert_same_tree, build_rich_tree};

#[test]
fn copy_trees_both_ways() {
    let m = Started::new("mach-copytree");
    m.start_with(&[]);
    let host = tempfile::tempdir().unwrap();
    let src = host.path().join("tree");
    std::fs::create_dir(&src).unwrap();
    build_rich_tree(&src);
    // Hard links are copied as separate files: leave none.
    for l in ["usr/bin/a2", "usr/lib/a3", "etc/b2"] {
        std::fs::remove_file(src.join(l)).unwrap();
    }
    // Into a directory of the machine (DST ends in '/': the tree keeps its name).
    m.ok(&["copy-to", "mach-copytree", src.to_str().unwrap(), "/opt/"]);
    let inside = m.store.root.join("mach-copytree/opt/tree");
    assert_same_tree(&src, &inside);
    assert_eq!(m.sh(&["cat", "/opt/tree/etc/hostname"]), "fixture");

    // Back out: a link to / in the machine stays a link (never followed).
    m.ok(&[
        "shell",
        "mach-copytree",
        "ln",
        "-s",
        "/",
        "/opt/tree/escape",
    ]);
    let out = host.path().join("out");
    m.ok(&[
        "copy-from",
        "mach-copytree",
        "/opt/tree",
        out.to_str().unwrap(),
    ]);
    std::fs::remove_file(inside.join("escape")).unwrap();
    assert_eq!(
        std::fs::read_link(out.join("escape")).unwrap(),
        Path::new("/")
    );
    std::fs::remove_file(out.join("escape")).unwrap();
    // (the removals changed the top directories' times: compare the rest)
    let touch = |p: &Path| {
        let st = std::fs::metadata(&src).unwrap();
        let t = std::fs::FileTimes::new()
            .set_modified(st.modified().unwrap())
            .set_accessed(st.accessed().unwrap());
        std::fs::File::open(p).unwrap().set_times(t).unwrap();
    };
    touch(&out);
    assert_same_tree(&src, &out);

    // Copying again merges into the existing directory.
    m.ok(&[
        "copy-from",
        "mach-copytree",
        "/opt/tree",
        out.to_str().unwrap(),
    ]);
    assert!(out.join("tree").exists() && out.join("usr/bin/tool").exists());

    // A directory never replaces a non-directory, on either side; one line naming it.
    m.ok(&["shell", "mach-copytree", "sh", "-c", "echo x > /root/plain"]);
    m.fails(
        &[
            "copy-to",
            "mach-copytree",
            src.to_str().unwrap(),
            "/root/plain",
        ],
        "/root/plain: is not a directory in the machine, refusing to replace it with a directory",
    );
    let plain = host.path().join("plain");
    std::fs::write(&plain, "x").unwrap();
    m.fails(
        &[
            "copy-from",
            "mach-copytree",
            "/opt/tree",
            plain.to_str().unwrap(),
        ],
        "plain: is not a directory on the host, refusing to replace it with a directory",
    );
    // Mount points inside the machine are not crossed.
    m.fails(
        &[
            "copy-from",
            "mach-copytree",
            "/run",
            out.join("run").to_str().unwrap(),
        ],
        "/run",
    );
    m.ok(&["poweroff", "mach-copytree"]);
}
