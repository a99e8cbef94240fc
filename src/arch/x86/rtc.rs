//! The MC146818 real-time clock in the PC's CMOS (Linux's
//! drivers/rtc/rtc-mc146818-lib.c, `mc146818_get_time`): the date and
//! time of day, in whole seconds, kept by the board while the machine is
//! off. The kernel reads it once to know what time it is (`CLOCK_REALTIME`);
//! the PIT counts from there.
//!
//! The registers hold BCD or binary, 12- or 24-hour time, as status
//! register B says; QEMU's clock (`-rtc base=utc`, its default) is UTC, as
//! Linux expects it on a PC with `CONFIG_RTC_HCTOSYS`.

/// One reading of the clock, decoded: the year in full (1970..2069, as
/// Linux reads a two-digit year), month 1..12, day 1..31.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RtcTime {
    pub year: u32,
    pub mon: u32,
    pub day: u32,
    pub hour: u32,
    pub min: u32,
    pub sec: u32,
}

pub const RTC_SECONDS: u8 = 0x00;
pub const RTC_MINUTES: u8 = 0x02;
pub const RTC_HOURS: u8 = 0x04;
pub const RTC_DAY_OF_MONTH: u8 = 0x07;
pub const RTC_MONTH: u8 = 0x08;
pub const RTC_YEAR: u8 = 0x09;
pub const RTC_REG_A: u8 = 0x0a;
pub const RTC_REG_B: u8 = 0x0b;
/// Register A: an update is in progress, the time registers may be torn.
pub const RTC_UIP: u8 = 0x80;
/// Register B: the registers hold binary, not BCD.
pub const RTC_DM_BINARY: u8 = 0x04;
/// Register B: 24-hour time (else 12-hour, bit 7 of the hour for PM).
pub const RTC_24H: u8 = 0x02;

fn bcd2bin(v: u8) -> u32 {
    (v & 0x0f) as u32 + (v >> 4) as u32 * 10
}

/// Decode the raw registers `[sec, min, hour, day, mon, year]` as
/// register B `reg_b` says. `None` when a field is out of range (a clock
/// never set, or a board without one): the caller says so and uses the
/// epoch.
pub fn decode(raw: [u8; 6], reg_b: u8) -> Option<RtcTime> {
    let pm = reg_b & RTC_24H == 0 && raw[2] & 0x80 != 0;
    let mut r = raw;
    r[2] &= if reg_b & RTC_24H == 0 { 0x7f } else { 0xff };
    let v: [u32; 6] = if reg_b & RTC_DM_BINARY != 0 { r.map(|b| b as u32) } else { r.map(bcd2bin) };
    let mut hour = v[2];
    if reg_b & RTC_24H == 0 {
        // 12-hour: 12 AM is 0, 12 PM is 12.
        if !(1..=12).contains(&hour) {
            return None;
        }
        hour = hour % 12 + if pm { 12 } else { 0 };
    }
    let year = if v[5] <= 69 { 2000 + v[5] } else { 1900 + v[5] };
    let t = RtcTime { year, mon: v[4], day: v[3], hour, min: v[1], sec: v[0] };
    let ok =
        v[5] <= 99 && (1..=12).contains(&t.mon) && (1..=31).contains(&t.day) && t.hour < 24 && t.min < 60 && t.sec < 60;
    ok.then_some(t)
}

/// Read the clock: wait out an update in progress and read until two
/// readings agree, so that no field comes from the other side of a
/// second's carry (Linux's `mc146818_get_time` waits for UIP likewise).
/// `None` if it never settles (bounded tries) or holds no valid time.
#[cfg(target_os = "none")]
pub fn read() -> Option<RtcTime> {
    use super::cpu::{inb, local_irq_restore, local_irq_save, outb};
    // Index port 0x70, then data port 0x71 (Linux's CMOS_READ), with
    // interrupts off between them so that nothing moves the index.
    let cmos = |reg: u8| {
        let flags = local_irq_save();
        outb(0x70, reg);
        let v = inb(0x71);
        local_irq_restore(flags);
        v
    };
    let regs = [RTC_SECONDS, RTC_MINUTES, RTC_HOURS, RTC_DAY_OF_MONTH, RTC_MONTH, RTC_YEAR];
    let mut last: Option<[u8; 6]> = None;
    // An update takes under 2 ms; each try is a few port reads.
    for _ in 0..100_000 {
        if cmos(RTC_REG_A) & RTC_UIP != 0 {
            continue;
        }
        let now = regs.map(cmos);
        if last == Some(now) {
            return decode(now, cmos(RTC_REG_B));
        }
        last = Some(now);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bcd_24h() {
        let t = decode([0x59, 0x30, 0x23, 0x31, 0x12, 0x26], RTC_24H).unwrap();
        assert_eq!(t, RtcTime { year: 2026, mon: 12, day: 31, hour: 23, min: 30, sec: 59 });
    }

    #[test]
    fn binary_12h_pm_and_midnight() {
        let t = decode([5, 6, 0x80 | 3, 1, 2, 99], RTC_DM_BINARY).unwrap();
        assert_eq!((t.year, t.hour, t.min, t.sec), (1999, 15, 6, 5));
        assert_eq!(decode([0, 0, 12, 1, 1, 70], RTC_DM_BINARY).unwrap().hour, 0);
        assert_eq!(decode([0, 0, 0x80 | 12, 1, 1, 70], RTC_DM_BINARY).unwrap().hour, 12);
    }

    #[test]
    fn garbage_is_refused() {
        assert_eq!(decode([0x60, 0, 0, 1, 1, 0], RTC_24H), None);
        assert_eq!(decode([0, 0, 0, 1, 0x13, 0], RTC_24H), None);
        assert_eq!(decode([0, 0, 0, 0, 1, 0], RTC_24H), None);
        assert_eq!(decode([0, 0, 0, 1, 1, 0xff], RTC_24H | RTC_DM_BINARY), None);
    }
}
