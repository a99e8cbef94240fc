//! The kernel log ring buffer behind `printk` and `dmesg`.
//!
//! Records are stored back to back in a fixed byte ring, each as a small
//! header (level, timestamp, length) followed by the text. When a new record
//! does not fit, the oldest records are dropped whole, as Linux's printk
//! ring does; nothing is ever half-overwritten.
//!
//! Every record also has a position: the byte offset at which it was
//! written since boot, which only grows. The console keeps the position of
//! the next record it must print (Linux's `console_seq`) and reads records
//! one at a time with [`LogBuf::read`], so it can print each with the ring's
//! lock dropped; records dropped before it got to them are skipped.

#![forbid(unsafe_code)]

const HEADER: usize = 1 + 8 + 2;

pub struct LogBuf<const N: usize> {
    buf: [u8; N],
    /// Offset of the oldest record.
    head: usize,
    /// Bytes in use.
    used: usize,
    /// Records dropped to make room, over the buffer's life.
    pub dropped: u64,
    /// Position of the oldest record (bytes written before it since boot).
    start_pos: u64,
}

/// One record read back from the ring.
pub struct Record<'a> {
    pub level: u8,
    pub time_us: u64,
    /// The text, which may wrap around the end of the ring: two slices.
    pub text: (&'a [u8], &'a [u8]),
}

impl<const N: usize> LogBuf<N> {
    pub const fn new() -> Self {
        LogBuf { buf: [0; N], head: 0, used: 0, dropped: 0, start_pos: 0 }
    }

    fn byte(&self, off: usize) -> u8 {
        self.buf[(self.head + off) % N]
    }

    fn record_len_at(&self, off: usize) -> usize {
        let len = u16::from_le_bytes([self.byte(off + 9), self.byte(off + 10)]) as usize;
        HEADER + len
    }

    /// Append a record; text longer than the ring allows is cut.
    pub fn push(&mut self, level: u8, time_us: u64, text: &[u8]) {
        let max_text = (N - HEADER).min(u16::MAX as usize);
        let text = &text[..text.len().min(max_text)];
        let need = HEADER + text.len();
        while N - self.used < need {
            let oldest = self.record_len_at(0);
            self.head = (self.head + oldest) % N;
            self.used -= oldest;
            self.start_pos += oldest as u64;
            self.dropped += 1;
        }
        let mut at = (self.head + self.used) % N;
        let len = (text.len() as u16).to_le_bytes();
        let header = [level];
        for &b in header.iter().chain(time_us.to_le_bytes().iter()).chain(len.iter()).chain(text.iter()) {
            self.buf[at] = b;
            at = (at + 1) % N;
        }
        self.used += need;
    }

    /// Every record, oldest first.
    pub fn records(&self) -> Records<'_, N> {
        Records { log: self, off: 0 }
    }

    pub fn clear(&mut self) {
        self.head = (self.head + self.used) % N;
        self.start_pos += self.used as u64;
        self.used = 0;
    }

    /// Position of the oldest record still held.
    pub fn first_pos(&self) -> u64 {
        self.start_pos
    }

    /// Position the next record will get.
    pub fn end_pos(&self) -> u64 {
        self.start_pos + self.used as u64
    }

    /// The record at `pos`, or the oldest one if `pos` was dropped already,
    /// with the position after it; `None` once `pos` reaches the end.
    pub fn read(&self, pos: u64) -> Option<(Record<'_>, u64)> {
        let pos = pos.max(self.start_pos);
        let off = (pos - self.start_pos) as usize;
        let mut records = Records { log: self, off };
        let r = records.next()?;
        Some((r, self.start_pos + records.off as u64))
    }
}

impl<const N: usize> Default for LogBuf<N> {
    fn default() -> Self {
        Self::new()
    }
}

pub struct Records<'a, const N: usize> {
    log: &'a LogBuf<N>,
    off: usize,
}

impl<'a, const N: usize> Iterator for Records<'a, N> {
    type Item = Record<'a>;

    fn next(&mut self) -> Option<Record<'a>> {
        let log = self.log;
        if self.off >= log.used {
            return None;
        }
        let level = log.byte(self.off);
        let mut ts = [0u8; 8];
        for (i, b) in ts.iter_mut().enumerate() {
            *b = log.byte(self.off + 1 + i);
        }
        let total = log.record_len_at(self.off);
        let start = (log.head + self.off + HEADER) % N;
        let len = total - HEADER;
        let text = if start + len <= N {
            (&log.buf[start..start + len], &log.buf[0..0])
        } else {
            (&log.buf[start..], &log.buf[..start + len - N])
        };
        self.off += total;
        Some(Record { level, time_us: u64::from_le_bytes(ts), text })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(r: &Record) -> Vec<u8> {
        let mut v = r.text.0.to_vec();
        v.extend_from_slice(r.text.1);
        v
    }

    #[test]
    fn records_come_back_in_order() {
        let mut log = LogBuf::<256>::new();
        log.push(6, 10, b"first");
        log.push(4, 20, b"second");
        let recs: Vec<_> = log.records().collect();
        assert_eq!(recs.len(), 2);
        assert_eq!((recs[0].level, recs[0].time_us, text(&recs[0])), (6, 10, b"first".to_vec()));
        assert_eq!((recs[1].level, recs[1].time_us, text(&recs[1])), (4, 20, b"second".to_vec()));
    }

    #[test]
    fn full_ring_drops_whole_oldest_records() {
        let mut log = LogBuf::<64>::new();
        for i in 0..20u64 {
            log.push(6, i, format!("message {i}").as_bytes());
        }
        let recs: Vec<_> = log.records().collect();
        assert!(!recs.is_empty());
        // The newest is kept, the sequence is contiguous up to it.
        assert_eq!(text(recs.last().unwrap()), b"message 19".to_vec());
        for w in recs.windows(2) {
            assert_eq!(w[0].time_us + 1, w[1].time_us);
        }
        for r in &recs {
            assert_eq!(text(r), format!("message {}", r.time_us).into_bytes());
        }
        assert_eq!(log.dropped as usize + recs.len(), 20);
    }

    #[test]
    fn read_walks_by_position_and_skips_what_was_dropped() {
        let mut log = LogBuf::<64>::new();
        log.push(6, 1, b"one");
        let pos = log.first_pos();
        log.push(6, 2, b"two");
        let (r, next) = log.read(pos).unwrap();
        assert_eq!((r.time_us, text(&r)), (1, b"one".to_vec()));
        let (r, next) = log.read(next).unwrap();
        assert_eq!(text(&r), b"two".to_vec());
        assert!(log.read(next).is_none() && next == log.end_pos());
        // A reader left behind while the ring wrapped resumes at the oldest.
        for i in 3..20u64 {
            log.push(6, i, format!("message {i}").as_bytes());
        }
        assert!(log.first_pos() > pos);
        let (r, _) = log.read(pos).unwrap();
        assert_eq!(r.time_us, log.records().next().unwrap().time_us);
        log.clear();
        assert!(log.read(0).is_none() && log.first_pos() == log.end_pos());
        log.push(6, 99, b"after clear");
        assert_eq!(text(&log.read(0).unwrap().0), b"after clear".to_vec());
    }

    #[test]
    fn oversized_record_is_cut_to_fit() {
        let mut log = LogBuf::<32>::new();
        log.push(6, 1, &[b'x'; 100]);
        let recs: Vec<_> = log.records().collect();
        assert_eq!(recs.len(), 1);
        assert_eq!(text(&recs[0]).len(), 32 - HEADER);
    }
}
