//! Reading the versions of one file straight from the repository's packs, as [`Text`]s.
//!
//! Git stores most versions of a file as a delta of another version, in chains that start from
//! one full object. gix decodes each version into a buffer of its own, so every version of a
//! large file costs copies of the whole file. Here the full object is decompressed once and
//! each delta is applied to its base's pieces, so a version costs about what its delta weighs.
//! Objects no pack here holds (loose objects, alternates), and objects larger than
//! [`MOST_BYTES`], are left to gix.
//!
//! Packs are untrusted input. Every entry read is checked against the CRC-32 its index holds
//! before its header is parsed, and the sizes in headers are bounded before anything is
//! allocated from them: by [`MOST_BYTES`], and by what zlib can make of the entry's bytes.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use gix::ObjectId;
use gix::odb::pack::Bundle;
use gix::odb::pack::data::{self, entry::Header};

use crate::text::{self, DeltaError, Text};

/// Why a blob could not be read from a pack: the pack is corrupt. Offsets are those of entries
/// in the pack file.
#[derive(Debug, thiserror::Error)]
pub enum PackError {
    #[error("{pack} has no entry at offset {offset} that its index lists")]
    NotIndexed { pack: PathBuf, offset: u64 },
    #[error(
        "the entry at offset {offset} of {pack} has the CRC-32 {found:08x}, and its index says \
         {expected:08x}"
    )]
    Checksum {
        pack: PathBuf,
        offset: u64,
        found: u32,
        expected: u32,
    },
    #[error("the entry at offset {offset} of {pack} cannot be read")]
    Entry {
        pack: PathBuf,
        offset: u64,
        #[source]
        source: gix::Error,
    },
    #[error(
        "the entry at offset {offset} of {pack} says it holds {size} bytes, more than zlib can \
         make of its {compressed}"
    )]
    Oversized {
        pack: PathBuf,
        offset: u64,
        size: u64,
        compressed: u64,
    },
    #[error("the entry at offset {offset} of {pack} cannot be inflated")]
    Inflate {
        pack: PathBuf,
        offset: u64,
        #[source]
        source: gix::Error,
    },
    #[error("the entry at offset {offset} of {pack} is a {kind}, not a blob or a delta")]
    NotABlob {
        pack: PathBuf,
        offset: u64,
        kind: String,
    },
    #[error("the delta at offset {offset} of {pack} names a base {distance} bytes before it")]
    BaseOutside {
        pack: PathBuf,
        offset: u64,
        distance: u64,
    },
    #[error("the delta at offset {offset} of {pack} cannot be applied")]
    Delta {
        pack: PathBuf,
        offset: u64,
        #[source]
        source: DeltaError,
    },
    #[error("the delta chain at offset {offset} of {pack} is longer than {LONGEST_CHAIN}")]
    ChainTooLong { pack: PathBuf, offset: u64 },
}

type Result<T, E = PackError> = std::result::Result<T, E>;

/// The packs of a repository, and the versions read from them so far.
pub(crate) struct PackedVersions {
    packs: Vec<Pack>,
    inflate: gix::zlib::Inflate,
    /// Where each text's own bytes are gathered.
    scratch: Vec<u8>,
    /// The full objects read, by (pack, offset): where delta chains start.
    full: HashMap<(usize, u64), Text>,
    full_bytes: usize,
    /// The last texts made from deltas, with when each was last used: the bases of the deltas
    /// to come, which are most often versions just read.
    recent: HashMap<(usize, u64), (Text, u64)>,
    clock: u64,
}

/// A pack and its index.
struct Pack {
    bundle: Bundle,
    /// The offset and index position of each of the index's entries, in the order of their
    /// offsets, made when the first entry is read: what finds an entry's end and CRC-32 from
    /// its offset (as git's reverse index does).
    by_offset: Vec<(u64, u32)>,
}

/// The largest object read here, full or made by a delta, and the most bytes of full objects
/// kept (one larger object would leave room for no other). Larger objects are read by gix,
/// within its allocation limit.
const MOST_BYTES: usize = 32 << 20;
/// At most this many texts made from deltas are kept. Keeping fewer lets their memory be
/// reused; more would rarely spare a delta.
const MOST_RECENT: usize = 8;
/// The longest delta chain followed; git's own limit is 4095.
const LONGEST_CHAIN: usize = 10_000;
/// The most bytes zlib makes of one compressed byte: one bit for a length and one for a
/// distance, which copy 258 bytes.
const MOST_INFLATED_PER_BYTE: u64 = 1032;

impl PackedVersions {
    /// The packs in the `objects` directory. A pack that cannot be opened is left out: its
    /// objects are read through gix.
    pub fn open(objects: &Path, hash: gix::hash::Kind) -> Self {
        let indices = std::fs::read_dir(objects.join("pack"))
            .into_iter()
            .flatten();
        let packs = indices
            .filter_map(|entry| {
                let path = entry.ok()?.path();
                let is_index = path.extension().is_some_and(|e| e == "idx");
                is_index.then(|| Bundle::at(&path, hash).ok()).flatten()
            })
            .map(|bundle| Pack {
                bundle,
                by_offset: Vec::new(),
            })
            .collect();
        PackedVersions {
            packs,
            inflate: gix::zlib::Inflate::default(),
            scratch: Vec::new(),
            full: HashMap::new(),
            full_bytes: 0,
            recent: HashMap::new(),
            clock: 0,
        }
    }

    /// The content of blob `id`, or `None` when no pack here holds it, or the base of one of
    /// its deltas (a thin pack's, stored loose), or it is larger than [`MOST_BYTES`].
    pub fn read(&mut self, id: &ObjectId) -> Result<Option<Text>> {
        match self.locate(id) {
            Some((pack, offset)) => self.text_at(pack, offset),
            None => Ok(None),
        }
    }

    fn locate(&self, id: &ObjectId) -> Option<(usize, u64)> {
        self.packs.iter().enumerate().find_map(|(i, pack)| {
            let index = &pack.bundle.index;
            Some((i, index.pack_offset_at_index(index.lookup(id)?)))
        })
    }

    /// Follows the chain of deltas back to a text already read or a full object, then applies
    /// the deltas forward, keeping each text made on the way: it is the base of the next.
    fn text_at(&mut self, pack: usize, offset: u64) -> Result<Option<Text>> {
        let mut deltas: Vec<(usize, data::Entry, u64)> = Vec::new();
        let (mut pack, mut offset) = (pack, offset);
        let mut text = loop {
            if let Some(text) = self.known(pack, offset) {
                break text;
            }
            if deltas.len() > LONGEST_CHAIN {
                let path = self.path(pack);
                return Err(PackError::ChainTooLong { pack: path, offset });
            }
            let (entry, end) = self.entry(pack, offset)?;
            let base = match entry.header {
                Header::Blob => match self.decompress(pack, &entry, end)? {
                    Some(data) => break self.keep_full(pack, offset, data),
                    None => return Ok(None),
                },
                Header::OfsDelta { base_distance } => Some(
                    entry
                        .checked_base_pack_offset(base_distance)
                        .map(|base| (pack, base))
                        .ok_or_else(|| PackError::BaseOutside {
                            pack: self.path(pack),
                            offset,
                            distance: base_distance,
                        })?,
                ),
                Header::RefDelta { base_id } => self.locate(&base_id),
                other => return Err(self.not_a_blob(pack, offset, other)),
            };
            deltas.push((pack, entry, end));
            let Some(base) = base else { return Ok(None) };
            (pack, offset) = base;
        };
        while let Some((pack, entry, end)) = deltas.pop() {
            let Some(next) = self.apply(pack, &entry, end, &text)? else {
                return Ok(None);
            };
            text = next;
            self.keep(pack, entry.pack_offset(), &text);
        }
        Ok(Some(text))
    }

    /// The text the delta `entry` makes of `base`, or `None` when it would be larger than
    /// [`MOST_BYTES`].
    fn apply(
        &mut self,
        pack: usize,
        entry: &data::Entry,
        end: u64,
        base: &Text,
    ) -> Result<Option<Text>> {
        let Some(delta) = self.decompress(pack, entry, end)? else {
            return Ok(None);
        };
        let offset = entry.pack_offset();
        let path = self.path(pack);
        let invalid = |source| PackError::Delta {
            pack: path.clone(),
            offset,
            source,
        };
        if text::declared_len(&delta).map_err(invalid)? > MOST_BYTES {
            return Ok(None);
        }
        base.patch(&delta, &mut self.scratch, text::SHORT)
            .map(Some)
            .map_err(invalid)
    }

    /// The entry at `offset`, and where it ends, once its bytes are the ones its index vouches
    /// for.
    fn entry(&mut self, pack: usize, offset: u64) -> Result<(data::Entry, u64)> {
        let end = self.verified_end(pack, offset)?;
        let entry = self.packs[pack]
            .bundle
            .pack
            .entry(offset)
            .map_err(|source| PackError::Entry {
                pack: self.path(pack),
                offset,
                source,
            })?;
        Ok((entry, end))
    }

    /// Where the entry at `offset` ends (where the next one starts), after checking its bytes
    /// against the CRC-32 its index holds (version 2 indices; version 1 has none).
    fn verified_end(&mut self, pack: usize, offset: u64) -> Result<u64> {
        let Pack { bundle, by_offset } = &mut self.packs[pack];
        let index = &bundle.index;
        if by_offset.is_empty() {
            // Each offset is read from the index once, not at every comparison of the sort.
            let positions = 0..index.num_objects();
            by_offset.extend(positions.map(|i| (index.pack_offset_at_index(i), i)));
            by_offset.sort_unstable();
        }
        let at = by_offset.partition_point(|&(at, _)| at < offset);
        let pack_end = bundle.pack.pack_end() as u64;
        let end = by_offset.get(at + 1).map_or(pack_end, |&(next, _)| next);
        let position = by_offset
            .get(at)
            .filter(|&&(at, _)| at == offset && offset < end && end <= pack_end)
            .map(|&(_, position)| position);
        let path = || bundle.pack.path().to_owned();
        let Some(position) = position else {
            return Err(PackError::NotIndexed {
                pack: path(),
                offset,
            });
        };
        if let Some(expected) = index.crc32_at_index(position) {
            let found = bundle.pack.entry_crc32(offset, (end - offset) as usize);
            if found != expected {
                return Err(PackError::Checksum {
                    pack: path(),
                    offset,
                    found,
                    expected,
                });
            }
        }
        Ok(end)
    }

    /// The decompressed data of `entry`, which ends at `end`; `None` when it is larger than
    /// [`MOST_BYTES`]. Its size comes from the pack: it is bounded before it is allocated.
    fn decompress(
        &mut self,
        pack: usize,
        entry: &data::Entry,
        end: u64,
    ) -> Result<Option<Vec<u8>>> {
        let offset = entry.pack_offset();
        let compressed = end.saturating_sub(entry.data_offset);
        let size = entry.decompressed_size;
        if size > compressed.saturating_mul(MOST_INFLATED_PER_BYTE) {
            let pack = self.path(pack);
            return Err(PackError::Oversized {
                pack,
                offset,
                size,
                compressed,
            });
        }
        let Some(size) = usize::try_from(size).ok().filter(|&s| s <= MOST_BYTES) else {
            return Ok(None);
        };
        let mut out = vec![0; size];
        let file = &self.packs[pack].bundle.pack;
        file.decompress_entry(entry, &mut self.inflate, &mut out)
            .map_err(|source| PackError::Inflate {
                pack: file.path().to_owned(),
                offset,
                source,
            })?;
        Ok(Some(out))
    }

    /// Keeps the full object at `offset`, where delta chains start, within [`MOST_BYTES`].
    fn keep_full(&mut self, pack: usize, offset: u64, data: Vec<u8>) -> Text {
        let text = Text::whole(data);
        if self.full_bytes + text.len() > MOST_BYTES {
            self.full.clear();
            self.full_bytes = 0;
        }
        self.full_bytes += text.len();
        self.full.insert((pack, offset), text.clone());
        text
    }

    fn known(&mut self, pack: usize, offset: u64) -> Option<Text> {
        if let Some(text) = self.full.get(&(pack, offset)) {
            return Some(text.clone());
        }
        self.clock += 1;
        let (text, used) = self.recent.get_mut(&(pack, offset))?;
        *used = self.clock;
        Some(text.clone())
    }

    /// Keeps `text`, made from a delta, as the base of deltas to come, in place of the least
    /// recently used one.
    fn keep(&mut self, pack: usize, offset: u64, text: &Text) {
        if self.recent.len() >= MOST_RECENT {
            let oldest = self.recent.iter().min_by_key(|(_, (_, used))| *used);
            if let Some(key) = oldest.map(|(key, _)| *key) {
                self.recent.remove(&key);
            }
        }
        self.clock += 1;
        self.recent
            .insert((pack, offset), (text.clone(), self.clock));
    }

    fn path(&self, pack: usize) -> PathBuf {
        self.packs[pack].bundle.pack.path().to_owned()
    }

    fn not_a_blob(&self, pack: usize, offset: u64, header: Header) -> PackError {
        let kind = header.as_kind().map(|k| k.to_string());
        PackError::NotABlob {
            pack: self.path(pack),
            offset,
            kind: kind.unwrap_or_else(|| format!("{header:?}")),
        }
    }
}
