//! The console tty: bytes from the UART's interrupt wait here until the
//! shell reads them.

use super::sync::IrqLock;
use super::wait::WaitQueue;

const BUF: usize = 1024;

struct Ring {
    buf: [u8; BUF],
    head: usize,
    len: usize,
    overruns: usize,
}

static INPUT: IrqLock<Ring> = IrqLock::new(Ring { buf: [0; BUF], head: 0, len: 0, overruns: 0 });
static READERS: WaitQueue = WaitQueue::new();

/// From the UART interrupt: queue a byte and wake the reader.
pub fn receive(b: u8) {
    {
        let mut r = INPUT.lock();
        if r.len == BUF {
            r.overruns += 1; // reader too slow: drop, as a real tty does
        } else {
            let at = (r.head + r.len) % BUF;
            r.buf[at] = b;
            r.len += 1;
        }
    }
    READERS.wake_up_all();
}

fn pop() -> Option<u8> {
    let mut r = INPUT.lock();
    if r.len == 0 {
        return None;
    }
    let b = r.buf[r.head];
    r.head = (r.head + 1) % BUF;
    r.len -= 1;
    Some(b)
}

/// Block until a byte arrives.
pub fn read_byte() -> u8 {
    loop {
        if let Some(b) = pop() {
            return b;
        }
        READERS.wait_event(|| INPUT.lock().len != 0);
    }
}
