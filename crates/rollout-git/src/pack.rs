//! Reading the versions of one file straight from the repository's packs, as [`Text`]s.
//!
//! Git stores most versions of a file as a delta of another version, in chains that start from
//! one full object. gix decodes each version into a buffer of its own, so every version of a
//! large file costs copies of the whole file. Here the full object is decompressed once and
//! each delta is applied to its base's pieces, so a version costs about what its delta weighs.
//! Objects no pack here holds (loose objects, alternates) are left to gix.

use std::collections::HashMap;
use std::path::Path;

use gix::ObjectId;
use gix::odb::pack::Bundle;
use gix::odb::pack::data::{self, entry::Header};

use crate::text::Text;

/// The packs of a repository, and the versions read from them so far.
pub(crate) struct PackedVersions {
    bundles: Vec<Bundle>,
    inflate: gix::zlib::Inflate,
    /// Where each text's own bytes are gathered.
    scratch: Vec<u8>,
    /// The full objects read, by (bundle, pack offset): where delta chains start.
    full: HashMap<(usize, u64), Text>,
    full_bytes: usize,
    /// The last texts made from deltas, with when each was last used: the bases of the deltas
    /// to come, which are most often versions just read.
    recent: HashMap<(usize, u64), (Text, u64)>,
    clock: u64,
}

/// At most this many bytes of full objects are kept, and this many texts made from deltas.
/// Keeping fewer texts lets their memory be reused; more would rarely spare a delta.
const MOST_FULL_BYTES: usize = 32 << 20;
const MOST_RECENT: usize = 8;
/// The longest delta chain followed; git's own limit is 4095.
const LONGEST_CHAIN: usize = 10_000;

impl PackedVersions {
    /// The packs in the `objects` directory. A pack that cannot be opened is left out: its
    /// objects are read through gix.
    pub fn open(objects: &Path, hash: gix::hash::Kind) -> Self {
        let indices = std::fs::read_dir(objects.join("pack"))
            .into_iter()
            .flatten();
        let bundles = indices
            .filter_map(|entry| {
                let path = entry.ok()?.path();
                let is_index = path.extension().is_some_and(|e| e == "idx");
                is_index.then(|| Bundle::at(&path, hash).ok()).flatten()
            })
            .collect();
        PackedVersions {
            bundles,
            inflate: gix::zlib::Inflate::default(),
            scratch: Vec::new(),
            full: HashMap::new(),
            full_bytes: 0,
            recent: HashMap::new(),
            clock: 0,
        }
    }

    /// The content of blob `id`, or `None` when no pack here holds it, or the base of one of
    /// its deltas (a thin pack's, stored loose).
    pub fn read(&mut self, id: &ObjectId) -> Result<Option<Text>, String> {
        match self.locate(id) {
            Some((bundle, offset)) => self.text_at(bundle, offset),
            None => Ok(None),
        }
    }

    fn locate(&self, id: &ObjectId) -> Option<(usize, u64)> {
        self.bundles.iter().enumerate().find_map(|(i, bundle)| {
            let index = bundle.index.lookup(id)?;
            Some((i, bundle.index.pack_offset_at_index(index)))
        })
    }

    /// Follows the chain of deltas back to a text already read or a full object, then applies
    /// the deltas forward, keeping each text made on the way: it is the base of the next.
    fn text_at(&mut self, bundle: usize, offset: u64) -> Result<Option<Text>, String> {
        let mut deltas: Vec<(usize, data::Entry)> = Vec::new();
        let (mut bundle, mut offset) = (bundle, offset);
        let mut text = loop {
            if let Some(text) = self.known(bundle, offset) {
                break text;
            }
            if deltas.len() > LONGEST_CHAIN {
                return Err(format!("a delta chain is longer than {LONGEST_CHAIN}"));
            }
            let pack = &self.bundles[bundle].pack;
            let entry = pack.entry(offset).map_err(|e| e.to_string())?;
            let base = match entry.header {
                Header::Blob => {
                    let text = Text::whole(self.decompress(bundle, &entry)?);
                    if self.full_bytes + text.len() > MOST_FULL_BYTES {
                        self.full.clear();
                        self.full_bytes = 0;
                    }
                    self.full_bytes += text.len();
                    self.full.insert((bundle, offset), text.clone());
                    break text;
                }
                Header::OfsDelta { base_distance } => entry
                    .checked_base_pack_offset(base_distance)
                    .map(|base| (bundle, base)),
                Header::RefDelta { base_id } => self.locate(&base_id),
                other => return Err(format!("a blob is stored as a {other:?} in a pack")),
            };
            deltas.push((bundle, entry));
            let Some(base) = base else { return Ok(None) };
            (bundle, offset) = base;
        };
        while let Some((bundle, entry)) = deltas.pop() {
            let delta = self.decompress(bundle, &entry)?;
            text = text
                .patch(&delta, &mut self.scratch, crate::text::SHORT)
                .map_err(|e| e.to_string())?;
            self.keep(bundle, entry.pack_offset(), &text);
        }
        Ok(Some(text))
    }

    fn decompress(&mut self, bundle: usize, entry: &data::Entry) -> Result<Vec<u8>, String> {
        let size = usize::try_from(entry.decompressed_size).map_err(|e| e.to_string())?;
        // The size comes from the pack: one too large for memory is an error, not an abort.
        let mut out = Vec::new();
        out.try_reserve_exact(size).map_err(|e| e.to_string())?;
        out.resize(size, 0);
        let pack = &self.bundles[bundle].pack;
        pack.decompress_entry(entry, &mut self.inflate, &mut out)
            .map_err(|e| e.to_string())?;
        Ok(out)
    }

    fn known(&mut self, bundle: usize, offset: u64) -> Option<Text> {
        if let Some(text) = self.full.get(&(bundle, offset)) {
            return Some(text.clone());
        }
        self.clock += 1;
        let (text, used) = self.recent.get_mut(&(bundle, offset))?;
        *used = self.clock;
        Some(text.clone())
    }

    /// Keeps `text`, made from a delta, as the base of deltas to come, in place of the least
    /// recently used one.
    fn keep(&mut self, bundle: usize, offset: u64, text: &Text) {
        if self.recent.len() >= MOST_RECENT {
            let oldest = self.recent.iter().min_by_key(|(_, (_, used))| *used);
            if let Some(key) = oldest.map(|(key, _)| *key) {
                self.recent.remove(&key);
            }
        }
        self.clock += 1;
        self.recent
            .insert((bundle, offset), (text.clone(), self.clock));
    }
}
