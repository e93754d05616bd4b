//! The posts' order, visibility and search index, so that no page walks
//! posts it does not return.
//!
//! Ids are cut into blocks of 65,536; each block holds roaring bitmaps of
//! its live ids, its published ids, each owner's drafts, and every n-gram
//! (1 to 4 characters of the folded title, see [`fold_title`]) with the
//! ids whose title holds it. A page walks the blocks from the cursor down:
//! per block, the bitmaps of the term's n-grams and of what the viewer may
//! see are intersected (one container each, so a few microseconds), and
//! only the ids left are looked at. A term of at most 3 characters is one
//! n-gram and its bitmap is exact; a longer one is its 4-grams (hashed),
//! and each id left is verified against the title.
//!
//! The one shape that stays linear: a term of 5 characters or more whose
//! every 4-gram is common while the term itself is rare, because titles
//! hold its 4-grams apart ("qrst" and "rstu" but not "qrstu"). Every title
//! holding all of them is then verified (README, Performance).
//!
//! The index is changed only under its write lock, together with the post
//! (see `posts.rs`), so a reader holding the read lock sees bitmaps that
//! agree with the titles and flags.

use std::borrow::Cow;
use std::collections::HashMap;

use roaring::RoaringBitmap;

use crate::domain::policy::Visibility;
use crate::domain::{Search, UserId, fold_title};

/// Ids per block (as a power of two): one roaring container, so a block's
/// set operations are bounded whatever the data.
const BLOCK_BITS: u32 = 16;

/// Once a search has this few candidates left in a block, verifying them
/// is cheaper than intersecting more n-grams.
const FEW_CANDIDATES: u64 = 16;

/// An n-gram as a key. 1 to 3 characters are exact: each character plus
/// one in its own 21 bits, so no two share a key and the top bit is clear.
/// 4 characters are hashed into keys with the top bit set: two may share
/// a key, which only adds ids to verify.
type Gram = u64;

fn gram(chars: &[char]) -> Gram {
    let packed = |chars: &[char]| -> u64 {
        chars
            .iter()
            .enumerate()
            .fold(0, |key, (i, &c)| key | (u64::from(c) + 1) << (21 * i))
    };
    match chars {
        [head @ .., last] if chars.len() == 4 => {
            let mixed = packed(head) ^ (u64::from(*last) + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            mixed | 1 << 63
        }
        _ => packed(chars),
    }
}

/// Every distinct n-gram of 1 to 4 characters of a title, folded.
pub(super) fn title_grams(title: &str) -> Vec<Gram> {
    let chars: Vec<char> = fold_title(title).chars().collect();
    let mut grams: Vec<Gram> = (1..=4).flat_map(|n| chars.windows(n).map(gram)).collect();
    grams.sort_unstable();
    grams.dedup();
    grams
}

/// What a search looks up: the n-grams every match holds, and whether
/// holding them is matching (a term of at most 3 characters).
pub(super) struct Query {
    grams: Vec<Gram>,
    exact: bool,
}

impl Query {
    /// The n-grams of a search term, folded as titles are.
    pub(super) fn new(search: &Search) -> Self {
        let chars: Vec<char> = fold_title(search.as_str()).chars().collect();
        if chars.len() <= 3 {
            return Self {
                grams: vec![gram(&chars)],
                exact: true,
            };
        }
        let mut grams: Vec<Gram> = chars.windows(4).map(gram).collect();
        grams.sort_unstable();
        grams.dedup();
        Self {
            grams,
            exact: false,
        }
    }

    /// Whether the ids the index gives still need checking against the title.
    pub(super) fn needs_check(&self) -> bool {
        !self.exact
    }
}

/// One block's bitmaps.
#[derive(Default)]
struct Block {
    live: RoaringBitmap,
    published: RoaringBitmap,
    /// Drafts by owner id.
    drafts: HashMap<i64, RoaringBitmap>,
    grams: HashMap<Gram, RoaringBitmap>,
}

/// What the index needs to know of a post.
pub(super) struct Entry<'a> {
    /// The owner, for the drafts' bitmaps.
    pub owner: UserId,
    /// Published or draft.
    pub published: bool,
    /// From [`title_grams`].
    pub grams: &'a [Gram],
}

/// The posts' index: see the module doc.
pub(super) struct PostIndex {
    /// [`BLOCK_BITS`], smaller in tests so that a few posts span blocks.
    block_bits: u32,
    blocks: Vec<Block>,
}

impl Default for PostIndex {
    fn default() -> Self {
        Self::with_block_bits(BLOCK_BITS)
    }
}

/// The exclusive upper bound of the ids the index can hold.
pub(super) const ID_END: u64 = 1 << 32;

/// Where a walk of one block stopped.
pub(super) enum Walked {
    /// The block below `upper` is done; go on below this bound.
    Below(u64),
    /// The wanted ids were found.
    Full,
}

impl PostIndex {
    /// An empty index of blocks of `2^bits` ids (at most [`BLOCK_BITS`]).
    pub(super) fn with_block_bits(bits: u32) -> Self {
        Self {
            block_bits: bits.min(BLOCK_BITS),
            blocks: Vec::new(),
        }
    }

    /// Adds post `id`.
    pub(super) fn insert(&mut self, id: u32, entry: &Entry<'_>) {
        let b = (id >> self.block_bits) as usize;
        if self.blocks.len() <= b {
            self.blocks.resize_with(b + 1, Block::default);
        }
        let block = &mut self.blocks[b];
        block.live.insert(id);
        if entry.published {
            block.published.insert(id);
        } else {
            block
                .drafts
                .entry(entry.owner.get())
                .or_default()
                .insert(id);
        }
        for &g in entry.grams {
            block.grams.entry(g).or_default().insert(id);
        }
    }

    /// Removes post `id`, as it was inserted; empty bitmaps are dropped so
    /// that churn does not grow the index.
    pub(super) fn remove(&mut self, id: u32, entry: &Entry<'_>) {
        let Some(block) = self.blocks.get_mut((id >> self.block_bits) as usize) else {
            return;
        };
        block.live.remove(id);
        if entry.published {
            block.published.remove(id);
        } else {
            remove_from(&mut block.drafts, entry.owner.get(), id);
        }
        for &g in entry.grams {
            remove_from(&mut block.grams, g, id);
        }
    }

    /// Changes post `id` from `old` to `new`, touching only what differs.
    pub(super) fn replace(&mut self, id: u32, old: &Entry<'_>, new: &Entry<'_>) {
        let gone: Vec<Gram> = difference(old.grams, new.grams);
        let added: Vec<Gram> = difference(new.grams, old.grams);
        self.remove(
            id,
            &Entry {
                grams: &gone,
                ..*old
            },
        );
        self.insert(
            id,
            &Entry {
                grams: &added,
                ..*new
            },
        );
    }

    /// The first block to walk for ids below `upper`, if any.
    pub(super) fn top_block(&self, upper: u64) -> Option<usize> {
        let last = usize::try_from(upper.checked_sub(1)? >> self.block_bits).ok()?;
        self.blocks.len().checked_sub(1).map(|top| top.min(last))
    }

    /// Appends to `out`, newest first, the ids below `upper` in its block
    /// that `visibility` allows and `query` matches, once `skip` of them
    /// have been passed over (counting it down), until `out` holds `want`.
    /// `check` verifies an id against its title when the query needs it.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn walk_block(
        &self,
        upper: u64,
        visibility: Visibility,
        query: Option<&Query>,
        skip: &mut usize,
        want: usize,
        out: &mut Vec<i64>,
        mut check: impl FnMut(u32) -> bool,
    ) -> Walked {
        let Some(b) = self.top_block(upper) else {
            return Walked::Below(0);
        };
        let start = (b as u64) << self.block_bits;
        let below = Walked::Below(start);
        let block = &self.blocks[b];
        let candidates = match query {
            None => block.visible(visibility),
            Some(query) => match block.matching(query, visibility) {
                Some(c) => Cow::Owned(c),
                None => return below,
            },
        };
        // Ids are below 2^32, so `upper` past them is no bound.
        let end = upper.min(ID_END);
        let range = (start as u32)..=((end - 1) as u32);
        let mut ids = candidates.range(range.clone()).rev();
        if query.is_none_or(|q| !q.needs_check()) {
            // Exact: skip by counting, not by walking.
            let count = usize::try_from(candidates.range_cardinality(range)).unwrap_or(usize::MAX);
            if count <= *skip {
                *skip -= count;
                return below;
            }
            // A block holds only its own ids, so the ones in range are the
            // lowest `count`: the newest left after skipping is found by
            // position.
            if let Some(first) = u32::try_from(count - 1 - *skip)
                .ok()
                .and_then(|n| candidates.select(n))
            {
                ids = candidates.range(start as u32..=first).rev();
            }
            *skip = 0;
            for id in ids {
                out.push(i64::from(id));
                if out.len() == want {
                    return Walked::Full;
                }
            }
            return below;
        }
        for id in ids {
            if !check(id) {
                continue;
            }
            if *skip > 0 {
                *skip -= 1;
                continue;
            }
            out.push(i64::from(id));
            if out.len() == want {
                return Walked::Full;
            }
        }
        below
    }
}

impl Block {
    /// The ids `visibility` allows, borrowed where no union is needed.
    fn visible(&self, visibility: Visibility) -> Cow<'_, RoaringBitmap> {
        match visibility {
            Visibility::Everything => Cow::Borrowed(&self.live),
            Visibility::PublishedOrOwnedBy(viewer) => match self.drafts.get(&viewer.get()) {
                None => Cow::Borrowed(&self.published),
                Some(own) => Cow::Owned(&self.published | own),
            },
        }
    }

    /// The visible ids holding every n-gram of `query` (all of them, or
    /// enough to leave few to verify); `None` if an n-gram is absent.
    /// The rarest n-gram is cut to what the viewer sees first, part by
    /// part, so no union of whole visibility bitmaps is built.
    fn matching(&self, query: &Query, visibility: Visibility) -> Option<RoaringBitmap> {
        let mut lists = query
            .grams
            .iter()
            .map(|g| self.grams.get(g))
            .collect::<Option<Vec<_>>>()?;
        lists.sort_unstable_by_key(|l| l.len());
        let rarest = lists[0];
        let mut candidates = match visibility {
            // N-gram bitmaps hold only live ids.
            Visibility::Everything => rarest.clone(),
            Visibility::PublishedOrOwnedBy(viewer) => {
                // Checking first builds no bitmap when the viewer sees none
                // of them (a search among others' drafts).
                let mut seen = RoaringBitmap::new();
                if !rarest.is_disjoint(&self.published) {
                    seen = rarest & &self.published;
                }
                if let Some(own) = self.drafts.get(&viewer.get()) {
                    seen |= rarest & own;
                }
                seen
            }
        };
        for list in &lists[1..] {
            if candidates.len() <= FEW_CANDIDATES {
                break;
            }
            candidates &= *list;
        }
        Some(candidates)
    }
}

/// Takes `id` from the bitmap under `key`, dropping the bitmap once empty.
fn remove_from<K: std::hash::Hash + Eq>(map: &mut HashMap<K, RoaringBitmap>, key: K, id: u32) {
    if let Some(bits) = map.get_mut(&key) {
        bits.remove(id);
        if bits.is_empty() {
            map.remove(&key);
        }
    }
}

/// The sorted `a` without the sorted `b`.
fn difference(a: &[Gram], b: &[Gram]) -> Vec<Gram> {
    a.iter()
        .filter(|g| b.binary_search(g).is_err())
        .copied()
        .collect()
}
