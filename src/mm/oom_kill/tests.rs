use super::*;
use crate::mm::gfp::{GFP_ATOMIC, GFP_HIGHUSER_MOVABLE, GFP_KERNEL};
use proptest::prelude::*;

fn mm(rss: usize, pgtables_bytes: usize, swapents: usize) -> Option<OomMm> {
    Some(OomMm { total_vm: Some(rss + 40), anon_rss: rss, file_rss: 0, shmem_rss: 0, swapents, pgtables_bytes })
}

fn task(pid: u32, rss: usize, adj: i16) -> OomTask<'static> {
    OomTask {
        pid,
        uid: 0,
        comm: "hog",
        mm: mm(rss, 4096 * (rss / 1024 + 1), 0),
        oom_score_adj: adj,
        oom_victim: false,
        exited: false,
    }
}

/// The figures of oom.txt's first report (i386 Linux 6.1, -m 2G, no swap):
/// totalpages is MemTotal's pages there (managed: 15360 + 844868 +
/// 1200008 kB).
const TOTALPAGES: u64 = (15360 + 844868 + 1200008) / 4;

#[test]
fn badness_is_rss_swap_and_tables_plus_adj_thousandths() {
    let small = OomTask {
        pid: 658,
        uid: 0,
        comm: "hog",
        mm: mm(65538, 274432, 0),
        oom_score_adj: 1000,
        oom_victim: false,
        exited: false,
    };
    let big = OomTask { pid: 674, mm: mm(422070, 1699840, 0), oom_score_adj: 0, ..small };
    // 65538 + 274432/4096 + 1000 * (515059 / 1000)
    assert_eq!(oom_badness(&small, TOTALPAGES), Some(65538 + 67 + 1000 * 515));
    assert_eq!(oom_badness(&big, TOTALPAGES), Some(422070 + 415));
    // As on Linux, the small hog at 1000 is chosen over the big one at 0.
    assert_eq!(select_bad_process([small, big], TOTALPAGES), Chosen::Victim { pid: 658, points: 65538 + 67 + 515000 });
    let with_swap = OomTask { mm: mm(10, 0, 30), ..big };
    assert_eq!(oom_badness(&with_swap, TOTALPAGES), Some(40), "swap entries count as resident pages");
}

#[test]
fn min_adj_and_zombies_are_never_scored_or_chosen() {
    let protected = task(5, 1 << 20, OOM_SCORE_ADJ_MIN);
    assert_eq!(oom_badness(&protected, TOTALPAGES), None);
    let zombie = OomTask { mm: None, ..task(6, 0, 1000) };
    assert_eq!(oom_badness(&zombie, TOTALPAGES), None);
    assert_eq!(select_bad_process([protected, zombie], TOTALPAGES), Chosen::Nothing);
    assert_eq!(select_bad_process([], TOTALPAGES), Chosen::Nothing);
    // A negative score is still a candidate (Linux 6.1 starts at LONG_MIN).
    let shy = task(7, 10, -999);
    assert_eq!(select_bad_process([protected, shy], TOTALPAGES), Chosen::Victim { pid: 7, points: 10 + 1 - 999 * 515 });
}

#[test]
fn ties_go_to_the_later_task_and_a_dying_victim_aborts() {
    let a = task(10, 1000, 0);
    let b = task(11, 1000, 0);
    assert_eq!(select_bad_process([a, b], TOTALPAGES), Chosen::Victim { pid: 11, points: 1001 });
    let dying = OomTask { oom_victim: true, ..task(12, 5, 0) };
    assert_eq!(select_bad_process([a, dying, b], TOTALPAGES), Chosen::Abort);
    // A victim whose mm is gone but who has not finished exiting may
    // still be freeing: wait. Once it has exited, no reason to.
    let exiting = OomTask { mm: None, ..dying };
    assert_eq!(select_bad_process([a, exiting, b], TOTALPAGES), Chosen::Abort);
    let gone = OomTask { mm: None, exited: true, ..dying };
    assert_eq!(select_bad_process([a, gone, b], TOTALPAGES), Chosen::Victim { pid: 11, points: 1001 });
}

#[test]
fn proc_oom_score_is_linux_6_1s() {
    // A process with almost nothing resident reads 666 on Linux 6.1.
    assert_eq!(proc_oom_score(oom_badness(&task(1, 0, 0), TOTALPAGES), TOTALPAGES), 666);
    assert_eq!(proc_oom_score(None, TOTALPAGES), 0);
    // All of memory at +1000: (1000 + 2000) * 2/3.
    let all = TOTALPAGES as i64 * 2;
    assert_eq!(proc_oom_score(Some(all), TOTALPAGES), 2000);
    // adj -999 and nothing resident: (1000 - 998) * 2 / 3 = 1.
    assert_eq!(
        proc_oom_score(oom_badness(&OomTask { mm: mm(0, 0, 0), ..task(1, 0, -999) }, TOTALPAGES), TOTALPAGES),
        1
    );
}

#[test]
fn policy_follows_the_knobs() {
    let me = task(3, 100, 0);
    assert_eq!(oom_policy(Some((&me, true)), 1, 1), Policy::CurrentDying);
    assert_eq!(oom_policy(Some((&me, false)), 1, 0), Policy::Panic("system-wide"));
    assert_eq!(oom_policy(None, 2, 0), Policy::Panic("compulsory"));
    assert_eq!(oom_policy(Some((&me, false)), 0, 1), Policy::KillCurrent);
    let protected = task(3, 100, OOM_SCORE_ADJ_MIN);
    assert_eq!(oom_policy(Some((&protected, false)), 0, 1), Policy::Select);
    assert_eq!(oom_policy(None, 0, 1), Policy::Select, "a kernel thread is not killed");
    assert_eq!(oom_policy(Some((&me, false)), 0, 0), Policy::Select);
}

#[test]
fn only_small_sleeping_retrying_allocations_kill() {
    assert!(oom_allowed(GFP_KERNEL, 0) && oom_allowed(GFP_HIGHUSER_MOVABLE, 3));
    assert!(oom_allowed(GFP_KERNEL | Gfp::NOFAIL, 0));
    assert!(!oom_allowed(GFP_KERNEL, 4), "costly orders fail instead");
    assert!(!oom_allowed(GFP_ATOMIC, 0), "cannot sleep");
    assert!(!oom_allowed(GFP_KERNEL | Gfp::NORETRY, 0));
}

#[test]
fn gfp_masks_print_as_linux_6_1() {
    use linux_gfp as l;
    assert_eq!(linux_gfp_bits(GFP_HIGHUSER_MOVABLE), 0x100cca);
    assert_eq!(format!("{}", GfpMask(0x140dca)), "0x140dca(GFP_HIGHUSER_MOVABLE|__GFP_COMP|__GFP_ZERO)");
    assert_eq!(
        format!("{}", GfpMask(linux_gfp_bits(GFP_HIGHUSER_MOVABLE | Gfp::ZERO))),
        "0x100dca(GFP_HIGHUSER_MOVABLE|__GFP_ZERO)"
    );
    assert_eq!(format!("{}", GfpMask(linux_gfp_bits(GFP_KERNEL))), "0xcc0(GFP_KERNEL)");
    assert_eq!(format!("{}", GfpMask(linux_gfp_bits(GFP_KERNEL | Gfp::NOFAIL))), "0x8cc0(GFP_KERNEL|__GFP_NOFAIL)");
    assert_eq!(format!("{}", GfpMask(linux_gfp_bits(GFP_ATOMIC))), "0x20(__GFP_HIGH)");
    assert_eq!(format!("{}", GfpMask(l::GFP_ATOMIC)), "0xa20(GFP_ATOMIC)");
    assert_eq!(format!("{}", GfpMask(0)), "0x0()");
    assert_eq!(format!("{}", GfpMask(0x1000_0000 | l::IO)), "0x10000040(__GFP_IO|0x10000000)");
}

/// Lines of oom.txt, without their timestamps.
#[test]
fn report_lines_match_oom_txt() {
    let line = InvokedLine { comm: "hog", gfp: GFP_HIGHUSER_MOVABLE | Gfp::ZERO, order: 0, oom_score_adj: 0 };
    assert_eq!(
        format!("{}", line),
        "hog invoked oom-killer: gfp_mask=0x100dca(GFP_HIGHUSER_MOVABLE|__GFP_ZERO), order=0, oom_score_adj=0"
    );
    let small = OomTask {
        pid: 658,
        uid: 0,
        comm: "hog",
        mm: Some(OomMm {
            total_vm: Some(65578),
            anon_rss: 65536,
            file_rss: 0,
            shmem_rss: 2,
            swapents: 0,
            pgtables_bytes: 274432,
        }),
        oom_score_adj: 1000,
        oom_victim: false,
        exited: false,
    };
    let big = OomTask {
        pid: 674,
        mm: Some(OomMm {
            total_vm: Some(422186),
            anon_rss: 422070,
            file_rss: 0,
            shmem_rss: 0,
            swapents: 0,
            pgtables_bytes: 1699840,
        }),
        oom_score_adj: 0,
        ..small
    };
    let mut s = String::new();
    writeln!(s, "{}", TASKS_HEADER).unwrap();
    write_task_row(&mut s, &small).unwrap();
    write_task_row(&mut s, &big).unwrap();
    write_task_row(&mut s, &OomTask { mm: None, ..big }).unwrap();
    let mut busy = String::new();
    let locked = OomMm { total_vm: None, ..big.mm.unwrap() };
    write_task_row(&mut busy, &OomTask { mm: Some(locked), ..big }).unwrap();
    assert_eq!(busy, "[    674]     0   674        ?   422070  1699840        0             0 hog\n");
    write_oom_summary(&mut s, &small).unwrap();
    let killed = OomTask {
        mm: Some(OomMm {
            total_vm: Some(65578),
            anon_rss: 65536,
            file_rss: 0,
            shmem_rss: 2,
            swapents: 0,
            pgtables_bytes: 274432,
        }),
        ..small
    };
    write_killed(&mut s, "Out of memory", &killed).unwrap();
    assert_eq!(
        s,
        "[  pid  ]   uid  tgid total_vm      rss pgtables_bytes swapents oom_score_adj name\n\
         [    658]     0   658    65578    65538   274432        0          1000 hog\n\
         [    674]     0   674   422186   422070  1699840        0             0 hog\n\
         oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0,global_oom,task_memcg=/,task=hog,pid=658,uid=0\n\
         Out of memory: Killed process 658 (hog) total-vm:262312kB, anon-rss:262144kB, file-rss:0kB, shmem-rss:8kB, UID:0 pgtables:268kB oom_score_adj:1000\n"
    );
}

use core::fmt::Write;

proptest! {
    /// The chosen task scores at least as much as every other candidate,
    /// is never at -1000 and never a zombie, and the later of equals wins.
    #[test]
    fn the_chosen_scores_highest(tasks in proptest::collection::vec((0usize..5000, -1000i16..=1000, any::<bool>()), 0..12),
                                  totalpages in 1u64..2_000_000) {
        let list: Vec<OomTask<'static>> = tasks
            .iter()
            .enumerate()
            .map(|(i, &(rss, adj, zombie))| OomTask { mm: if zombie { None } else { mm(rss, 0, 0) }, ..task(i as u32 + 1, rss, adj) })
            .collect();
        let scores: Vec<Option<i64>> = list.iter().map(|t| oom_badness(t, totalpages)).collect();
        match select_bad_process(list.iter().copied(), totalpages) {
            Chosen::Victim { pid, points } => {
                let i = pid as usize - 1;
                prop_assert_eq!(scores[i], Some(points));
                prop_assert!(list[i].oom_score_adj != OOM_SCORE_ADJ_MIN && list[i].mm.is_some());
                for (j, s) in scores.iter().enumerate() {
                    if let Some(s) = s {
                        prop_assert!(*s <= points);
                        prop_assert!(!(j > i && *s == points), "a later equal should have won");
                    }
                }
            }
            Chosen::Nothing => prop_assert!(scores.iter().all(|s| s.is_none())),
            Chosen::Abort => prop_assert!(false, "no victim was marked"),
        }
    }

    /// oom_score stays in Linux's [0, 2000] for every adj and rss that fits in memory.
    #[test]
    fn oom_score_in_range(rss in 0u64..1_000_000, adj in -999i16..=1000, extra in 0u64..1_000_000) {
        let total = rss + extra + 1;
        let t = OomTask { mm: mm(rss as usize, 0, 0), ..task(1, 0, adj) };
        let s = proc_oom_score(oom_badness(&t, total), total);
        prop_assert!(s <= 2000);
    }
}
