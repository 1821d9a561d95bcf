//! The content of a file version as git's deltas describe it: a list of pieces of shared chunks
//! (the full object a delta chain starts from, and each version's own short runs: the bytes its
//! delta inserted, and the short copies it made), never copied into one buffer.
//!
//! A version of a large file that git stores as a small delta of another version costs about
//! what its delta costs: applying the delta slices the pieces of its base, and a search for a
//! pattern searches each chunk once, then maps the chunk's matches to every version that shares
//! it. Only the ranges a reader asks for are copied.

use std::cell::RefCell;
use std::ops::Range;
use std::rc::Rc;

use memchr::memmem;

/// Bytes shared by the versions made from them, with the positions of the patterns searched in
/// them so far.
#[derive(Debug)]
struct Chunk {
    data: Vec<u8>,
    /// A full object, shared by every version made from it; otherwise, one text's own bytes.
    full: bool,
    found: RefCell<Vec<Found>>,
}

/// A pattern, and where it starts in a chunk.
type Found = (Vec<u8>, Rc<[usize]>);

impl Chunk {
    fn new(data: Vec<u8>, full: bool) -> Rc<Chunk> {
        Rc::new(Chunk {
            data,
            full,
            found: RefCell::new(Vec::new()),
        })
    }

    /// Where `pattern` starts in the chunk, ascending (overlapping matches included).
    fn positions(&self, pattern: &[u8]) -> Rc<[usize]> {
        if let Some((_, found)) = self.found.borrow().iter().find(|(p, _)| p == pattern) {
            return found.clone();
        }
        let found: Rc<[usize]> = overlapping(&self.data, pattern).collect();
        self.found
            .borrow_mut()
            .push((pattern.to_vec(), found.clone()));
        found
    }
}

/// Every start of `pattern` in `data`, overlapping ones included, ascending.
fn overlapping<'a>(data: &'a [u8], pattern: &'a [u8]) -> impl Iterator<Item = usize> + 'a {
    let finder = memmem::Finder::new(pattern);
    let mut from = 0;
    std::iter::from_fn(move || {
        let at = from + finder.find(data.get(from..)?)?;
        from = at + 1;
        Some(at)
    })
}

/// `len` bytes of `chunk` from `start`, at `at` in the text.
#[derive(Debug, Clone)]
struct Piece {
    at: usize,
    chunk: Rc<Chunk>,
    start: usize,
    len: usize,
}

impl Piece {
    fn bytes(&self) -> &[u8] {
        &self.chunk.data[self.start..self.start + self.len]
    }
}

/// The content of one version of a file.
#[derive(Debug, Clone, Default)]
pub struct Text {
    pieces: Vec<Piece>,
    len: usize,
}

/// Why a delta could not be applied: the pack that holds it is corrupt. Positions are bytes
/// into the delta.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeltaError {
    #[error("its header is cut short")]
    HeaderCutShort,
    #[error("a size in its header is longer than 64 bits")]
    SizeTooLong,
    #[error("it is for a base of {declared} bytes, and its base has {base}")]
    BaseSize { declared: usize, base: usize },
    #[error("the copy at byte {at} is cut short")]
    CopyCutShort { at: usize },
    #[error("the copy at byte {at} takes {size} bytes from {offset}, beyond its base of {base}")]
    CopyBeyondBase {
        at: usize,
        offset: usize,
        size: usize,
        base: usize,
    },
    #[error("the insert at byte {at} runs past its end")]
    InsertPastEnd { at: usize },
    #[error("byte {at} is the reserved instruction 0")]
    Reserved { at: usize },
    #[error("the instruction at byte {at} makes more than the {declared} bytes it declares")]
    BeyondResult { at: usize, declared: usize },
    #[error("it makes {made} bytes, not the {declared} it declares")]
    ShortResult { made: usize, declared: usize },
}

/// Ranges of a full object shorter than this are copied into a text's own chunk rather than
/// shared (see [`Builder`]).
pub(crate) const SHORT: usize = 1024;

impl Text {
    /// A text that is all of `data`.
    pub fn whole(data: Vec<u8>) -> Text {
        let len = data.len();
        let pieces = vec![Piece {
            at: 0,
            chunk: Chunk::new(data, true),
            start: 0,
            len,
        }];
        let pieces = if len == 0 { Vec::new() } else { pieces };
        Text { pieces, len }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// How many pieces the text is made of.
    #[cfg(test)]
    fn pieces(&self) -> usize {
        self.pieces.len()
    }

    /// The pieces `range` overlaps, each with the part of it inside `range` (as a range of its
    /// chunk).
    fn parts(&self, range: Range<usize>) -> impl Iterator<Item = (&Piece, Range<usize>)> {
        let first = self.pieces.partition_point(|p| p.at + p.len <= range.start);
        self.pieces[first..]
            .iter()
            .take_while(move |p| p.at < range.end)
            .map(move |p| {
                let from = range.start.max(p.at) - p.at + p.start;
                let to = range.end.min(p.at + p.len) - p.at + p.start;
                (p, from..to)
            })
    }

    /// Appends the bytes of `range` (cut to the text) to `out`.
    pub fn copy_range(&self, range: Range<usize>, out: &mut Vec<u8>) {
        let range = range.start.min(self.len)..range.end.min(self.len);
        for (piece, part) in self.parts(range) {
            out.extend_from_slice(&piece.chunk.data[part]);
        }
    }

    /// The whole content in one buffer.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.len);
        self.copy_range(0..self.len, &mut out);
        out
    }

    /// Every position where `pattern` starts, overlapping matches included, ascending. Each
    /// chunk is searched once for a pattern, whatever the number of texts sharing it.
    pub fn positions(&self, pattern: &[u8]) -> Vec<usize> {
        let mut found = Vec::new();
        if pattern.is_empty() {
            return found;
        }
        for piece in &self.pieces {
            let inside = piece.chunk.positions(pattern);
            let from = inside.partition_point(|&at| at < piece.start);
            let to = inside.partition_point(|&at| at + pattern.len() <= piece.start + piece.len);
            let shift = |at: &usize| piece.at + at - piece.start;
            found.extend(inside[from..to.max(from)].iter().map(shift));
        }
        for i in 1..self.pieces.len() {
            self.across(i, pattern, &mut found);
        }
        found.sort_unstable();
        found.dedup();
        found
    }

    /// Adds the matches of `pattern` that start in the piece before piece `i` and end in piece
    /// `i` or after it.
    fn across(&self, i: usize, pattern: &[u8], found: &mut Vec<usize>) {
        let (left, right) = (&self.pieces[i - 1], &self.pieces[i]);
        let reach = pattern.len() - 1;
        let join = right.at;
        if left.len >= reach && right.len >= reach {
            let tail = &left.bytes()[left.len - reach..];
            let head = &right.bytes()[..reach];
            for k in memchr::memchr_iter(pattern[0], tail) {
                let (before, after) = pattern.split_at(reach - k);
                if tail[k..] == *before && head.starts_with(after) {
                    found.push(join - before.len());
                }
            }
            return;
        }
        // A piece shorter than the pattern: read the bytes around the join.
        let start = join - reach.min(join);
        let mut window = Vec::new();
        self.copy_range(start..join + reach, &mut window);
        let spans = |at: &usize| *at < join && at + pattern.len() > join;
        found.extend(
            overlapping(&window, pattern)
                .map(|at| start + at)
                .filter(spans),
        );
    }

    /// The text git's `delta` makes of `self` (the delta's base): each copy instruction takes
    /// the pieces of a range of the base, each insert a piece of the delta itself, and ranges of
    /// full objects shorter than `short` are copied ([`SHORT`] for the packs). Every instruction
    /// is checked against the result size the delta declares before it is applied, so a corrupt
    /// delta never makes more than it declared. `scratch` is where the text's own bytes are
    /// gathered: reusing one spares growing a new buffer for every text.
    pub(crate) fn patch(
        &self,
        delta: &[u8],
        scratch: &mut Vec<u8>,
        short: usize,
    ) -> Result<Text, DeltaError> {
        let (declared, result_len, mut at) = header(delta)?;
        if declared != self.len {
            return Err(DeltaError::BaseSize {
                declared,
                base: self.len,
            });
        }
        scratch.clear();
        let mut text = Builder {
            pieces: Vec::new(),
            own: scratch,
            len: 0,
            short,
        };
        while let Some(&op) = delta.get(at) {
            let start = at;
            at += 1;
            let room = result_len - text.len;
            let beyond = DeltaError::BeyondResult {
                at: start,
                declared: result_len,
            };
            if op & 0x80 != 0 {
                let (offset, size) = copy_instruction(op, delta, &mut at)
                    .ok_or(DeltaError::CopyCutShort { at: start })?;
                if size > room {
                    return Err(beyond);
                }
                self.copy_to(&mut text, start, offset, size)?;
            } else if op != 0 {
                let size = usize::from(op);
                if size > room {
                    return Err(beyond);
                }
                let bytes = delta
                    .get(at..at + size)
                    .ok_or(DeltaError::InsertPastEnd { at: start })?;
                text.copy(bytes);
                at += size;
            } else {
                return Err(DeltaError::Reserved { at: start });
            }
        }
        if text.len != result_len {
            return Err(DeltaError::ShortResult {
                made: text.len,
                declared: result_len,
            });
        }
        Ok(text.finish())
    }

    /// Adds the pieces of `size` bytes of `self` from `offset` to `text`: the copy instruction
    /// at byte `at` of a delta.
    fn copy_to(
        &self,
        text: &mut Builder<'_>,
        at: usize,
        offset: usize,
        size: usize,
    ) -> Result<(), DeltaError> {
        let end = offset
            .checked_add(size)
            .filter(|&end| end <= self.len)
            .ok_or(DeltaError::CopyBeyondBase {
                at,
                offset,
                size,
                base: self.len,
            })?;
        for (piece, part) in self.parts(offset..end) {
            text.push(&piece.chunk, part.start, part.len());
        }
        Ok(())
    }
}

/// The size of the result `delta` declares: what applying it may make at most.
pub(crate) fn declared_len(delta: &[u8]) -> Result<usize, DeltaError> {
    header(delta).map(|(_, result, _)| result)
}

/// The base and result sizes a delta starts with, and where its instructions start.
fn header(delta: &[u8]) -> Result<(usize, usize, usize), DeltaError> {
    let mut at = 0;
    let base = varint(delta, &mut at)?;
    let result = varint(delta, &mut at)?;
    Ok((base, result, at))
}

/// Builds a text piece by piece. Short pieces are copied into a chunk of the text's own: git's
/// deltas spell a changed region with many copies of a few bytes each from all over their base
/// (one delta on Argo CD's manifest has 663 of them), and a text of that many pieces would cost
/// more to search than its bytes. What a text holds that is not in its full object is a few
/// kilobytes: copying it is cheap.
struct Builder<'s> {
    /// The chunk and range of each piece; no chunk: the range is in `own`.
    pieces: Vec<(Option<Rc<Chunk>>, Range<usize>)>,
    own: &'s mut Vec<u8>,
    len: usize,
    /// Ranges of full objects shorter than this are copied into `own`.
    short: usize,
}

impl Builder<'_> {
    /// Appends `len` bytes of `chunk` from `start`, joined with the last piece when they follow
    /// it in the same chunk. Only long ranges of full objects are shared; the rest is copied,
    /// so that a text holds on to no other text's bytes, and its memory is reused once it is
    /// dropped.
    fn push(&mut self, chunk: &Rc<Chunk>, start: usize, len: usize) {
        if len < self.short || !chunk.full {
            return self.copy(&chunk.data[start..start + len]);
        }
        self.len += len;
        match self.pieces.last_mut() {
            Some((Some(last), range)) if Rc::ptr_eq(last, chunk) && range.end == start => {
                range.end += len;
            }
            _ => self.pieces.push((Some(chunk.clone()), start..start + len)),
        }
    }

    /// Appends `bytes` to the text's own chunk.
    fn copy(&mut self, bytes: &[u8]) {
        let start = self.own.len();
        self.own.extend_from_slice(bytes);
        self.len += bytes.len();
        match self.pieces.last_mut() {
            Some((None, range)) if range.end == start => range.end += bytes.len(),
            _ => self.pieces.push((None, start..start + bytes.len())),
        }
    }

    fn finish(self) -> Text {
        // The text takes the bytes gathered, and leaves a buffer as large for the next one.
        let capacity = self.own.capacity();
        let own = Chunk::new(
            std::mem::replace(self.own, Vec::with_capacity(capacity)),
            false,
        );
        let mut text = Text::default();
        for (chunk, range) in self.pieces.into_iter().filter(|(_, r)| !r.is_empty()) {
            text.pieces.push(Piece {
                at: text.len,
                chunk: chunk.unwrap_or_else(|| own.clone()),
                start: range.start,
                len: range.len(),
            });
            text.len += range.len();
        }
        text
    }
}

/// A size in a delta's header: little-endian groups of 7 bits.
fn varint(data: &[u8], at: &mut usize) -> Result<usize, DeltaError> {
    let mut value: usize = 0;
    for shift in (0..64).step_by(7) {
        let byte = *data.get(*at).ok_or(DeltaError::HeaderCutShort)?;
        *at += 1;
        value |= usize::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(DeltaError::SizeTooLong)
}

/// The offset and size of the copy instruction `op`, whose bits say which bytes follow it from
/// `at`; `None` when the delta ends first.
fn copy_instruction(op: u8, data: &[u8], at: &mut usize) -> Option<(usize, usize)> {
    let mut fields = [0usize; 2];
    for (bit, shift) in (0..7).zip([0, 8, 16, 24, 0, 8, 16]) {
        if op & (1 << bit) != 0 {
            let byte = *data.get(*at)?;
            *at += 1;
            fields[usize::from(bit >= 4)] |= usize::from(byte) << shift;
        }
    }
    let [offset, size] = fields;
    Some((offset, if size == 0 { 0x10000 } else { size }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// One instruction of a delta: copy `len` bytes of the base from `from`, or insert bytes.
    #[derive(Debug, Clone)]
    enum Op {
        Copy { from: usize, len: usize },
        Insert(Vec<u8>),
    }

    /// Encodes `ops` as git does (sizes, then instructions), applied to a base of `base_len`.
    fn encode(base_len: usize, ops: &[Op]) -> (Vec<u8>, usize) {
        let mut body = Vec::new();
        let mut result_len = 0;
        for op in ops {
            match op {
                Op::Copy { from, len } => {
                    let mut instruction = vec![0x80u8];
                    let size = if *len == 0x10000 { 0 } else { *len };
                    for (bit, value) in [(0, *from), (4, size)] {
                        for byte in 0..if bit == 0 { 4 } else { 3 } {
                            let b = (value >> (8 * byte)) as u8;
                            if b != 0 {
                                instruction[0] |= 1 << (bit + byte);
                                instruction.push(b);
                            }
                        }
                    }
                    body.extend(instruction);
                    result_len += len;
                }
                Op::Insert(bytes) => {
                    for part in bytes.chunks(0x7f) {
                        body.push(part.len() as u8);
                        body.extend_from_slice(part);
                    }
                    result_len += bytes.len();
                }
            }
        }
        let mut delta = Vec::new();
        for mut size in [base_len, result_len] {
            loop {
                let byte = (size & 0x7f) as u8;
                size >>= 7;
                delta.push(byte | if size > 0 { 0x80 } else { 0 });
                if size == 0 {
                    break;
                }
            }
        }
        delta.extend(body);
        (delta, result_len)
    }

    /// Applies `ops` to plain bytes: what the delta must make.
    fn apply(base: &[u8], ops: &[Op]) -> Vec<u8> {
        let mut out = Vec::new();
        for op in ops {
            match op {
                Op::Copy { from, len } => out.extend_from_slice(&base[*from..from + len]),
                Op::Insert(bytes) => out.extend_from_slice(bytes),
            }
        }
        out
    }

    /// An instruction drawn before the length of its base is known: a copy from anywhere, of
    /// at most `most` bytes, or an insert.
    #[derive(Debug, Clone)]
    enum Draw {
        Copy {
            from: usize,
            take: usize,
            most: usize,
        },
        Insert(Vec<u8>),
    }

    /// Makes `draws` instructions on a base of `len` bytes.
    fn ops(draws: &[Draw], len: usize) -> Vec<Op> {
        let op = |draw: &Draw| match draw {
            Draw::Copy { from, take, most } if len > 0 => {
                let from = from % len;
                Op::Copy {
                    from,
                    len: 1 + take % (len - from).min(*most),
                }
            }
            Draw::Copy { .. } => Op::Insert(b"a".to_vec()),
            Draw::Insert(bytes) => Op::Insert(bytes.clone()),
        };
        draws.iter().map(op).collect()
    }

    fn letters(max: usize) -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(prop_oneof![Just(b'a'), Just(b'b'), Just(b'\n')], 1..max)
    }

    /// `len` letters drawn from `seed`: texts too long to draw byte by byte.
    fn long_letters(seed: u64, len: usize) -> Vec<u8> {
        let mut state = seed | 1;
        (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                b"ab\n"[(state % 3) as usize]
            })
            .collect()
    }

    /// Instructions whose copies are at most `most` bytes long, or as long as the base allows,
    /// and whose inserts are at most 40 bytes long.
    fn draws(most: usize) -> impl Strategy<Value = Vec<Draw>> {
        let draw = prop_oneof![
            (
                any::<usize>(),
                any::<usize>(),
                prop_oneof![Just(most), Just(usize::MAX)]
            )
                .prop_map(|(from, take, most)| Draw::Copy { from, take, most }),
            letters(40).prop_map(Draw::Insert),
        ];
        proptest::collection::vec(draw, 1..8)
    }

    fn naive(data: &[u8], pattern: &[u8]) -> Vec<usize> {
        (0..data.len())
            .filter(|&at| data[at..].starts_with(pattern))
            .collect()
    }

    /// Applies `chain` to `first` as pieces copied below `short` bytes, and as bytes: the texts
    /// read and search as the bytes do.
    fn check_chain(first: Vec<u8>, chain: &[Vec<Draw>], short: usize) -> Result<(), TestCaseError> {
        let mut bytes = first.clone();
        let mut text = Text::whole(first);
        for draws in chain {
            let ops = ops(draws, bytes.len());
            let (delta, _) = encode(bytes.len(), &ops);
            bytes = apply(&bytes, &ops);
            text = text.patch(&delta, &mut Vec::new(), short).unwrap();
            prop_assert_eq!(text.to_vec(), bytes.clone());
            for pattern in [&b"ab"[..], b"\nab", b"a", b"bb\na"] {
                prop_assert_eq!(text.positions(pattern), naive(&bytes, pattern));
            }
        }
        Ok(())
    }

    proptest! {
        /// A chain of deltas applied to pieces gives what applying them to bytes gives, and
        /// searching the pieces finds what searching the bytes finds, across joins included.
        /// Pieces shorter than 2 bytes are copied, so that most joins are searched across.
        #[test]
        fn a_chain_of_deltas_reads_as_the_bytes_it_makes(
            first in letters(200),
            chain in proptest::collection::vec(draws(8), 1..6),
        ) {
            check_chain(first, &chain, 2)?;
        }

        /// The same at the piece size the packs are read with, on texts of up to 24 times
        /// that size, copied both shorter and longer than it.
        #[test]
        fn a_chain_of_deltas_reads_as_the_bytes_it_makes_with_the_packs_pieces(
            (seed, len) in (any::<u64>(), 1..24 * SHORT),
            chain in proptest::collection::vec(draws(2 * SHORT), 1..6),
        ) {
            check_chain(long_letters(seed, len), &chain, SHORT)?;
        }
    }

    #[test]
    fn copies_of_large_ranges_share_the_base() {
        let base: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let ops = [
            Op::Copy {
                from: 0,
                len: 0x10000,
            },
            Op::Copy {
                from: 0x10000,
                len: 0x10000,
            },
            Op::Insert(b"new".to_vec()),
            Op::Copy {
                from: 0x20000,
                len: 200_000 - 0x20000,
            },
        ];
        let (delta, _) = encode(base.len(), &ops);
        let text = Text::whole(base.clone())
            .patch(&delta, &mut Vec::new(), SHORT)
            .unwrap();
        assert_eq!(text.to_vec(), apply(&base, &ops));
        // The two adjacent copies are one piece.
        assert_eq!(text.pieces(), 3);
        let mut middle = Vec::new();
        text.copy_range(0x20000 - 2..0x20000 + 5, &mut middle);
        let around = [&base[0x1fffe..0x20000], b"new", &base[0x20000..0x20002]].concat();
        assert_eq!(middle, around);
    }

    #[test]
    fn corrupt_deltas_are_errors_not_panics() {
        let base = Text::whole(b"hello".to_vec());
        let cases: [(&[u8], DeltaError); 9] = [
            (&[], DeltaError::HeaderCutShort),
            (
                &[
                    5, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
                ],
                DeltaError::SizeTooLong,
            ),
            (
                &[6, 5],
                DeltaError::BaseSize {
                    declared: 6,
                    base: 5,
                },
            ),
            (&[5, 5, 0x91, 3], DeltaError::CopyCutShort { at: 2 }),
            (
                &[5, 5, 0x91, 3, 5],
                DeltaError::CopyBeyondBase {
                    at: 2,
                    offset: 3,
                    size: 5,
                    base: 5,
                },
            ),
            (&[5, 5, 4, b'a'], DeltaError::InsertPastEnd { at: 2 }),
            (&[5, 5, 0], DeltaError::Reserved { at: 2 }),
            (
                &[5, 4, 0x90, 5],
                DeltaError::BeyondResult { at: 2, declared: 4 },
            ),
            (
                &[5, 6, 0x90, 5],
                DeltaError::ShortResult {
                    made: 5,
                    declared: 6,
                },
            ),
        ];
        for (delta, expect) in cases {
            assert_eq!(base.patch(delta, &mut Vec::new(), 2).unwrap_err(), expect);
        }
        assert_eq!(
            base.patch(&[5, 5, 0x90, 5], &mut Vec::new(), 2)
                .unwrap()
                .to_vec(),
            b"hello"
        );
    }

    /// A delta that declares 6 bytes and copies far more stops at the instruction that would
    /// make more than 6, having copied no more than 6.
    #[test]
    fn a_delta_never_makes_more_than_it_declares() {
        let base = Text::whole(vec![b'x'; 100]);
        let mut delta = vec![100, 6, 0x90, 3];
        delta.extend([0x90, 100].repeat(1000));
        let mut scratch = Vec::new();
        let err = base.patch(&delta, &mut scratch, SHORT).unwrap_err();
        assert_eq!(err, DeltaError::BeyondResult { at: 4, declared: 6 });
        assert_eq!(scratch.len(), 3);
        assert_eq!(declared_len(&delta), Ok(6));
    }
}
