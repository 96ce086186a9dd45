//! Unit tests of discovery and staging on plain directories (no root needed for most).

use std::fs;
use std::path::Path;

use super::Store;
use crate::error::ErrorKind;
use crate::image::ImageType;
use crate::registry::Registry;

fn store(roots: &[&Path]) -> Store {
    Store::with_search_path(
        roots.iter().map(|p| p.to_path_buf()).collect(),
        roots[0].to_path_buf(),
        Registry::new(),
    )
}

#[test]
fn first_match_of_a_name_wins_across_the_search_path() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    fs::create_dir(a.path().join("x")).unwrap();
    fs::write(b.path().join("x.raw"), b"shadowed").unwrap();
    fs::write(b.path().join("y.raw"), b"only in b").unwrap();
    fs::create_dir(b.path().join(".h")).unwrap();
    let s = store(&[a.path(), b.path()]);
    let names: Vec<(String, ImageType)> = s
        .list(false)
        .unwrap()
        .into_iter()
        .map(|i| (i.name, i.kind))
        .collect();
    assert_eq!(
        names,
        vec![
            ("x".into(), ImageType::Directory),
            ("y".into(), ImageType::Raw)
        ]
    );
    assert_eq!(s.find("x").unwrap().path, a.path().join("x"));
    assert_eq!(s.list(true).unwrap().len(), 3);
    assert!(
        s.find(".h").unwrap().read_only,
        "hidden images are read-only"
    );
    assert_eq!(s.find("nope").unwrap_err().kind(), ErrorKind::NotFound);
    assert_eq!(s.find("a/b").unwrap_err().kind(), ErrorKind::InvalidName);
}

#[test]
fn directory_beats_raw_of_the_same_name_in_one_root() {
    let a = tempfile::tempdir().unwrap();
    fs::create_dir(a.path().join("x")).unwrap();
    fs::write(a.path().join("x.raw"), b"").unwrap();
    let s = store(&[a.path()]);
    assert_eq!(s.find("x").unwrap().kind, ImageType::Directory);
    assert_eq!(s.list(false).unwrap().len(), 1);
}

#[test]
fn staging_is_invisible_until_commit_and_removed_when_dropped() {
    let a = tempfile::tempdir().unwrap();
    let s = store(&[a.path()]);
    let st = s.stage("new", ImageType::Directory, false).unwrap();
    st.create_tree().unwrap();
    fs::write(st.path().join("f"), b"x").unwrap();
    let staged = st.path().to_path_buf();
    let name = staged.file_name().unwrap().to_str().unwrap().to_string();
    assert!(
        name.starts_with(".#new") && name.len() == ".#new".len() + 16,
        "{name}"
    );
    assert!(s.list(true).unwrap().is_empty());
    // The name is busy while staged.
    assert_eq!(
        s.stage("new", ImageType::Directory, false)
            .unwrap_err()
            .kind(),
        ErrorKind::Busy
    );
    drop(st);
    assert!(!staged.exists());
    assert_eq!(fs::read_dir(a.path()).unwrap().count(), 0, "no residue");
}

#[test]
fn commit_never_replaces_without_force_and_swaps_with_force() {
    let a = tempfile::tempdir().unwrap();
    let s = store(&[a.path()]);
    let st = s.stage("img", ImageType::Directory, false).unwrap();
    st.create_tree().unwrap();
    // Someone else creates the name behind our back (not through the store).
    fs::create_dir(a.path().join("img")).unwrap();
    fs::write(a.path().join("img/old"), b"old").unwrap();
    assert_eq!(st.commit(false).unwrap_err().kind(), ErrorKind::Exists);
    assert!(a.path().join("img/old").exists());
    assert_eq!(
        s.stage("img", ImageType::Directory, false)
            .unwrap_err()
            .kind(),
        ErrorKind::Exists
    );

    let st = s.stage("img", ImageType::Directory, true).unwrap();
    st.create_tree().unwrap();
    fs::write(st.path().join("new"), b"new").unwrap();
    let img = st.commit(false).unwrap();
    assert!(img.path.join("new").exists() && !img.path.join("old").exists());
    let left: Vec<_> = fs::read_dir(a.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        left,
        vec![std::ffi::OsString::from("img")],
        "old image and lock removed"
    );
}

#[test]
fn force_replaces_an_image_of_the_other_kind() {
    let a = tempfile::tempdir().unwrap();
    let s = store(&[a.path()]);
    fs::write(a.path().join("img.raw"), b"raw").unwrap();
    let st = s.stage("img", ImageType::Directory, true).unwrap();
    st.create_tree().unwrap();
    assert_eq!(st.commit(false).unwrap().kind, ImageType::Directory);
    assert!(!a.path().join("img.raw").exists());
}

#[test]
fn sidecars_are_installed_at_commit() {
    let a = tempfile::tempdir().unwrap();
    let src = tempfile::NamedTempFile::new().unwrap();
    fs::write(src.path(), b"[Exec]\n").unwrap();
    let s = store(&[a.path()]);
    let mut st = s.stage("m", ImageType::Raw, false).unwrap();
    fs::write(st.path(), b"disk").unwrap();
    st.add_sidecar(src.path(), ".nspawn").unwrap();
    assert!(!a.path().join("m.nspawn").exists());
    let img = st.commit(true).unwrap();
    assert!(img.read_only, "raw committed read-only has mode 0444");
    assert_eq!(fs::read(a.path().join("m.nspawn")).unwrap(), b"[Exec]\n");
}
