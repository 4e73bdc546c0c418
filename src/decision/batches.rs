//! Cutting the invites into SNS `PublishBatch` calls: at most 10 entries and 256 KiB a call.

/// Entries SNS accepts in one `PublishBatch`.
pub const MAX_ENTRIES: usize = 10;
/// Bytes SNS accepts in one message and in one whole batch.
pub const MAX_BYTES: usize = 256 * 1024;

/// One message to publish, with the index of its invite in the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Position of the invite in `Plan::invites`.
    pub index: usize,
    /// The SNS message body.
    pub message: String,
}

/// Groups messages, in order, into batches that respect both SNS limits.
///
/// A message larger than [`MAX_BYTES`] can never be published; it comes out alone as
/// [`Batch::TooLarge`] so the caller reports it instead of sending it.
pub struct Batches<I: Iterator<Item = Entry>> {
    entries: std::iter::Peekable<I>,
}

/// What [`Batches`] yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Batch {
    /// Entries to send in one `PublishBatch` call.
    Send(Vec<Entry>),
    /// One message too large for SNS.
    TooLarge(Entry),
}

impl<I: Iterator<Item = Entry>> Batches<I> {
    /// Wraps an iterator of entries; nothing is built before it is asked for.
    pub fn new(entries: I) -> Self {
        Self {
            entries: entries.peekable(),
        }
    }
}

impl<I: Iterator<Item = Entry>> Iterator for Batches<I> {
    type Item = Batch;

    fn next(&mut self) -> Option<Batch> {
        let first = self.entries.next()?;
        if first.message.len() > MAX_BYTES {
            return Some(Batch::TooLarge(first));
        }
        let mut bytes = first.message.len();
        let mut batch = vec![first];
        while batch.len() < MAX_ENTRIES {
            match self.entries.peek() {
                Some(next)
                    if next.message.len() <= MAX_BYTES
                        && bytes + next.message.len() <= MAX_BYTES =>
                {
                    bytes += next.message.len();
                    batch.extend(self.entries.next());
                }
                _ => break,
            }
        }
        Some(Batch::Send(batch))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(sizes: &[usize]) -> Vec<Entry> {
        sizes
            .iter()
            .enumerate()
            .map(|(index, &size)| Entry {
                index,
                message: "x".repeat(size),
            })
            .collect()
    }

    fn shape(sizes: &[usize]) -> Vec<Result<Vec<usize>, usize>> {
        Batches::new(entries(sizes).into_iter())
            .map(|batch| match batch {
                Batch::Send(entries) => Ok(entries.iter().map(|e| e.index).collect()),
                Batch::TooLarge(entry) => Err(entry.index),
            })
            .collect()
    }

    #[test]
    fn ten_entries_a_batch() {
        let got = shape(&[10; 23]);
        let lens: Vec<_> = got.iter().map(|b| b.as_ref().unwrap().len()).collect();
        assert_eq!(lens, [10, 10, 3]);
    }

    #[test]
    fn total_bytes_stay_under_the_limit() {
        let big = 100 * 1024;
        assert_eq!(
            shape(&[big, big, big, 10]),
            vec![Ok(vec![0, 1]), Ok(vec![2, 3])]
        );
        assert_eq!(shape(&[MAX_BYTES, 1]), vec![Ok(vec![0]), Ok(vec![1])]);
    }

    #[test]
    fn oversized_message_comes_out_alone() {
        assert_eq!(
            shape(&[5, MAX_BYTES + 1, 5]),
            vec![Ok(vec![0]), Err(1), Ok(vec![2])]
        );
    }

    #[test]
    fn nothing_in_nothing_out() {
        assert!(shape(&[]).is_empty());
    }
}
