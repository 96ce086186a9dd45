//! The paths a layer has written (the "upper" paths, with all their ancestors), as a trie of
//! path components: memory grows with the names in the archive, never with their depth
//! squared, and a lookup allocates nothing.

use std::collections::HashMap;

/// Trie of resolved paths (relative to the root, no symlinks). The root is always present.
#[derive(Default)]
pub(crate) struct Upper {
    /// (parent node, component) → node; node 0 is the root.
    nodes: HashMap<(usize, Vec<u8>), usize>,
    /// Reused lookup key.
    key: (usize, Vec<u8>),
}

impl Upper {
    fn child(&mut self, parent: usize, name: &[u8]) -> Option<usize> {
        self.key.0 = parent;
        self.key.1.clear();
        self.key.1.extend_from_slice(name);
        self.nodes.get(&self.key).copied()
    }

    /// Adds `parent/name` and its ancestors.
    pub(crate) fn insert_child(&mut self, parent: &[u8], name: &[u8]) {
        let mut node = 0;
        for comp in components(parent).chain(std::iter::once(name)) {
            node = match self.child(node, comp) {
                Some(n) => n,
                None => {
                    let n = self.nodes.len() + 1;
                    self.nodes.insert((node, comp.to_vec()), n);
                    n
                }
            };
        }
    }

    /// Whether this layer wrote `path` or something beneath it.
    pub(crate) fn contains(&mut self, path: &[u8]) -> bool {
        let mut node = 0;
        for comp in components(path) {
            match self.child(node, comp) {
                Some(n) => node = n,
                None => return false,
            }
        }
        true
    }
}

fn components(path: &[u8]) -> impl Iterator<Item = &[u8]> {
    path.split(|&b| b == b'/').filter(|c| !c.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ancestors_count() {
        let mut u = Upper::default();
        u.insert_child(b"a/b", b"c");
        u.insert_child(b"a/x", b"y");
        for p in ["", "a", "a/b", "a/b/c", "a/x", "a/x/y"] {
            assert!(u.contains(p.as_bytes()), "{p}");
        }
        for p in ["b", "a/c", "a/b/c/d", "a/bc", "x"] {
            assert!(!u.contains(p.as_bytes()), "{p}");
        }
        assert_eq!(u.nodes.len(), 5);
    }
}
