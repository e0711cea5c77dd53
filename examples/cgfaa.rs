use std::hint::black_box;
fn main() {
    let which = std::env::args().nth(1).unwrap();
    let n = 1_000_000u64;
    match which.as_str() {
        "faa" => { let q = cds::FaaQueue::<u64>::new(); let mut h = q.handle(); for i in 0..n { h.push(i); black_box(h.pop()); } }
        "faa_op" => { let q = cds::FaaQueue::<u64>::new(); for i in 0..n { q.push(i); black_box(q.pop()); } }
        "faa_hz" => { let q = cds::FaaQueue::<u64, cds::reclaim::Hazard>::with_reclaimer(Default::default()); let mut h = q.handle(); for i in 0..n { h.push(i); black_box(h.pop()); } }
        "ms" => { let q = cds::MsQueue::<u64>::new(); let mut h = q.handle(); for i in 0..n { h.push(i); black_box(h.pop()); } }
        "seg" => { let q = crossbeam_queue::SegQueue::<u64>::new(); for i in 0..n { q.push(i); black_box(q.pop()); } }
        _ => {}
    }
}
