//! The plugin registry: the storage backends, importers and exporters the binary registered.

use std::path::Path;
use std::sync::Arc;

use crate::backend::StorageBackend;
use crate::image::Image;
use crate::plugin::{Exporter, Importer};

/// Plugins known to this process. The binary fills it; the core only looks things up.
#[derive(Default, Clone)]
pub struct Registry {
    storage: Vec<Arc<dyn StorageBackend>>,
    importers: Vec<Arc<dyn Importer>>,
    exporters: Vec<Arc<dyn Exporter>>,
}

impl Registry {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn register_storage(&mut self, backend: Arc<dyn StorageBackend>) -> &mut Self {
        self.storage.push(backend);
        self
    }

    pub fn register_importer(&mut self, importer: Arc<dyn Importer>) -> &mut Self {
        self.importers.push(importer);
        self
    }

    pub fn register_exporter(&mut self, exporter: Arc<dyn Exporter>) -> &mut Self {
        self.exporters.push(exporter);
        self
    }

    /// The first registered backend that manages directory `dir`, if any.
    pub fn storage_for(&self, dir: &Path) -> Option<Arc<dyn StorageBackend>> {
        self.storage.iter().find(|b| b.probe(dir)).cloned()
    }

    /// The first registered importer that recognises a stream starting with `head`.
    pub fn importer_for(&self, head: &[u8]) -> Option<Arc<dyn Importer>> {
        self.importers.iter().find(|i| i.sniff(head)).cloned()
    }

    /// The first registered exporter that accepts `image`.
    pub fn exporter_for(&self, image: &Image) -> Option<Arc<dyn Exporter>> {
        self.exporters.iter().find(|e| e.accepts(image)).cloned()
    }

    /// Names of the registered plugins, for `--version`-style reports.
    pub fn plugin_names(&self) -> Vec<&'static str> {
        let s = self.storage.iter().map(|b| b.name());
        let i = self.importers.iter().map(|b| b.name());
        let e = self.exporters.iter().map(|b| b.name());
        s.chain(i).chain(e).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Result;
    use crate::image::ImageType;
    use crate::progress::Progress;
    use std::io::Read;

    struct Magic(&'static str, &'static [u8]);
    impl Importer for Magic {
        fn name(&self) -> &'static str {
            self.0
        }
        fn produces(&self) -> ImageType {
            ImageType::Raw
        }
        fn sniff(&self, head: &[u8]) -> bool {
            head.starts_with(self.1)
        }
        fn import(&self, _: &mut dyn Read, _: &Path, _: &dyn Progress) -> Result<()> {
            Ok(())
        }
    }

    #[test]
    fn importer_dispatch_follows_magic_bytes() {
        let mut r = Registry::new();
        r.register_importer(Arc::new(Magic("qcow2", b"QFI\xfb")))
            .register_importer(Arc::new(Magic("gpt", b"\0\0")));
        assert_eq!(
            r.importer_for(b"QFI\xfb\0\0\0\x03").unwrap().name(),
            "qcow2"
        );
        assert_eq!(r.importer_for(b"\0\0\0").unwrap().name(), "gpt");
        assert!(r.importer_for(b"PK").is_none());
        assert_eq!(r.plugin_names(), vec!["qcow2", "gpt"]);
    }

    struct Only(&'static str);
    impl StorageBackend for Only {
        fn name(&self) -> &'static str {
            "only"
        }
        fn probe(&self, dir: &Path) -> bool {
            dir.starts_with(self.0)
        }
    }

    #[test]
    fn storage_lookup_probes_in_order_and_defaults_are_unsupported() {
        let mut r = Registry::new();
        r.register_storage(Arc::new(Only("/a")));
        let b = r.storage_for(Path::new("/a/b")).unwrap();
        assert!(r.storage_for(Path::new("/c")).is_none());
        let e = b.set_limit(Path::new("/a/b/x"), Some(1)).unwrap_err();
        assert!(e.to_string().contains("not supported"), "{e}");
        assert!(b.usage(Path::new("/a/b/x")).unwrap().is_none());
        assert!(!b.is_native_tree(Path::new("/a/b/x")));
    }
}
