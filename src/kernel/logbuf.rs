//! The kernel log ring buffer behind `printk` and `dmesg`.
//!
//! Records are stored back to back in a fixed byte ring, each as a small
//! header (level, timestamp, length) followed by the text. When a new record
//! does not fit, the oldest records are dropped whole, as Linux's printk
//! ring does; nothing is ever half-overwritten.

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
        LogBuf { buf: [0; N], head: 0, used: 0, dropped: 0 }
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
        self.head = 0;
        self.used = 0;
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
    fn oversized_record_is_cut_to_fit() {
        let mut log = LogBuf::<32>::new();
        log.push(6, 1, &[b'x'; 100]);
        let recs: Vec<_> = log.records().collect();
        assert_eq!(recs.len(), 1);
        assert_eq!(text(&recs[0]).len(), 32 - HEADER);
    }
}
